#!/usr/bin/env bash
# bench/build_context.sh: throughput of zpanel's build-context tar stream (directory walk,
# .dockerignore, the archive/ tar writer) against `tar -cf - DIR | wc -c` on the same generated ~500 MB
# context, printed as a ratio; then, when an engine answers, a whole `zpanel build` of that
# context against `docker build` (legacy builder) for reference.
#
# usage: bench/build_context.sh [BUILD_DIR]   (BUILD_DIR: a cmake build of the tree, with
#        zpanel and the static libraries built; default: build). SIZE_MB=500 and RUNS=3
#        change the context size and the number of timed runs (the best one counts).
# The context is generated under /tmp at run time and removed at the end.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
SIZE_MB=${SIZE_MB:-500}
RUNS=${RUNS:-3}
WORK=$(mktemp -d /tmp/zp-bench-context-XXXXXX)
trap 'rm -rf "$WORK"; docker image rm -f zp-bench-ctx-zp zp-bench-ctx-docker >/dev/null 2>&1 || true' EXIT

for lib in libzp_orchestrator.a libzp_archive.a libzp_compose.a libzp_engine.a libzp_util.a; do
    [ -f "$BUILD/$lib" ] || { echo "missing $BUILD/$lib: build the tree first" >&2; exit 2; }
done

# A driver that streams the context through the same code `zpanel build` uses, to stdout.
cat >"$WORK/stream.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "orchestrator/context.h"
int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct zp_node *b = zp_node_new_map(NULL);
    zp_node_set(b, "context", zp_node_new_str(argv[1], NULL));
    struct orch_context c;
    struct zp_err err;
    zp_err_init(&err);
    if (orch__context_open(b, &c, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct orch_tar *t = orch__tar_new(&c);
    static char buf[1 << 16]; /* what libcurl asks for per read on a chunked upload */
    size_t n;
    int rc = 0;
    while ((rc = orch__tar_read(t, buf, sizeof(buf), &n, &err)) == 0 && n > 0)
        if (fwrite(buf, 1, n, stdout) != n)
            return 1;
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    fprintf(stderr, "entries=%llu\n", (unsigned long long)orch__tar_entries(t));
    orch__tar_free(t);
    orch__context_release(&c);
    zp_node_free(b);
    return rc != 0;
}
C
cc -O2 -std=c11 -D_FILE_OFFSET_BITS=64 -I"$SRC/src" -o "$WORK/stream" "$WORK/stream.c" \
    "$BUILD/libzp_orchestrator.a" "$BUILD/libzp_archive.a" "$BUILD/libzp_compose.a" "$BUILD/libzp_engine.a" \
    "$BUILD/libzp_util.a" $(pkg-config --libs libarchive libsodium jansson libcurl libfyaml) \
    -lpthread -lm

# The context: big files (90%) and 10,000 small ones, plus a few ignored files.
CTX=$WORK/ctx
mkdir -p "$CTX/big" "$CTX/small" "$CTX/ignored"
big=$((SIZE_MB * 9 / 10))
for i in $(seq 1 "$big"); do head -c 1048576 /dev/urandom >"$CTX/big/f$i"; done
small_kb=$(((SIZE_MB - big) * 1024 / 10000))
[ "$small_kb" -ge 1 ] || small_kb=1
for d in $(seq 1 100); do
    mkdir "$CTX/small/d$d"
    for f in $(seq 1 100); do head -c $((small_kb * 1024)) /dev/urandom >"$CTX/small/d$d/f$f"; done
done
head -c 1048576 /dev/urandom >"$CTX/ignored/never-sent"
printf 'ignored\n*.tmp\n' >"$CTX/.dockerignore"
printf 'FROM scratch\nCOPY .dockerignore /\n' >"$CTX/Dockerfile"
printf 'services:\n  ctx:\n    image: zp-bench-ctx-zp\n    build: .\n' >"$CTX/compose.yaml"
cat "$CTX"/big/* "$CTX"/small/*/* >/dev/null # warm the page cache for both sides
echo "context: $(du -sm "$CTX" | cut -f1) MB, $(find "$CTX" -type f | wc -l) files"

# best_of CMD...: prints the best wall time in seconds of RUNS runs and the bytes written
best_of() {
    local best="" t0 t1 t bytes=0
    for _ in $(seq 1 "$RUNS"); do
        t0=$(date +%s.%N)
        bytes=$("$@" 2>/dev/null | wc -c)
        t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$best $bytes"
}

read -r t_tar b_tar < <(best_of tar -cf - -C "$CTX" .)
read -r t_zp b_zp < <(best_of "$WORK/stream" "$CTX")
mbps() { echo "scale=1; $1 / 1048576 / $2" | bc -l; }
printf 'tar -cf - | wc -c : %8.3f s  %6s MB/s  (%d bytes)\n' "$t_tar" "$(mbps "$b_tar" "$t_tar")" "$b_tar"
printf 'zpanel context    : %8.3f s  %6s MB/s  (%d bytes, ignore rules applied)\n' "$t_zp" \
    "$(mbps "$b_zp" "$t_zp")" "$b_zp"
printf 'throughput ratio zpanel/tar: %s\n' "$(echo "scale=2; ($b_zp / $t_zp) / ($b_tar / $t_tar)" | bc -l)"
printf 'peak memory of the stream: %s KB\n' \
    "$(/usr/bin/time -f %M "$WORK/stream" "$CTX" 2>&1 >/dev/null | tail -1)"

# The whole build through the engine, for reference (the engine's side dominates).
if [ -x "$BUILD/zpanel" ] && "$BUILD/zpanel" --help 2>/dev/null | grep -q '^  build ' &&
    curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null; then
    t0=$(date +%s.%N)
    "$BUILD/zpanel" -p zp-bench -f "$CTX/compose.yaml" build -q
    t1=$(date +%s.%N)
    DOCKER_BUILDKIT=0 docker build -q -t zp-bench-ctx-docker "$CTX" >/dev/null 2>&1
    t2=$(date +%s.%N)
    printf 'zpanel build : %8.3f s\n' "$(echo "$t1 - $t0" | bc -l)"
    printf 'docker build : %8.3f s  (legacy builder, same context)\n' "$(echo "$t2 - $t1" | bc -l)"
fi
