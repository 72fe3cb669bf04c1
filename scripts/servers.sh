#!/usr/bin/env bash
# Starts, stops or describes a private RabbitMQ and PostgreSQL on 127.0.0.1, with their data under
# $MGMT_DATA_DIR (default .local/ in the checkout).   usage: servers.sh start|stop|status
#
# Least privilege: no guest user and no trust authentication over TCP. Each start (re)creates the broker users
# and the database roles below with generated passwords kept in $MGMT_DATA_DIR/secrets (directory 0700, files
# 0600), which scripts/env.sh turns into MGMT_AMQP_URL_<ROLE> and MGMT_PG_CONNINFO[_READER].
#
# With MGMT_TLS_DIR set (ca.pem, server.pem, server.key in PEM) both servers listen with TLS only; RabbitMQ then
# also asks for a client certificate signed by that CA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
data=$MGMT_DATA_DIR
rmq=$data/rabbitmq
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl
pg=$data/postgres
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
secrets=$data/secrets
tls=${MGMT_TLS_DIR:-}

# The password kept in secrets/NAME.password, made on first use (48 hex digits: safe in URLs and conninfo).
password() {
  local file=$secrets/$1.password
  (umask 077; mkdir -p "$secrets"; [[ -s $file ]] || openssl rand -hex 24 >"$file")
  cat "$file"
}

