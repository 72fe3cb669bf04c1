#!/usr/bin/python3
"""Prints RabbitMQ definitions (users, permissions, topic permissions) giving each fleet role only what it needs;
the passwords come from SECRETS_DIR/amqp-<user>.password. Queue and exchange names follow MGMT_EXCHANGE and
MGMT_QUEUE_* like the workers do. Used by scripts/servers.sh (rabbitmqctl import_definitions) and
scripts/compose-secrets.sh (loaded by the broker container at boot).   usage: rabbitmq-definitions.py SECRETS_DIR

The matrix (README, "Users and permissions"):
  user           publishes with key (topic write, work exchange)   consumes
  mgmt-enqueue   studies                                           nothing; declares nothing (the scanner side)
  mgmt-ingest    studies*, segment, report.ingest                  studies
  mgmt-segment   segment*, classify, report.segment                segment
  mgmt-classify  classify*, report.classify                        classify
  mgmt-report    nothing                                           report and every <queue>.dead
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


def main():
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    secrets = sys.argv[1]
    env = os.environ
    exchange = env.get("MGMT_EXCHANGE") or "mgmt"
    studies, segment, classify, report = (env.get(f"MGMT_QUEUE_{n}") or n.lower()
                                          for n in ("STUDIES", "SEGMENT", "CLASSIFY", "REPORT"))
    queues = [studies, segment, classify, report]
    dead = [q + ".dead" for q in queues]
    none = "^$"
    topology = alternatives(exchange, exchange + ".dead", *queues, *dead)
    bindable = alternatives(exchange, *queues, *dead)
    reports = {stage: f"{report}.{stage}" for stage in ("ingest", "segment", "classify")}
    keys = alternatives(studies, segment, classify, *reports.values())

    def consumes(*names):
        return alternatives(exchange, exchange + ".dead", *names)

    # user: (configure, write, read, topic write, topic read)
    roles = {
        "mgmt-admin": (".*", ".*", ".*", ".*", ".*"),
        "mgmt-enqueue": (none, alternatives(exchange), none, alternatives(studies), none),
        "mgmt-ingest": (topology, bindable, consumes(studies), alternatives(studies, segment, reports["ingest"]), keys),
        "mgmt-segment": (topology, bindable, consumes(segment), alternatives(segment, classify, reports["segment"]),
                         keys),
        "mgmt-classify": (topology, bindable, consumes(classify), alternatives(classify, reports["classify"]), keys),
        "mgmt-report": (topology, bindable, consumes(report, *dead), none, keys),
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
               "topic_permissions": topic_permissions}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
