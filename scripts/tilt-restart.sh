#!/busybox/sh
# Entrypoint of the Tilt development images only (see Tiltfile): runs the service and restarts it when Tilt's
# live update has synced a freshly compiled binary to /tmp/live/service and touched /tmp/live/restart.
# /tmp is the pod's writable emptyDir; the root filesystem stays read-only. SIGTERM stops the service and the loop.
live=/tmp/live
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
mkdir -p "$live"
while :; do
  bin=/service
  [ -x "$live/service" ] && bin=$live/service
  rm -f "$live/restart"
  "$bin" "$@" &
  pid=$!
  echo "tilt-restart: started $bin (pid $pid)"
  while kill -0 "$pid" 2>/dev/null && [ ! -e "$live/restart" ]; do sleep 1; done
  if [ -e "$live/restart" ]; then
    kill -TERM "$pid" 2>/dev/null
  fi
  wait "$pid"
  code=$?
  # The process exited by itself (a crash): leave, so Kubernetes restarts the container and shows it.
  [ -e "$live/restart" ] || exit "$code"
done
