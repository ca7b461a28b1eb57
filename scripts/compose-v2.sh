#!/usr/bin/env bash
# compose-v2.sh [PATH]: put Docker Compose v2 (the peer of bench/ and the oracle of
# tests/conformance/generate.sh) at PATH (default /usr/local/bin/docker-compose-v2).
# Debian 12 ships Compose v1 only; Debian 13 (trixie) packages v2 as a static Go binary
# that runs here, so the package is fetched from trixie's archive with a private apt
# state (the system's sources and lists are not touched) and only the binary is kept.
# Idempotent. Prints the path on stdout.
set -euo pipefail

target=${1:-/usr/local/bin/docker-compose-v2}
if [ -x "$target" ] && "$target" version >/dev/null 2>&1; then
    echo "$target"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/etc"
echo "deb [trusted=yes] http://deb.debian.org/debian trixie main" >"$work/etc/trixie.list"
apt_opts=(
    -o "Dir::Etc::SourceList=$work/etc/trixie.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/state/lists"
    -o "Dir::Cache=$work/cache"
)
apt-get "${apt_opts[@]}" -qq update
(cd "$work" && apt-get "${apt_opts[@]}" -qq download docker-compose)
deb=$(ls "$work"/docker-compose_2*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    echo "compose-v2.sh: trixie's archive offered no docker-compose 2.x package" >&2
    exit 1
fi
dpkg-deb -x "$deb" "$work/root"
install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$target"
"$target" version >&2
echo "$target"
