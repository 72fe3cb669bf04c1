# Sourced by every launcher: the environment a process must have before it starts.
# OpenBLAS reads OPENBLAS_CORETYPE when it loads, so it cannot be set from inside the program. Where the CPU
# has AVX-512, let OpenBLAS use its SkylakeX kernels (about twice the AVX2 ones on these machines).
if grep -q -m1 avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export MGMT_DATA_DIR=${MGMT_DATA_DIR:-$root/.local}
export MGMT_AMQP_PORT=${MGMT_AMQP_PORT:-5673}
export MGMT_PG_PORT=${MGMT_PG_PORT:-5433}
# Credentials of the private servers (scripts/servers.sh makes them; none exist before its first start):
#   MGMT_AMQP_URL_<ROLE>  one broker user per role: ENQUEUE (scanner side: may only enqueue studies), INGEST,
#                         SEGMENT, CLASSIFY, CLASSIFY3D (the 3D classifier), REPORT, DELIVER (`ingest deliver`).
#                         A launcher gives each executable its role's URL as MGMT_AMQP_URL.
#   MGMT_AMQP_URL         the admin user (every permission): tests and operators' tools.
#   MGMT_PG_CONNINFO      the reporter's writer role; MGMT_PG_CONNINFO_READER the read-only role for queries.
# Passwords stay in $MGMT_DATA_DIR/secrets (0600); PostgreSQL's are read by libpq from its pgpass file.
mgmt_secrets=$MGMT_DATA_DIR/secrets
mgmt_amqp_url() {
  [[ -r $mgmt_secrets/amqp-$1.password ]] || return 0
  printf 'amqp://%s:%s@127.0.0.1:%s/%%2f' "$1" "$(cat "$mgmt_secrets/amqp-$1.password")" "$MGMT_AMQP_PORT"
}
for mgmt_role in ENQUEUE INGEST SEGMENT CLASSIFY CLASSIFY3D REPORT DELIVER; do
  mgmt_variable=MGMT_AMQP_URL_$mgmt_role
  [[ -n ${!mgmt_variable:-} ]] || export "$mgmt_variable=$(mgmt_amqp_url "mgmt-${mgmt_role,,}")"
done
[[ -n ${MGMT_AMQP_URL:-} ]] || export MGMT_AMQP_URL=$(mgmt_amqp_url mgmt-admin)
mgmt_pg() { printf 'host=127.0.0.1 port=%s user=%s dbname=mgmt passfile=%s connect_timeout=5' "$MGMT_PG_PORT" "$1" "$mgmt_secrets/pgpass"; }
export MGMT_PG_CONNINFO=${MGMT_PG_CONNINFO:-$(mgmt_pg mgmt_writer)}
export MGMT_PG_CONNINFO_READER=${MGMT_PG_CONNINFO_READER:-$(mgmt_pg mgmt_reader)}
unset -f mgmt_amqp_url mgmt_pg
unset root mgmt_secrets mgmt_role mgmt_variable