rabbit_env() {
  export RABBITMQ_NODENAME=mgmt@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$MGMT_AMQP_PORT
  export RABBITMQ_CONFIG_FILE=$rmq/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$rmq/enabled_plugins
  export RABBITMQ_MNESIA_BASE=$rmq/mnesia RABBITMQ_LOG_BASE=$rmq/log RABBITMQ_PID_FILE=$rmq/rabbit.pid
  export RABBITMQ_DIST_PORT=$((MGMT_AMQP_PORT + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 HOME=$rmq
  # A private epmd per instance, so that stopping one instance never strands another.
  export ERL_EPMD_PORT=$((MGMT_AMQP_PORT + 10000))
  # Erlang distribution (the node and the rabbitmqctl it talks to) on loopback too, not on every interface.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  # A CLI call before the first start (no $rmq yet, so no cookie) must not leave a crash dump where it ran.
  export ERL_CRASH_DUMP=$rmq/erl_crash.dump
}
as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_rabbit() {
  rabbit_env
  mkdir -p "$rmq/log" "$rmq/mnesia"
  if "$ctl" -q status >/dev/null 2>&1; then rabbit_users; echo "rabbitmq: already running"; return; fi
  if [[ -n $tls ]]; then
    cat >"$rmq/rabbitmq.conf" <<CONF
listeners.tcp = none
listeners.ssl.default = 127.0.0.1:$MGMT_AMQP_PORT
ssl_options.cacertfile = $tls/ca.pem
ssl_options.certfile = $tls/server.pem
ssl_options.keyfile = $tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
CONF
  else
    printf 'listeners.tcp.default = 127.0.0.1:%s\n' "$MGMT_AMQP_PORT" >"$rmq/rabbitmq.conf"
  fi
  # The fleet's largest message (an ingest event listing every unusable file) stays far below 4 MiB; anything
  # bigger is refused by the broker before a worker reads it (the default limit is 128 MiB).
  printf 'max_message_size = %s\nlog.console = false\n' $((4 * 1024 * 1024)) >>"$rmq/rabbitmq.conf"
  echo '[].' > "$rmq/enabled_plugins"
  /usr/lib/rabbitmq/bin/rabbitmq-server -detached
  "$ctl" -q wait --timeout 120 "$rmq/rabbit.pid" >/dev/null
  rabbit_users
  echo "rabbitmq: ready on 127.0.0.1:$MGMT_AMQP_PORT${tls:+ (TLS only)}"
}

# One broker user per role, each with only the permissions its role needs (the matrix is in
# rabbitmq-definitions.py); imported in one call, since every rabbitmqctl call starts an Erlang VM.
rabbit_users() {
  local definitions=$secrets/rabbitmq-definitions.json user
  for user in mgmt-admin mgmt-enqueue mgmt-ingest mgmt-segment mgmt-classify mgmt-classify3d mgmt-report mgmt-deliver; do
    password "amqp-$user" >/dev/null
  done
  (umask 077; "$here/rabbitmq-definitions.py" "$secrets" >"$definitions")
  "$ctl" -q import_definitions "$definitions" >/dev/null
  "$ctl" -q delete_user guest >/dev/null 2>&1 || true
}
stop_rabbit() {
  rabbit_env
  "$ctl" -q shutdown >/dev/null 2>&1 && echo "rabbitmq: stopped" || echo "rabbitmq: not running"
  epmd -kill >/dev/null 2>&1 || true
}

# The superuser is the server's own OS user, reachable only through the Unix socket inside the data directory
# (mode 0700) with peer authentication; every TCP login needs a SCRAM password.
superuser() { if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi; }
superuser_psql() { as_postgres "$pgbin/psql" -h "$pg" -p "$MGMT_PG_PORT" -U "$(superuser)" -X -q -v ON_ERROR_STOP=1 "$@"; }
start_postgres() {
  if [[ ! -s $pg/PG_VERSION ]]; then
    mkdir -p "$pg"; [[ $(id -u) -eq 0 ]] && chown postgres: "$pg" "$data"
    as_postgres "$pgbin/initdb" -D "$pg" -U "$(superuser)" --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  fi
  local host=host options="-p $MGMT_PG_PORT -k $pg -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256"
  if [[ -n $tls ]]; then
    # PostgreSQL wants its key owned by the server's user and unreadable by others: it gets its own copy.
    install -m 0600 "$tls/server.key" "$pg/server.key"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$pg/server.key"
    host=hostssl
    options+=" -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$pg/server.key -c ssl_ca_file=$tls/ca.pem"
  fi
  printf 'local all all peer\n%s all all 127.0.0.1/32 scram-sha-256\n%s all all ::1/128 scram-sha-256\n' \
    "$host" "$host" >"$pg/pg_hba.conf"
  if as_postgres "$pgbin/pg_ctl" -D "$pg" status >/dev/null 2>&1; then
    as_postgres "$pgbin/pg_ctl" -D "$pg" reload >/dev/null
    postgres_roles
    echo "postgres: already running"
    return
  fi
  as_postgres "$pgbin/pg_ctl" -D "$pg" -w -l "$pg/server.log" -o "$options" start >/dev/null
  postgres_roles
  echo "postgres: ready on 127.0.0.1:$MGMT_PG_PORT${tls:+ (TLS only)}"
}

# mgmt_writer (the reporter) owns the results and may create schemas; mgmt_reader may only read them. Their
# passwords also go to secrets/pgpass, which libpq reads through `passfile=` (and ignores if others can read it).
postgres_roles() {
  superuser_psql -d postgres -tAc "select 1 from pg_database where datname = 'mgmt'" | grep -q 1 \
    || superuser_psql -d postgres -c "create database mgmt"
  superuser_psql -d mgmt -v writer="$(password pg-mgmt_writer)" -v reader="$(password pg-mgmt_reader)" \
    -v superuser="$(superuser)" >/dev/null <<'SQL'
select format('create role %I', r) from unnest(array['mgmt_writer', 'mgmt_reader']) as r
 where not exists (select 1 from pg_roles where rolname = r) \gexec
alter role mgmt_writer with login nosuperuser nocreatedb nocreaterole password :'writer';
alter role mgmt_reader with login nosuperuser nocreatedb nocreaterole password :'reader';
revoke all on database mgmt from public;
grant connect, create, temporary on database mgmt to mgmt_writer;
grant connect on database mgmt to mgmt_reader;
alter schema public owner to mgmt_writer;
-- results made by the superuser in an older data directory move to the writer
select format('alter table public.%I owner to mgmt_writer', tablename) from pg_tables
 where schemaname = 'public' and tableowner = :'superuser' \gexec
select format('alter view public.%I owner to mgmt_writer', viewname) from pg_views
 where schemaname = 'public' and viewowner = :'superuser' \gexec
grant usage on schema public to mgmt_reader;
grant select on all tables in schema public to mgmt_reader;
alter default privileges for role mgmt_writer in schema public grant select on tables to mgmt_reader;
SQL
  local role host
  (umask 077
   for role in mgmt_writer mgmt_reader; do
     for host in 127.0.0.1 localhost; do
       printf '%s:%s:*:%s:%s\n' "$host" "$MGMT_PG_PORT" "$role" "$(password "pg-$role")"
     done
   done >"$secrets/pgpass")
}
stop_postgres() {
  as_postgres "$pgbin/pg_ctl" -D "$pg" -m fast -w stop >/dev/null 2>&1 && echo "postgres: stopped" || echo "postgres: not running"
}

case ${1:-status} in
  start) mkdir -p "$data"; start_rabbit; start_postgres
         echo "credentials: $secrets (source scripts/env.sh: MGMT_AMQP_URL_<ROLE>, MGMT_PG_CONNINFO[_READER])" ;;
  stop) stop_rabbit; stop_postgres ;;
  start-rabbitmq) mkdir -p "$data"; start_rabbit ;;
  stop-rabbitmq) stop_rabbit ;;
  start-postgres) mkdir -p "$data"; start_postgres ;;
  stop-postgres) stop_postgres ;;
  rabbitmqctl) shift; rabbit_env; "$ctl" -q "$@" ;;  # e.g. servers.sh rabbitmqctl list_queues name messages
  status) rabbit_env; "$ctl" -q status >/dev/null 2>&1 && echo "rabbitmq: running" || echo "rabbitmq: stopped"
          as_postgres "$pgbin/pg_ctl" -D "$pg" status >/dev/null 2>&1 && echo "postgres: running" || echo "postgres: stopped" ;;
  *) echo "usage: $0 start|stop|status|start-rabbitmq|stop-rabbitmq|start-postgres|stop-postgres|rabbitmqctl ARGS" >&2; exit 2 ;;
esac
