#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts the private RabbitMQ and PostgreSQL, runs every test
# in release mode (the model parity tests run full architectures), and stops the servers it started, also on
# failure.   usage: scripts/test.sh [extra swift test arguments, e.g. --filter BrokerTests]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
scripts/install-deps.sh
source scripts/env.sh
started=0
cleanup() { ((started)) && scripts/servers.sh stop || true; }
trap cleanup EXIT
# Read the status once: `grep -q` closing a pipe early would fail the pipeline under pipefail.
status=$(scripts/servers.sh status)
[[ $status == *'rabbitmq: running'* && $status == *'postgres: running'* ]] || { started=1; scripts/servers.sh start; }
source scripts/env.sh  # again: the servers' first start made the credentials it reads
scripts/dicom-python.sh >/dev/null  # the DICOM peers (pynetdicom, highdicom) the DICOMExchange tests talk to
swift build -c release --build-tests
swift test -c release --skip-build "$@"
