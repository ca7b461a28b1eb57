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

# gate_sum PROJECT_LABEL VALUE: the longest chain's sum of (healthy - started) in ms
gate_sum() {
    local best=0 c i id sum started healthy
    for c in 0 1 2 3; do
        sum=0
        for i in 0 1 2 3 4; do
            id=$(docker ps -q --filter "label=$1=$2" --filter "label=$3=c${c}s${i}" | head -1)
            started=$(docker inspect -f '{{.State.StartedAt}}' "$id")
            healthy=$(docker inspect -f '{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End}}{{"\n"}}{{end}}{{end}}' "$id" | head -1)
            sum=$((sum + $(python3 -c 'import sys
from datetime import datetime
def t(s):
    s = s.strip().replace("Z", "+00:00")
    head, _, frac = s.partition(".")
    tz = frac[frac.find("+"):] if "+" in frac else ""
    frac = frac[:frac.find("+")] if "+" in frac else frac
    return datetime.fromisoformat(head + tz).timestamp() + float("0." + (frac or "0"))
print(int((t(sys.argv[2]) - t(sys.argv[1])) * 1000))' "$started" "$healthy")))
        done
        [ "$sum" -gt "$best" ] && best=$sum
    done
    echo "$best"
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
        if [ "$tool" = zpanel ]; then
            T[$tool,gates,$run]=$(gate_sum io.zpanel.project zpbench io.zpanel.service)
        else
            T[$tool,gates,$run]=$(gate_sum com.docker.compose.project dcbench com.docker.compose.service)
        fi
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
printf 'critical path (zpanel run, sum of health gates on the longest chain): %s ms\n' "$zg"
python3 - "$(m zpanel up)" "$zg" "$(m docker-compose up)" "$(m zpanel down)" "$(m docker-compose down)" "$(m zpanel noop)" <<'PY'
import sys
zu, zg, du, zd, dd, zn = map(int, sys.argv[1:])
print(f"up / critical path: {zu / zg:.2f}   (goal <= 1.3)")
print(f"up: docker-compose / zpanel = {du / zu:.1f}x   down: {dd / zd:.1f}x   (goal >= 3)")
print(f"no-op up: {zn} ms   (goal < 300 ms)")
PY
