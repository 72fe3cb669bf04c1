#!/usr/bin/env bash
# Makes the credentials the containers use (compose.yaml), none of which is in the repository: generated
# passwords and the files made from them, under .local/compose (directory 0700, files 0600), plus `.env` in the
# checkout (untracked) with each worker's broker URL for compose's variable substitution. Run it once before
# `docker compose up`; running it again keeps the existing passwords.   usage: scripts/compose-secrets.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$root/.local/compose
umask 077
mkdir -p "$out"
password() { [[ -s $out/$1.password ]] || openssl rand -hex 24 >"$out/$1.password"; cat "$out/$1.password"; }

# RabbitMQ: the same users and permissions as the local broker (rabbitmq-definitions.py), loaded at boot.
for user in mgmt-admin mgmt-enqueue mgmt-ingest mgmt-segment mgmt-classify mgmt-classify3d mgmt-report mgmt-deliver; do password "amqp-$user" >/dev/null; done
"$here/rabbitmq-definitions.py" "$out" >"$out/rabbitmq-definitions.json"
printf 'load_definitions = /run/secrets/rabbitmq_definitions\nmax_message_size = %s\n' $((4 * 1024 * 1024)) >"$out/rabbitmq.conf"
# PostgreSQL: the superuser (the image's POSTGRES_PASSWORD_FILE), the reporter's writer and the reader roles.
password pg-superuser >/dev/null
printf 'postgres:5432:*:mgmt_writer:%s\n' "$(password pg-mgmt_writer)" >"$out/reporter.pgpass"
password pg-mgmt_reader >/dev/null
# Compose mounts file secrets as they are, and RabbitMQ and PostgreSQL read theirs as unprivileged users: those
# files are world-readable inside the 0700 directory, which keeps everyone else on the host out.
chmod 0644 "$out/rabbitmq-definitions.json" "$out/rabbitmq.conf" "$out"/pg-*.password

{
  echo "# Made by scripts/compose-secrets.sh: the workers' broker logins for compose.yaml. Never commit it."
  for role in ENQUEUE INGEST SEGMENT CLASSIFY CLASSIFY3D REPORT DELIVER; do
    echo "MGMT_AMQP_URL_$role=amqp://mgmt-${role,,}:$(password "amqp-mgmt-${role,,}")@rabbitmq:5672/%2f"
  done
} >"$root/.env"
echo "credentials in $out and $root/.env (both untracked)"
