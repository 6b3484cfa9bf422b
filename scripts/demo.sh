#!/usr/bin/env bash
# make demo: a scripted two-user conversation with the command-line client msgr (clients/msgr) against the stack
# of `make up` (MSGR_SERVER, default http://127.0.0.1:8080). Every run registers two new users (nicknames with a
# per-run suffix), so it can run again and again; their sessions live in a temporary config directory each,
# removed at the end. It shows the login push of the WebSocket (pending friend requests, then the messages that
# came while the user was away) and a message arriving live.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh" # the Makefile's pinned Go, also when run without make
cd "$(dirname "$0")/.."

SERVER=${MSGR_SERVER:-http://127.0.0.1:8080}
MSGR=$PWD/bin/msgr
mkdir -p bin
go build -o "$MSGR" ./clients/msgr/cmd/msgr

work=$(mktemp -d "${TMPDIR:-/tmp}/msgr-demo.XXXXXX")
listener=
cleanup() {
	if [[ -n $listener ]] && kill -0 "$listener" 2>/dev/null; then kill -INT "$listener" 2>/dev/null || true; wait "$listener" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

run_id=$(date +%s)$((RANDOM % 100))
alice_nick=alice_$run_id
bob_nick=bob_$run_id
password=demo-$RANDOM$RANDOM$RANDOM

if [[ -t 1 ]]; then bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'; else bold= dim= off=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
# show ARGS...: the arguments as one would type them (quoted when needed).
show() {
	local a out=
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=-]+$ ]]; then out+=" $a"; else out+=" \"$a\""; fi
	done
	printf '%s' "${out# }"
}
# as WHO ARGS...: show the command line, then run msgr as WHO (alice or bob: own config directory).
as() {
	local who=$1
	shift
	printf '%s%s$ msgr %s%s\n' "$dim" "$who" "$(show "$@")" "$off"
	"$MSGR" --server "$SERVER" --config-dir "$work/$who" "$@"
}

# listen_start USER: msgr listen in the background, its output in $work/USER.listen.
listen_start() {
	printf '%s%s$ msgr listen &%s\n' "$dim" "$1" "$off"
	"$MSGR" --server "$SERVER" --config-dir "$work/$1" listen >"$work/$1.listen" 2>"$work/$1.listen.err" &
	listener=$!
}
# wait_for USER TEXT...: until the listener's output holds every TEXT (10 s at most).
wait_for() {
	local who=$1 deadline=$((SECONDS + 10)) t all
	shift
	while :; do
		all=1
		for t in "$@"; do grep -qF -- "$t" "$work/$who.listen" || all=0; done
		((all)) && return 0
		if ((SECONDS >= deadline)) || ! kill -0 "$listener" 2>/dev/null; then
			echo "demo: msgr listen did not print: $*" >&2
			cat "$work/$who.listen" "$work/$who.listen.err" >&2
			exit 1
		fi
		sleep 0.1
	done
}
# listen_show USER: what the listener printed so far (indented).
listen_show() {
	printf '%s  [%s'"'"'s msgr listen printed]%s\n' "$dim" "$1" "$off"
	sed 's/^/  | /' "$work/$1.listen"
}
listen_stop() {
	printf '%s%s: Ctrl-C%s\n' "$dim" "$1" "$off"
	kill -INT "$listener"
	local code=0
	wait "$listener" || code=$?
	listener=
	[[ $code == 0 ]] || { echo "demo: msgr listen ended with $code after Ctrl-C" >&2; cat "$work/$1.listen.err" >&2; exit 1; }
}

# Any HTTP answer (401 here) means the gateway is up.
if ! curl -sS -m 5 -o /dev/null "$SERVER/api/v1/users/me" 2>/dev/null; then
	echo "demo: no messenger at $SERVER; start it with make up (or set MSGR_SERVER)" >&2
	exit 1
fi

step "Two new users register and log in (passwords on standard input, never as arguments)"
as alice register "$alice_nick" --display-name "Alice" --password-stdin <<<"$password"
as bob register "$bob_nick" --display-name "Bob" --password-stdin <<<"$password"
as alice login "$alice_nick" --password-stdin <<<"$password"
as bob login "$bob_nick" --password-stdin <<<"$password"
as alice profile set --bio "Curiouser and curiouser"

step "Alice finds Bob and asks him to be friends while he is away"
as alice search "${bob_nick%???}"
as alice friends add "$bob_nick"

step "Bob enters the messenger: the login push brings the pending friend request"
listen_start bob
wait_for bob friends.pending messages.unread
listen_show bob
as bob friends accept "$alice_nick"
listen_stop bob

step "Alice writes while Bob is offline"
as alice send "$bob_nick" "Hi Bob! Are you there?"
as alice send "$bob_nick" "I found a tiny door behind the curtain."

# The pushes of these sends leave the outbox a moment after the sends answer; a socket that opens within that
# moment may get a message both live and in messages.unread (the contract allows it: clients merge by id).
sleep 1

step "Bob comes back: the login push brings the two unread messages; then a message arrives live"
listen_start bob
wait_for bob "2 unread" "tiny door"
as alice send "$bob_nick" "It leads to a garden. Coming?"
wait_for bob message.new "Coming?"
as bob send "$alice_nick" "On my way!"
wait_for bob "On my way!"
listen_show bob
listen_stop bob

step "History, chats and read markers"
as bob history "$alice_nick" --limit 10
as alice chats
as bob chats
as bob read "$alice_nick"
as bob chats
as bob --json whoami

step "Both log out"
as alice logout
as bob logout
code=0
as bob whoami 2>&1 || code=$?
echo "(exit code $code: not logged in)"
[[ $code == 3 ]] || { echo "demo: whoami after logout ended with $code, want 3" >&2; exit 1; }

printf '\n%sdemo finished%s (users %s and %s on %s)\n' "$bold" "$off" "$alice_nick" "$bob_nick" "$SERVER"
