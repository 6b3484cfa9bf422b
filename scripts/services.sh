# Sourced by the scripts: which services exist, their start order, addresses and databases.
# Per-service settings for `make up` are <SERVICE>_HTTP_ADDR, <SERVICE>_ADMIN_ADDR and <SERVICE>_MYSQL_DATABASE
# (e.g. GATEWAY_HTTP_ADDR); every other variable (MYSQL_ADDR, AMQP_URL, LOG_LEVEL, OTEL_*, ...) goes to all services.
order=(profiles auth friends messages gateway)
SERVICES=()
for s in "${order[@]}"; do [ -f "services/$s/main.go" ] && SERVICES+=("$s"); done

port_of() { case "$1" in gateway) echo 0;; auth) echo 1;; profiles) echo 2;; friends) echo 3;; messages) echo 4;; esac; }
upper() { tr a-z A-Z <<<"$1"; }
http_addr() { local var; var="$(upper "$1")_HTTP_ADDR"; echo "${!var:-127.0.0.1:808$(port_of "$1")}"; }
admin_addr() { local var; var="$(upper "$1")_ADMIN_ADDR"; echo "${!var:-127.0.0.1:908$(port_of "$1")}"; }
db_of() { local var; var="$(upper "$1")_MYSQL_DATABASE"; echo "${!var:-messenger_$1}"; }
