#!/usr/bin/env bash
# skaffold's custom builder for the profile `local` (skaffold.yaml): builds the one image skaffold asks for with the
# project's own builder, no Docker daemon. skaffold sets IMAGE (e.g. 127.0.0.1:5000/simplemessenger/gateway:<tag>)
# and PUSH_IMAGE; scripts/images.sh builds that service's binary, makes the image and pushes it by digest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
image=${IMAGE:?skaffold sets IMAGE}
tag=${image##*:}
repo=${image%:*}
svc=${repo##*/}
registry=${repo%/simplemessenger/*}
[[ $repo == "$registry/simplemessenger/$svc" && -n $tag && $tag != "$image" ]] ||
  { echo "skaffold-build: cannot read $image as <registry>/simplemessenger/<service>:<tag>" >&2; exit 1; }
REGISTRY=$registry TAG=$tag exec bash "$root/scripts/images.sh" -services "$svc" -values - -push="${PUSH_IMAGE:-true}"
