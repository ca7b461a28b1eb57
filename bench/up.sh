#!/usr/bin/env bash
# bench/up.sh: `zpanel` against Debian's `docker-compose` on the same project, in the same
# run: 20 services in four chains of five health-gated services (bench/gen_chains.py).
# Times up (to all healthy), a no-op up, ps and down for each tool, and the critical path:
# the sum of the health gates along the longest chain, measured from the engine's own
# timestamps (each gate = from the container's start to its first healthy probe).
#   bench/up.sh [RUNS]   (default 3; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
zpanel=${ZPANEL:-$root/build/zpanel}
[ -x "$zpanel" ] || { echo "bench: build zpanel first (scripts/build.sh)" >&2; exit 2; }
command -v docker-compose >/dev/null || { echo "bench: docker-compose missing (scripts/setup.sh)" >&2; exit 2; }
ZPANEL=$zpanel
. tests/e2e/lib-engine.sh
test_image

dir=$(mktemp -d)
trap 'cleanup_project zpbench; cleanup_project dcbench; rm -rf "$dir"' EXIT
python3 bench/gen_chains.py 4 5 "$TEST_IMAGE" "$dir/compose.yaml"
cleanup_project zpbench
cleanup_project dcbench

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

# watch_events LABEL PROJECT SERVICE_LABEL FILE: record the project's container events
# (time, action, service) into FILE in the background; the engine keeps too few past
# events (health probes flood them) to read them back afterwards.
watch_events() {
    docker events --filter "label=$1=$2" --filter type=container \
        --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "'"$3"'"}}' >"$4" &
    watcher=$!
    sleep 0.3
}

# gate_sum FILE: the longest chain's sum of health gates in ms, each gate = from the
# container's start event to its first "healthy" event.
gate_sum() {
    python3 -c '
import sys
start, healthy = {}, {}
for line in sys.stdin:
    t, rest = line.split(" ", 1)
    action, _, svc = rest.strip().rpartition(" ")
    if action == "start":
        start.setdefault(svc, int(t))
    elif action == "health_status: healthy":
        healthy.setdefault(svc, int(t))
best = 0
for c in range(4):
    total = sum(healthy[f"c{c}s{i}"] - start[f"c{c}s{i}"] for i in range(5))
    best = max(best, total)
print(best // 1000000)' <"$1"
}

declare -A T
for run in $(seq 1 "$runs"); do
    for tool in zpanel docker-compose; do
        if [ "$tool" = zpanel ]; then
            cmd=("$zpanel" -p zpbench -f "$dir/compose.yaml")
            up=("${cmd[@]}" up -d --wait)
        else
            cmd=(docker-compose -p dcbench -f "$dir/compose.yaml")
            up=("${cmd[@]}" up -d)
        fi
        if [ "$tool" = zpanel ]; then
            watch_events io.zpanel.project zpbench io.zpanel.service "$dir/events"
        else
            watch_events com.docker.compose.project dcbench com.docker.compose.service "$dir/events"
        fi
        t0=$(now); "${up[@]}" >/dev/null 2>&1; t1=$(now)
        if [ "$tool" = docker-compose ]; then
            # docker-compose 1.29 has no --wait: wait for the last services to be healthy
            for _ in $(seq 1 600); do
                n=$(docker ps --filter label=com.docker.compose.project=dcbench --filter health=healthy -q | wc -l)
                [ "$n" -ge 20 ] && break
                sleep 0.05
            done
            t1=$(now)
        fi
        T[$tool,up,$run]=$(ms "$t0" "$t1")
        kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
        T[$tool,gates,$run]=$(gate_sum "$dir/events")
        t0=$(now); "${up[@]}" >/dev/null 2>&1; t1=$(now); T[$tool,noop,$run]=$(ms "$t0" "$t1")
        t0=$(now); "${cmd[@]}" ps >/dev/null 2>&1; t1=$(now); T[$tool,ps,$run]=$(ms "$t0" "$t1")
        t0=$(now); "${cmd[@]}" down >/dev/null 2>&1; t1=$(now); T[$tool,down,$run]=$(ms "$t0" "$t1")
    done
done

median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
m() { local v=() r; for r in $(seq 1 "$runs"); do v+=("${T[$1,$2,$r]}"); done; median "${v[@]}"; }
printf '%-10s %10s %16s\n' "" zpanel docker-compose
for what in up noop ps down; do
    printf '%-10s %8s ms %13s ms\n' "$what" "$(m zpanel $what)" "$(m docker-compose $what)"
done
zg=$(m zpanel gates)
printf 'critical path (sum of health gates on the longest chain): zpanel run %s ms, docker-compose run %s ms\n' "$zg" "$(m docker-compose gates)"
python3 - "$(m zpanel up)" "$zg" "$(m docker-compose up)" "$(m zpanel down)" "$(m docker-compose down)" "$(m zpanel noop)" <<'PY'
import sys
zu, zg, du, zd, dd, zn = map(int, sys.argv[1:])
print(f"up / critical path: {zu / zg:.2f}   (goal <= 1.3)")
print(f"up: docker-compose / zpanel = {du / zu:.1f}x   down: {dd / zd:.1f}x   (goal >= 3)")
print(f"no-op up: {zn} ms   (goal < 300 ms)")
PY
