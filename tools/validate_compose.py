#!/usr/bin/python3
"""Validates compose.yaml against the Compose Specification's JSON Schema, checks the fleet's own rules
(the four workers from one build, scalable, shared volumes, health checks), and that the Dockerfile runs the
README's build steps.   usage: validate_compose.py REPO_ROOT SCHEMA_JSON
Prints one line per problem and exits 1 if there is any; prints 'compose: ok' otherwise."""
import json
import re
import sys

import jsonschema
import yaml

WORKERS = {"ingest": "ingest", "seg-worker": "seg-worker", "cls-worker": "cls-worker", "reporter": "reporter"}


def compose_problems(compose, schema):
    problems = [f"schema: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
    services = compose.get("services", {})
    for name in ("rabbitmq", "postgres"):
        if "healthcheck" not in services.get(name, {}):
            problems.append(f"service {name}: missing or without a healthcheck")
    builds = set()
    for name, program in WORKERS.items():
        service = services.get(name)
        if service is None:
            problems.append(f"service {name}: missing")
            continue
        builds.add(json.dumps(service.get("build"), sort_keys=True))
        command = service.get("command") or []
        if not command or command[0] != program or "work" not in command:
            problems.append(f"service {name}: command should run '{program} work', not {command}")
        # --scale needs containers that can multiply: no fixed names, no published host ports.
        for key in ("container_name", "ports"):
            if key in service:
                problems.append(f"service {name}: '{key}' prevents docker compose --scale")
        mounts = {str(v).split(":")[0] for v in service.get("volumes", [])}
        for volume in ("store", "models"):
            if volume not in mounts:
                problems.append(f"service {name}: volume '{volume}' is not mounted")
        environment = service.get("environment", {})
        for variable in ("MGMT_AMQP_URL", "MGMT_STORE", "MGMT_MODELS"):
            if variable not in environment:
                problems.append(f"service {name}: {variable} is not set")
        if "depends_on" not in service or "rabbitmq" not in service["depends_on"]:
            problems.append(f"service {name}: does not wait for rabbitmq")
    if len(builds) != 1 or builds == {"null"}:
        problems.append("the four workers must be built from the same Dockerfile")
    if "MGMT_PG_CONNINFO" not in services.get("reporter", {}).get("environment", {}):
        problems.append("service reporter: MGMT_PG_CONNINFO is not set")
    return problems


def build_step_problems(readme, dockerfile):
    match = re.search(r"<!-- build-steps -->\s*```(?:sh|bash)?\n(.*?)```", readme, re.S)
    if not match:
        return ["README: no build-steps block (<!-- build-steps --> followed by a code block)"]
    steps = [line.strip() for line in match.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]
    runs = [line[len("RUN "):].strip() for line in dockerfile.splitlines() if line.startswith("RUN ")]
    problems = [f"Dockerfile: no 'RUN {step}' (a README build step)" for step in steps if step not in runs]
    positions = [runs.index(step) for step in steps if step in runs]
    if positions != sorted(positions):
        problems.append("Dockerfile: the README's build steps are not in the README's order")
    return problems


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    root, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    with open(f"{root}/compose.yaml") as f:
        compose = yaml.safe_load(f)
    with open(f"{root}/README.md") as f:
        readme = f.read()
    with open(f"{root}/Dockerfile") as f:
        dockerfile = f.read()
    problems = compose_problems(compose, schema) + build_step_problems(readme, dockerfile)
    for problem in problems:
        print(problem)
    if not problems:
        print("compose: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
