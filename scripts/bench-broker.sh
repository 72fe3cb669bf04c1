#!/usr/bin/env bash
# Broker benchmark: publish rate with a confirm window next to one confirm at a time, and consume + ack, in one
# run against the RabbitMQ of scripts/env.sh (start it with scripts/servers.sh start); uses its own queue.
#   usage: scripts/bench-broker.sh [MESSAGES (2000)] [WINDOW (256)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
swift build -c release --product BrokerBenchmark >/dev/null
echo "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$(swift build -c release --show-bin-path)/BrokerBenchmark" "$@"
