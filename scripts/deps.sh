#!/usr/bin/env bash
# Makes sure MariaDB/MySQL and RabbitMQ are reachable for the messenger and its tests.
# Local servers that are installed but stopped are started; on Debian/Ubuntu, as root, missing ones are installed.
# A server configured elsewhere (MYSQL_ADDR / AMQP_URL not on this host) is only waited for.
set -euo pipefail

MYSQL_ADDR=${MYSQL_ADDR:-127.0.0.1:3306}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
mysql_host=${MYSQL_ADDR%:*}; mysql_port=${MYSQL_ADDR##*:}
amqp_hostport=$(sed -E 's#^amqps?://([^@/]*@)?([^/]*).*#\2#' <<<"$AMQP_URL")
amqp_host=${amqp_hostport%:*}; amqp_port=${amqp_hostport##*:}
[ "$amqp_port" = "$amqp_hostport" ] && amqp_port=5672

log() { echo "deps: $*" >&2; }
is_local() { case "$1" in 127.0.0.1|localhost|::1|"") return 0;; *) return 1;; esac; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { # host port name seconds
	local i
	for ((i = 0; i < $4 * 5; i++)); do port_open "$1" "$2" && return 0; sleep 0.2; done
	log "$3 is not reachable on $1:$2 after $4 s"; return 1
}

apt_updated=
install_pkg() {
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		log "$1 is not installed; install it (Debian/Ubuntu: apt-get install $1) or point the configuration at a running server"
		exit 1
	fi
	[ -n "$apt_updated" ] || { log "apt-get update"; apt-get update -qq; apt_updated=1; }
	log "installing $1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# MariaDB / MySQL
if ! port_open "$mysql_host" "$mysql_port"; then
	if is_local "$mysql_host"; then
		fresh_mariadb=
		command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ] || { install_pkg mariadb-server; fresh_mariadb=1; }
		log "starting MariaDB"
		mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
		daemon=/usr/sbin/mariadbd; [ -x "$daemon" ] || daemon=/usr/sbin/mysqld
		start-stop-daemon --start --oknodo --background --exec "$daemon" >/dev/null 2>&1 ||
			{ command -v service >/dev/null && service mariadb start >/dev/null 2>&1; } || true
	fi
	wait_port "$mysql_host" "$mysql_port" MariaDB 60
	if [ -n "${fresh_mariadb:-}" ]; then
		# Debian's root@localhost authenticates by unix socket; the services connect over TCP as root with an
		# empty password (the contract's local default), so allow that for 127.0.0.1.
		mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;" || true
	fi
fi

# RabbitMQ
if ! port_open "$amqp_host" "$amqp_port"; then
	if is_local "$amqp_host"; then
		command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] || install_pkg rabbitmq-server
		# The node may be running with its app stopped (rabbitmqctl stop_app): start the app then.
		if rabbitmqctl -q status >/dev/null 2>&1; then
			log "starting the RabbitMQ app"
			rabbitmqctl -q start_app >/dev/null 2>&1 || true
		else
			log "starting RabbitMQ"
			rabbitmq-server -detached >/dev/null 2>&1 || true
		fi
	fi
	wait_port "$amqp_host" "$amqp_port" RabbitMQ 90
	is_local "$amqp_host" && { rabbitmqctl -q await_startup >/dev/null 2>&1 || true; }
fi
# Chromium, for the web client's browser tests (e2e/browser_test.go, driven by chromedp), only when asked for
# (DEPS_BROWSER=1: make test and make test-browser; make up does not need a browser). Debian's package, installed
# like the servers above when running as root with apt; otherwise only a warning (the browser test then fails
# and says how to get it). SKIP_BROWSER=1 skips both the install and the browser tests.
if [ "${DEPS_BROWSER:-}" = 1 ] && [ "${SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		install_pkg chromium
	else
		log "chromium is not installed: the browser tests need it (Debian/Ubuntu: apt-get install chromium), or set SKIP_BROWSER=1"
	fi
fi

log "MariaDB at $mysql_host:$mysql_port and RabbitMQ at $amqp_host:$amqp_port are up"

# The local Kubernetes cluster's runtime (make cluster-up, only when asked for: DEPS_CLUSTER=1): containerd and runc,
# the CNI plugins, socat (the forwarders to MariaDB and RabbitMQ), iptables, ipset (kube-router's NetworkPolicy
# firewall), conntrack and openssl, all Debian's.
if [ "${DEPS_CLUSTER:-}" = 1 ]; then
	for pkg in containerd:containerd runc:runc containernetworking-plugins:/usr/lib/cni/bridge socat:socat \
		iptables:iptables ipset:ipset conntrack:conntrack openssl:openssl curl:curl; do
		name=${pkg%%:*} probe=${pkg#*:}
		if [ "${probe#/}" != "$probe" ]; then [ -e "$probe" ] && continue; else command -v "$probe" >/dev/null && continue; fi
		install_pkg "$name"
	done
fi
