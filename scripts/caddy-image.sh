#!/usr/bin/env bash
# caddy-image.sh [TAG]: pack Debian's caddy binary (apt package `caddy`, installed by
# setup.sh) into a local image (default zpanel-local/caddy:2) FROM scratch, with the
# shared libraries it links and the CA bundle: nothing else (zpanel runs no tool inside
# the proxy; its probes go through the router's probe socket). No registry is needed.
# Rebuilt only when missing.
set -euo pipefail
tag=${1:-zpanel-local/caddy:2}
if docker image inspect "$tag" >/dev/null 2>&1; then
    exit 0
fi
caddy=$(command -v caddy)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/bin" "$ctx/root/etc/ssl/certs" "$ctx/root/tmp" "$ctx/root/data" "$ctx/root/config"
cp "$caddy" "$ctx/root/bin/caddy"
# the loader and every library ldd names, at the same paths
ldd "$caddy" | awk '/=> \//{print $3} $1 ~ /^\//{print $1}' | while read -r lib; do
    mkdir -p "$ctx/root$(dirname "$lib")"
    cp -L "$lib" "$ctx/root$lib"
done
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$ctx/root/etc/ssl/certs/"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
ENV XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config PATH=/bin
ENTRYPOINT ["/bin/caddy"]
CMD ["run", "--resume"]
DOCKERFILE
docker build -q -t "$tag" "$ctx" >/dev/null
echo "caddy-image.sh: built $tag from $caddy ($("$caddy" version | cut -d' ' -f1))"
