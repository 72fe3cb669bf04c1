#!/usr/bin/env bash
# The main job: install what is missing, build, start the local servers and run the demo pipeline.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
scripts/install-deps.sh
source scripts/env.sh
swift build -c release
scripts/servers.sh start
echo "demo: the pipeline stages are not built yet; the servers above are running (stop: scripts/servers.sh stop)."
exit 1
