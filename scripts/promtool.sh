#!/usr/bin/env bash
# Makes sure promtool and prometheus are on this machine: on Debian/Ubuntu, as root, installs Debian's
# `prometheus` package (it provides both) when they are missing. Prints nothing when they are there.
set -euo pipefail

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
	exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "promtool/prometheus are not installed; install them (Debian/Ubuntu: apt-get install prometheus)" >&2
	exit 1
fi
echo "promtool: installing Debian's prometheus package" >&2
apt-get update -qq
# RUNLEVEL=1 keeps the package's own service from being started: `make observe` runs Prometheus with the
# messenger's configuration on the same port, and the package's default one would take it first.
RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null || { echo "promtool still missing after installing prometheus" >&2; exit 1; }
