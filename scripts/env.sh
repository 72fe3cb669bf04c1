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
export MGMT_AMQP_URL=${MGMT_AMQP_URL:-amqp://guest:guest@127.0.0.1:$MGMT_AMQP_PORT/%2f}
export MGMT_PG_CONNINFO=${MGMT_PG_CONNINFO:-host=127.0.0.1 port=$MGMT_PG_PORT user=postgres dbname=mgmt connect_timeout=5}
unset root
