#!/usr/bin/env bash
# bench/status.sh: `zpanel status` latency on 100 running busybox containers (four services
# scaled to 25, two with health checks, two with memory limits), side by side with
# `docker compose ps` (Docker Compose v2) on the same project deployed by Compose, in the
# same run; also `zpanel status --no-usage`, `zpanel ps`, and `docker stats --no-stream` on
# the same containers (the engine's own time to report usage). Then counts the requests
# one `zpanel status` makes, through a counting proxy in front of the engine's socket.
#   bench/status.sh [RUNS]   (default 5; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-5}
zpanel=${ZPANEL:-$root/build/zpanel}
[ -x "$zpanel" ] || { echo "bench: build zpanel first (scripts/build.sh)" >&2; exit 2; }
# Docker Compose v2: $COMPOSE, else docker-compose-v2 on PATH or in /usr/local/bin
if [ -n "${COMPOSE:-}" ]; then
    compose=("$COMPOSE")
elif command -v docker-compose-v2 >/dev/null; then
    compose=(docker-compose-v2)
elif [ -x /usr/local/bin/docker-compose-v2 ]; then
    compose=(/usr/local/bin/docker-compose-v2)
else
    compose=(docker compose)
fi
case "$("${compose[@]}" version --short 2>/dev/null || true)" in
2.* | v2.*) ;;
*) echo "bench: Docker Compose v2 is needed (scripts/compose-v2.sh)" >&2; exit 2 ;;
esac
ZPANEL=$zpanel
. tests/e2e/lib-engine.sh
test_image

dir=$(mktemp -d)
proxy_pid=
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
    "$zpanel" -p zpstatbench -f "$dir/compose.yaml" --progress quiet down -t 0 >/dev/null 2>&1 || true
    "${compose[@]}" -p dcstatbench -f "$dir/compose.yaml" down -t 0 >/dev/null 2>&1 || true
    cleanup_project zpstatbench
    cleanup_project dcstatbench
    rm -rf "$dir"
}
trap cleanup EXIT
cleanup_project zpstatbench
cleanup_project dcstatbench

cat >"$dir/compose.yaml" <<YAML
services:
  web:
    image: $TEST_IMAGE
    command: ["sleep", "100000"]
    init: true
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
    mem_limit: 32m
  worker:
    image: $TEST_IMAGE
    command: ["sleep", "100000"]
    init: true
    mem_limit: 16m
  cache:
    image: $TEST_IMAGE
    command: ["sleep", "100000"]
    init: true
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
  cron:
    image: $TEST_IMAGE
    command: ["sleep", "100000"]
    init: true
YAML
scale=(--scale web=25 --scale worker=25 --scale cache=25 --scale cron=25)
zp=("$zpanel" -p zpstatbench -f "$dir/compose.yaml")
dc=("${compose[@]}" -p dcstatbench -f "$dir/compose.yaml")

echo "deploying 2 x 100 containers..." >&2
"${zp[@]}" --progress quiet up -d "${scale[@]}" >/dev/null
"${dc[@]}" up -d "${scale[@]}" >/dev/null 2>&1
n_zp=$(docker ps -q --filter label=io.zpanel.project=zpstatbench | wc -l)
n_dc=$(docker ps -q --filter label=com.docker.compose.project=dcstatbench | wc -l)
[ "$n_zp" -eq 100 ] && [ "$n_dc" -eq 100 ] || { echo "bench: $n_zp / $n_dc containers running, want 100" >&2; exit 1; }
# let the first health probes pass
sleep 2

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
declare -A T
for run in $(seq 1 "$runs"); do
    t0=$(now); "${zp[@]}" status >/dev/null; t1=$(now); T[status,$run]=$(ms "$t0" "$t1")
    t0=$(now); "${zp[@]}" status --no-usage >/dev/null; t1=$(now); T[nousage,$run]=$(ms "$t0" "$t1")
    t0=$(now); "${zp[@]}" ps >/dev/null; t1=$(now); T[zps,$run]=$(ms "$t0" "$t1")
    t0=$(now); "${dc[@]}" ps >/dev/null 2>&1; t1=$(now); T[dcps,$run]=$(ms "$t0" "$t1")
    # the engine's own floor for usage figures: docker stats on the same 100 containers
    ids=$(docker ps -q --filter label=io.zpanel.project=zpstatbench)
    t0=$(now); docker stats --no-stream $ids >/dev/null; t1=$(now); T[dstats,$run]=$(ms "$t0" "$t1")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
m() { local v=() r; for r in $(seq 1 "$runs"); do v+=("${T[$1,$r]}"); done; median "${v[@]}"; }

# engine requests of one `zpanel status`, counted by a proxy in front of the socket
python3 - "$dir/proxy.sock" "$dir/counts" <<'PY' &
import os, re, signal, socket, sys, threading
path, out = sys.argv[1], sys.argv[2]
counts = {}
lock = threading.Lock()
req = re.compile(rb'(?:^|\r\n)(GET|POST|PUT|DELETE|HEAD) (/[^ ?]*)[^ ]* HTTP/1\.[01]\r\n')
def kind(p):
    p = re.sub(r'^/v1\.\d+', '', p)
    p = re.sub(r'^/containers/(?!json)[^/]+', '/containers/{id}', p)
    return p
def pump(src, dst, count):
    buf = b''
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            if count:
                buf = (buf + d)[-8192:]
                for m in req.finditer(buf):
                    with lock:
                        k = m.group(1).decode() + ' ' + kind(m.group(2).decode())
                        counts[k] = counts.get(k, 0) + 1
                buf = buf[buf.rfind(b'\r\n\r\n') + 4:] if b'\r\n\r\n' in buf else buf
            dst.sendall(d)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(c):
    e = socket.socket(socket.AF_UNIX)
    e.connect('/var/run/docker.sock')
    threading.Thread(target=pump, args=(e, c, False), daemon=True).start()
    pump(c, e, True)
def dump(*_):
    with open(out, 'w') as f:
        for k, v in sorted(counts.items()):
            f.write(f'{v} {k}\n')
    sys.exit(0)
signal.signal(signal.SIGTERM, dump)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1024)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
proxy_pid=$!
for _ in $(seq 1 50); do [ -S "$dir/proxy.sock" ] && break; sleep 0.1; done
"$zpanel" -H "unix://$dir/proxy.sock" -p zpstatbench -f "$dir/compose.yaml" status >/dev/null
kill -TERM "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=

printf '%-34s %8s\n' "100 containers, median of $runs" "ms"
printf '%-34s %8s\n' "zpanel status" "$(m status)"
printf '%-34s %8s\n' "zpanel status --no-usage" "$(m nousage)"
printf '%-34s %8s\n' "zpanel ps" "$(m zps)"
printf '%-34s %8s\n' "compose v2 ps" "$(m dcps)"
printf '%-34s %8s\n' "docker stats --no-stream (100)" "$(m dstats)"
python3 - "$(m status)" "$(m nousage)" "$(m dcps)" <<'PY'
import sys
s, n, d = map(int, sys.argv[1:])
print(f"compose v2 ps / zpanel status = {d / s:.2f}x   "
      f"compose v2 ps / zpanel status --no-usage = {d / n:.1f}x")
PY
echo "engine requests of one 'zpanel status' (100 running containers):"
sed 's/^/  /' "$dir/counts"
awk '{ n += $1 } END { printf "  total %d = %.2f per container\n", n, n / 100 }' "$dir/counts"
