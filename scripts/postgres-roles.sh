#!/usr/bin/env bash
# PostgreSQL container init (/docker-entrypoint-initdb.d, first start only): the reporter's writer role and the
# read-only role for queries, with the passwords compose mounts as secrets (scripts/compose-secrets.sh).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  -v writer="$(cat /run/secrets/pg_writer_password)" -v reader="$(cat /run/secrets/pg_reader_password)" \
  -v db="$POSTGRES_DB" <<'SQL'
create role mgmt_writer login password :'writer';
create role mgmt_reader login password :'reader';
revoke all on database :"db" from public;
grant connect, create, temporary on database :"db" to mgmt_writer;
grant connect on database :"db" to mgmt_reader;
alter schema public owner to mgmt_writer;
grant usage on schema public to mgmt_reader;
alter default privileges for role mgmt_writer in schema public grant select on tables to mgmt_reader;
SQL
