#!/usr/bin/env bash
# make up: builds every service, makes sure MariaDB and RabbitMQ are up, creates each service's database,
# starts the services in the background (logs and pid files in .run/), waits until all are ready and prints
# the gateway URL. Idempotent: a service that is already running and ready is left as it is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
cd "$(dirname "$0")/.."
. scripts/services.sh

RUN_DIR=${RUN_DIR:-.run}
mkdir -p "$RUN_DIR" bin
bash scripts/deps.sh

echo "building: ${SERVICES[*]}"
for s in "${SERVICES[@]}"; do
	go build -o "bin/$s" "./services/$s"
done

mysql_host=${MYSQL_ADDR:-127.0.0.1:3306}
client=$(command -v mariadb || command -v mysql)
for s in "${SERVICES[@]}"; do
	[ "$s" = gateway ] && continue
	db=$(db_of "$s")
	"$client" -h "${mysql_host%:*}" -P "${mysql_host##*:}" -u "${MYSQL_USER:-root}" ${MYSQL_PASSWORD:+-p"$MYSQL_PASSWORD"} \
		-e "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
done

for s in "${SERVICES[@]}"; do
	pidf="$RUN_DIR/$s.pid"
	if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		if curl -fsS -m 2 "http://$(admin_addr "$s")/readyz" >/dev/null 2>&1; then
			echo "$s: already running (pid $(cat "$pidf"))"
			continue
		fi
		echo "$s: running but not ready; restarting"
		kill "$(cat "$pidf")" 2>/dev/null || true
		sleep 1
	fi
	env HTTP_ADDR="$(http_addr "$s")" ADMIN_ADDR="$(admin_addr "$s")" MYSQL_DATABASE="$(db_of "$s")" \
		AUTH_URL="http://$(http_addr auth)" PROFILES_URL="http://$(http_addr profiles)" \
		FRIENDS_URL="http://$(http_addr friends)" MESSAGES_URL="http://$(http_addr messages)" \
		AUTH_JWKS_URL="http://$(http_addr auth)/.well-known/jwks.json" \
		nohup "bin/$s" >>"$RUN_DIR/$s.log" 2>&1 &
	echo $! >"$pidf"
	echo "$s: started (pid $!, log $RUN_DIR/$s.log)"
done

deadline=$((SECONDS + ${UP_TIMEOUT:-90}))
for s in "${SERVICES[@]}"; do
	until curl -fsS -m 2 "http://$(admin_addr "$s")/readyz" >/dev/null 2>&1; do
		if ! kill -0 "$(cat "$RUN_DIR/$s.pid")" 2>/dev/null; then
			echo "$s exited; last log lines:" >&2; tail -n 20 "$RUN_DIR/$s.log" >&2; exit 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "$s is not ready after ${UP_TIMEOUT:-90} s; last log lines:" >&2; tail -n 20 "$RUN_DIR/$s.log" >&2; exit 1
		fi
		sleep 0.3
	done
done
echo "all services ready"
echo "gateway: http://$(http_addr gateway)"
