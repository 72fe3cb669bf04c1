#!/usr/bin/env bash
# Container entrypoint: the environment a worker needs before it starts (OPENBLAS_CORETYPE), then the command.
set -euo pipefail
source "${MGMT_ENV_SH:-/opt/mgmt/env.sh}"
exec "$@"
