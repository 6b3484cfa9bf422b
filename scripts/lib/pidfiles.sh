# Sourced by scripts/down.sh and scripts/observe-down.sh: stops what a script started in the background, by the
# pid files it left, and nothing else.
# shellcheck shell=bash

# stop_pidfiles EXE_DIR PIDFILE...: each NAME.pid's process gets SIGTERM if it still runs a binary NAME in a folder
# matching the pattern EXE_DIR (a pid may have been reused: another process is left alone), then SIGKILL if it
# has not stopped after 20 s. The pid files are removed.
stop_pidfiles() {
  local dir=$1 f pid name p alive pids=()
  shift
  for f in "$@"; do
    pid=$(cat "$f")
    name=$(basename "$f" .pid)
    # shellcheck disable=SC2053 # $dir is a pattern
    if kill -0 "$pid" 2>/dev/null && [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == $dir/"$name" ]]; then
      kill -TERM "$pid" && pids+=("$pid") && echo "$name: stopping (pid $pid)"
    fi
    rm -f "$f"
  done
  for _ in $(seq 1 100); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && { echo "pid $p did not stop in 20 s; killing"; kill -KILL "$p"; }
  done
  return 0
}
