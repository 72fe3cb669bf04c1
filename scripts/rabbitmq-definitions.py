#!/usr/bin/python3
"""Prints RabbitMQ definitions: the topology (exchanges, quorum queues with their dead-letter queues, bindings) and
users, permissions, topic permissions giving each fleet role only what it needs; the passwords come from
SECRETS_DIR/amqp-<user>.password. Names follow MGMT_EXCHANGE and MGMT_QUEUE_*, the delivery limit
MGMT_DELIVERY_LIMIT, like the workers' own declarations (Fleet's `Topology`). The topology is declared here, by
the operator, so that no role needs configure permission (a queue with a dead-letter exchange would also need
write on that exchange, which only the broker should have); workers find it with a passive declare.
Used by scripts/servers.sh (rabbitmqctl import_definitions) and scripts/compose-secrets.sh (loaded by the broker
container at boot).
usage: rabbitmq-definitions.py SECRETS_DIR

The matrix (README, "Users and permissions"):
  user           publishes with key (topic write, work exchange)   consumes
  mgmt-enqueue   studies                                           nothing; declares nothing (the scanner side)
  mgmt-ingest    studies*, segment, classify3d, report.ingest      studies
  mgmt-segment   segment*, classify, report.segment                segment
  mgmt-classify  classify*, report.classify                        classify
  mgmt-classify3d classify3d*, report.classify3d                   classify3d (the 3D classifier: cls-worker --model resnet3d)
  mgmt-report    deliver (done studies)                            report and every <queue>.dead
  mgmt-deliver   deliver*, report.deliver                          deliver (the DICOM edge's `ingest deliver`)
  mgmt-admin     everything (tests and operators' tools)
Status events go to the report queue under the publishing stage's own key (report.<stage>, bound to the report
queue), so the broker refuses a forged `classified` from any user but mgmt-classify, and the reporter believes a
status only under its stage's key. * A worker may write the key of the queue it consumes: a graceful stop hands
its unfinished job back as a copy with the key it came with.
Publishing needs write on the exchange, narrowed per routing key by the topic permission (the work exchange is a
topic exchange for this reason); write on a queue only allows binding it, and binding needs read on the exchange.
Nobody may write to the dead-letter exchange: only the broker dead-letters."""
import base64
import hashlib
import json
import os
import re
import sys


def alternatives(*names):
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def password_hash(password):
    # rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password)), 4 random salt bytes.
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def topology_definitions(exchange, queues, report, reports, env):
    """What every worker declares at start (Fleet/Worker.swift `Topology`, Broker's `declare`): the topic work
    exchange, the direct dead-letter exchange, per queue a quorum queue dead-lettering to <queue>.dead with the
    delivery limit, bound with its own name (the report queue: every stage's report key)."""
    limit = int(env.get("MGMT_DELIVERY_LIMIT") or 5)
    dead_exchange = exchange + ".dead"

    def exchange_definition(name, kind):
        return {"name": name, "vhost": "/", "type": kind, "durable": True, "auto_delete": False,
                "internal": False, "arguments": {}}

    def queue_definition(name, arguments):
        return {"name": name, "vhost": "/", "durable": True, "auto_delete": False,
                "arguments": {"x-queue-type": "quorum", **arguments}}

    def binding(source, queue, key):
        return {"source": source, "vhost": "/", "destination": queue, "destination_type": "queue",
                "routing_key": key, "arguments": {}}

    declared, bindings = [], []
    for queue in queues:
        declared.append(queue_definition(queue + ".dead", {}))
        bindings.append(binding(dead_exchange, queue + ".dead", queue))
        declared.append(queue_definition(queue, {"x-dead-letter-exchange": dead_exchange,
                                                 "x-dead-letter-routing-key": queue, "x-delivery-limit": limit}))
        for key in (reports.values() if queue == report else [queue]):
            bindings.append(binding(exchange, queue, key))
    return {"exchanges": [exchange_definition(exchange, "topic"), exchange_definition(dead_exchange, "direct")],
            "queues": declared, "bindings": bindings}


def main():
    if len(sys.argv) != 2:
        print(next(line for line in __doc__.splitlines() if line.startswith("usage:")), file=sys.stderr)
        return 2
    secrets = sys.argv[1]
    env = os.environ
    exchange = env.get("MGMT_EXCHANGE") or "mgmt"
    studies, segment, classify, report, classify3d, deliver = (
        env.get(f"MGMT_QUEUE_{n}") or n.lower() for n in ("STUDIES", "SEGMENT", "CLASSIFY", "REPORT", "CLASSIFY3D", "DELIVER"))
    queues = [studies, segment, classify, report, classify3d, deliver]
    dead = [q + ".dead" for q in queues]
    none = "^$"
    bindable = alternatives(exchange, *queues, *dead)
    reports = {stage: f"{report}.{stage}" for stage in ("ingest", "segment", "classify", "classify3d", "deliver")}
    keys = alternatives(studies, segment, classify, classify3d, deliver, *reports.values())

    def consumes(*names):
        return alternatives(exchange, exchange + ".dead", *names)

    # user: (configure, write, read, topic write, topic read)
    roles = {
        "mgmt-admin": (".*", ".*", ".*", ".*", ".*"),
        "mgmt-enqueue": (none, alternatives(exchange), none, alternatives(studies), none),
        "mgmt-ingest": (none, bindable, consumes(studies),
                        alternatives(studies, segment, classify3d, reports["ingest"]), keys),
        "mgmt-segment": (none, bindable, consumes(segment), alternatives(segment, classify, reports["segment"]),
                         keys),
        "mgmt-classify": (none, bindable, consumes(classify), alternatives(classify, reports["classify"]), keys),
        "mgmt-classify3d": (none, bindable, consumes(classify3d),
                            alternatives(classify3d, reports["classify3d"]), keys),
        "mgmt-report": (none, bindable, consumes(report, *dead), alternatives(deliver), keys),
        "mgmt-deliver": (none, bindable, consumes(deliver), alternatives(deliver, reports["deliver"]), keys),
    }
    users, permissions, topic_permissions = [], [], []
    for user, (configure, write, read, topic_write, topic_read) in roles.items():
        with open(f"{secrets}/amqp-{user}.password") as f:
            secret = f.read().strip()
        users.append({"name": user, "password_hash": password_hash(secret),
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
        permissions.append({"user": user, "vhost": "/", "configure": configure, "write": write, "read": read})
        topic_permissions.append({"user": user, "vhost": "/", "exchange": exchange, "write": topic_write,
                                  "read": topic_read})
    json.dump({"vhosts": [{"name": "/"}], "users": users, "permissions": permissions,
               "topic_permissions": topic_permissions, **topology_definitions(exchange, queues, report, reports, env)},
              sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
