#!/usr/bin/env bash
# debian-image.sh TAG [PACKAGE...]: a local Debian bookworm image made with debootstrap
# (variant minbase) plus the given Debian packages, imported into the engine as TAG. No
# registry is needed: debootstrap reads Debian's mirror over http, as apt does. Containers
# built FROM the image can `apt-get install` more (their package lists are left empty, so a
# Dockerfile runs `apt-get update` first). Built only when TAG is missing (set
# DEBIAN_IMAGE_REBUILD=1 to force); concurrent callers wait on one lock and build once.
#   scripts/debian-image.sh zpanel-local/debian:bookworm
#   scripts/debian-image.sh zpanel-local/python:3 python3
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: debian-image.sh TAG [PACKAGE...]" >&2; exit 2; }
tag=$1
shift
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
exec 9>"/tmp/zpanel-debian-image.lock"
flock 9
if [ -z "${DEBIAN_IMAGE_REBUILD:-}" ] && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "debian-image.sh: debootstrap is missing (scripts/setup.sh installs it)" >&2
    exit 1
}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
include=()
[ $# -gt 0 ] && include=("--include=$(IFS=,; echo "$*")")
if ! debootstrap --variant=minbase "${include[@]}" bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    echo "debian-image.sh: debootstrap of $tag failed (log above)" >&2
    rm -f "$root.log"
    exit 1
fi
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$tag" >/dev/null
echo "$tag"
