#!/usr/bin/env bash
# bench/up.sh: `zpanel` against Docker Compose v2 on the same project, in the same run:
# 20 services in four chains of five health-gated services (bench/gen_chains.py), both
# with `up -d --wait`. Times up (to all healthy), a no-op up, ps and down for each tool,
# the runs of the two tools interleaved (the machine may be shared: medians), and the
# engine's health gates: their sum along the longest chain, from the engine's own
# timestamps (each gate = from the container's start to the engine's first healthy probe).
# That bounds a tool that waits for the engine's verdict (Compose v2); zpanel opens a gate
# on its own run of the check (orchestrator/probe.c), usually sooner.
#   bench/up.sh [RUNS]   (default 5; medians reported)
#   COMPOSE=/path/to/docker-compose-v2 (default: docker-compose-v2 on PATH, else
#   /usr/local/bin/docker-compose-v2, else `docker compose`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-5}
zpanel=${ZPANEL:-$root/build/zpanel}
[ -x "$zpanel" ] || { echo "bench: build zpanel first (scripts/build.sh)" >&2; exit 2; }
if [ -n "${COMPOSE:-}" ]; then
    compose=("$COMPOSE")
elif command -v docker-compose-v2 >/dev/null; then
    compose=(docker-compose-v2)
elif [ -x /usr/local/bin/docker-compose-v2 ]; then
    compose=(/usr/local/bin/docker-compose-v2)
else
    compose=(docker compose)
fi
cver=$("${compose[@]}" version --short 2>/dev/null || true)
case "$cver" in
2.* | v2.*) ;;
*)
    echo "bench: Docker Compose v2 is needed (got '${cver:-nothing}' from ${compose[*]});" \
        "scripts/compose-v2.sh installs it" >&2
    exit 2
    ;;
esac
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

healthy_count() { docker ps --filter "label=$1" --filter health=healthy -q | wc -l; }

declare -A T
for run in $(seq 1 "$runs"); do
    # alternate which tool goes first, so that neither always runs on a warmer engine
    if [ $((run % 2)) -eq 1 ]; then order="zpanel compose"; else order="compose zpanel"; fi
    for tool in $order; do
        if [ "$tool" = zpanel ]; then
            cmd=("$zpanel" -p zpbench -f "$dir/compose.yaml")
            label=io.zpanel.project=zpbench
            watch_events io.zpanel.project zpbench io.zpanel.service "$dir/events"
        else
            cmd=("${compose[@]}" -p dcbench -f "$dir/compose.yaml")
            label=com.docker.compose.project=dcbench
            watch_events com.docker.compose.project dcbench com.docker.compose.service "$dir/events"
        fi
        up=("${cmd[@]}" up -d --wait)
        t0=$(now)
        "${up[@]}" >/dev/null 2>"$dir/up.err" ||
            { echo "bench: $tool up failed (a loaded machine can time out health probes): $(tail -3 "$dir/up.err")" >&2; exit 1; }
        t1=$(now)
        T[$tool,up,$run]=$(ms "$t0" "$t1")
        n=$(healthy_count "$label")
        [ "$n" -eq 20 ] || { echo "bench: $tool up --wait left $n of 20 services healthy" >&2; exit 1; }
        kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
        T[$tool,gates,$run]=$(gate_sum "$dir/events")
        t0=$(now); "${up[@]}" >/dev/null 2>&1; t1=$(now); T[$tool,noop,$run]=$(ms "$t0" "$t1")
        t0=$(now); "${cmd[@]}" ps >/dev/null 2>&1; t1=$(now); T[$tool,ps,$run]=$(ms "$t0" "$t1")
        t0=$(now); "${cmd[@]}" down >/dev/null 2>&1; t1=$(now); T[$tool,down,$run]=$(ms "$t0" "$t1")
    done
    echo "run $run: up ${T[zpanel,up,$run]} / ${T[compose,up,$run]} ms," \
        "no-op ${T[zpanel,noop,$run]} / ${T[compose,noop,$run]} ms," \
        "down ${T[zpanel,down,$run]} / ${T[compose,down,$run]} ms (zpanel / compose v2)"
done

median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
m() { local v=() r; for r in $(seq 1 "$runs"); do v+=("${T[$1,$2,$r]}"); done; median "${v[@]}"; }
echo "medians of $runs interleaved runs; Docker Compose $cver; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %10s %18s %8s\n' "" zpanel "compose v2" ratio
for what in up noop ps down; do
    z=$(m zpanel $what) c=$(m compose $what)
    printf '%-10s %8s ms %15s ms %7sx\n' "$what" "$z" "$c" \
        "$(python3 -c "print(f'{$c / max($z, 1):.2f}')")"
done
printf "engine's health gates (their sum on the longest chain): zpanel runs %s ms, compose runs %s ms\n" \
    "$(m zpanel gates)" "$(m compose gates)"
python3 - "$(m zpanel up)" "$(m compose up)" "$(m zpanel down)" "$(m compose down)" \
    "$(m zpanel noop)" "$(m compose noop)" <<'PY'
import sys
zu, cu, zd, cd, zn, cn = map(int, sys.argv[1:])
print(f"up: compose v2 / zpanel = {cu / zu:.2f}x (goal >= 1.5)")
print(f"down: compose v2 / zpanel = {cd / max(zd, 1):.2f}x (goal >= 1.0)")
print(f"no-op up: compose v2 / zpanel = {cn / max(zn, 1):.1f}x (goal >= 20)")
PY
