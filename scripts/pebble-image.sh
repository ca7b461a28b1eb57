#!/usr/bin/env bash
# pebble-image.sh [TAG]: pack Debian's pebble (apt package `pebble`, Let's Encrypt's ACME
# test server, installed by setup.sh) into a local image (default zpanel-local/pebble:2)
# FROM scratch, with the shared libraries it links: nothing else. test_acme.sh runs it
# with its own configuration and certificate mounted. No registry is needed. Rebuilt only
# when missing.
set -euo pipefail
tag=${1:-zpanel-local/pebble:2}
if docker image inspect "$tag" >/dev/null 2>&1; then
    exit 0
fi
pebble=$(command -v pebble)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/bin" "$ctx/root/tmp"
cp "$pebble" "$ctx/root/bin/pebble"
# the loader and every library ldd names, at the same paths
ldd "$pebble" | awk '/=> \//{print $3} $1 ~ /^\//{print $1}' | while read -r lib; do
    mkdir -p "$ctx/root$(dirname "$lib")"
    cp -L "$lib" "$ctx/root$lib"
done
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
ENV PATH=/bin
ENTRYPOINT ["/bin/pebble"]
DOCKERFILE
docker build -q -t "$tag" "$ctx" >/dev/null
echo "pebble-image.sh: built $tag from $pebble"
