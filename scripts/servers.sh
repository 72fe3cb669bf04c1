#!/usr/bin/env bash
# Starts, stops or describes a private RabbitMQ and PostgreSQL on 127.0.0.1, with their data under
# $MGMT_DATA_DIR (default .local/ in the checkout).   usage: servers.sh start|stop|status
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
data=$MGMT_DATA_DIR
rmq=$data/rabbitmq
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl
pg=$data/postgres
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

rabbit_env() {
  export RABBITMQ_NODENAME=mgmt@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$MGMT_AMQP_PORT
  export RABBITMQ_CONFIG_FILE=$rmq/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$rmq/enabled_plugins
  export RABBITMQ_MNESIA_BASE=$rmq/mnesia RABBITMQ_LOG_BASE=$rmq/log RABBITMQ_PID_FILE=$rmq/rabbit.pid
  export RABBITMQ_DIST_PORT=$((MGMT_AMQP_PORT + 20000)) ERL_EPMD_ADDRESS=127.0.0.1 HOME=$rmq
  # A private epmd per instance, so that stopping one instance never strands another.
  export ERL_EPMD_PORT=$((MGMT_AMQP_PORT + 10000))
}
as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_rabbit() {
  rabbit_env
  if "$ctl" -q status >/dev/null 2>&1; then echo "rabbitmq: already running"; return; fi
  mkdir -p "$rmq/log" "$rmq/mnesia"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\nlog.console = false\n' "$MGMT_AMQP_PORT" > "$rmq/rabbitmq.conf"
  echo '[].' > "$rmq/enabled_plugins"
  /usr/lib/rabbitmq/bin/rabbitmq-server -detached
  "$ctl" -q wait --timeout 120 "$rmq/rabbit.pid" >/dev/null
  echo "rabbitmq: ready on 127.0.0.1:$MGMT_AMQP_PORT"
}
stop_rabbit() {
  rabbit_env
  "$ctl" -q shutdown >/dev/null 2>&1 && echo "rabbitmq: stopped" || echo "rabbitmq: not running"
  epmd -kill >/dev/null 2>&1 || true
}
start_postgres() {
  if [[ ! -s $pg/PG_VERSION ]]; then
    mkdir -p "$pg"; [[ $(id -u) -eq 0 ]] && chown postgres: "$pg" "$data"
    as_postgres "$pgbin/initdb" -D "$pg" -A trust -U postgres >/dev/null
  fi
  if as_postgres "$pgbin/pg_ctl" -D "$pg" status >/dev/null 2>&1; then echo "postgres: already running"; else
    as_postgres "$pgbin/pg_ctl" -D "$pg" -w -l "$pg/server.log" \
      -o "-p $MGMT_PG_PORT -k $pg -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  as_postgres "$pgbin/psql" -h 127.0.0.1 -p "$MGMT_PG_PORT" -U postgres -tAc \
    "select 1 from pg_database where datname='mgmt'" | grep -q 1 \
    || as_postgres "$pgbin/createdb" -h 127.0.0.1 -p "$MGMT_PG_PORT" -U postgres mgmt
  echo "postgres: ready on 127.0.0.1:$MGMT_PG_PORT"
}
stop_postgres() {
  as_postgres "$pgbin/pg_ctl" -D "$pg" -m fast -w stop >/dev/null 2>&1 && echo "postgres: stopped" || echo "postgres: not running"
}

case ${1:-status} in
  start) mkdir -p "$data"; start_rabbit; start_postgres
         echo "AMQP:       $MGMT_AMQP_URL"
         echo "PostgreSQL: psql \"$MGMT_PG_CONNINFO\"" ;;
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
