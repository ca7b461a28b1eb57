#!/usr/bin/env bash
# build.sh: configure and build zpanel into build/ (Release-like, with debug info), and stage
# Debian's static busybox into the bundled example's build context (examples/hello/web),
# which builds its images from it instead of pulling from a registry.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
if [ -x /bin/busybox ] && ! cmp -s /bin/busybox examples/hello/web/busybox; then
    cp /bin/busybox examples/hello/web/busybox
fi
