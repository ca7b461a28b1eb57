#!/usr/bin/env bash
# bench/config.sh: `zpanel config` against Docker Compose v2's `docker compose config` on
# the same generated project (2,000 services with anchors and interpolation), in the same run.
# COMPOSE=/path/to/compose-v2 overrides the peer (default: docker-compose-v2, installed by
# scripts/compose-v2.sh; or the `docker compose` plugin).
# Prints the median wall time of each, the ratio, and each one's peak RSS.
#   bench/config.sh [SERVICES] [RUNS]      (defaults: 2000 services, 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
services=${1:-2000}
runs=${2:-5}
zpanel=${ZPANEL:-build/zpanel}
[ -x "$zpanel" ] || { echo "bench: build zpanel first (scripts/build.sh)" >&2; exit 2; }
compose=${COMPOSE:-$(command -v docker-compose-v2 || true)}
[ -n "$compose" ] && [ -x "$compose" ] || { echo "bench: Docker Compose v2 missing (set COMPOSE=...)" >&2; exit 2; }
"$compose" version | grep -q 'version v\?2' || { echo "bench: $compose is not Compose v2" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (scripts/setup.sh)" >&2; exit 2; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 bench/gen_compose.py "$services" "$dir"

measure() { # measure NAME CMD...: median seconds over $runs runs, then peak RSS in KiB
    local times=() i start end
    for i in $(seq 1 "$runs"); do
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }
        end=$(date +%s%N)
        times+=("$(( (end - start) / 1000 ))")
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    local rss
    rss=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)
    echo "$median $rss"
}

cd "$dir"
read -r z_us z_rss < <(measure "$OLDPWD/$zpanel" -p bench config)
read -r d_us d_rss < <(measure "$compose" -p bench config)
cd - >/dev/null
python3 - "$services" "$z_us" "$z_rss" "$d_us" "$d_rss" <<'PY'
import sys
n, z, zr, d, dr = sys.argv[1], *map(int, sys.argv[2:])
print(f"config on {n} services (median wall time, peak RSS):")
print(f"  zpanel config          {z/1e6:8.3f} s  {zr/1024:8.1f} MiB")
print(f"  compose v2 config      {d/1e6:8.3f} s  {dr/1024:8.1f} MiB")
print(f"  speed ratio (compose v2 / zpanel): {d/z:.1f}x")
print(f"  memory ratio (compose v2 / zpanel): {dr/zr:.1f}x")
PY
