#!/usr/bin/env bash
# make down: stops the services that make up started (by their pid files), and nothing else.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/pidfiles.sh"
cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-.run}
shopt -s nullglob
stop_pidfiles '*/bin' "$RUN_DIR"/*.pid # only our binaries: bin/<service>
echo "stopped"
