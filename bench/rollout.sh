#!/usr/bin/env bash
# bench/rollout.sh [SECONDS] [RUNS]: requests per second and p99 latency through zpanel's
# proxy (Caddy edge + router, both on 127.0.0.1) in steady state, and while a routed
# service is rolled out again and again (each `up` changes its VERSION: start the new
# container, probe it, switch, drain, remove the old one), with the same wrk load
# (2 threads, 16 keep-alive connections) for SECONDS each (default 15). A third window,
# the control, runs the same load while unrelated containers of the same image are
# started and removed back to back: on a small host starting containers (dockerd,
# containerd, runc) costs latency by itself, and rollout/control is the share of the
# switch. Prints the three, the ratios, the rollouts done and every error; RUNS
# (default 1) repeats them.
# Needs: a built zpanel (ZPANEL, default build/zpanel), Docker, wrk, cc (the webver test
# server), and the proxy image (PROXY_IMAGE, default zpanel-local/caddy:2 from
# scripts/caddy-image.sh). Goal: no error, p99 during rollouts within 2x steady state.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZPANEL=${ZPANEL:-$ROOT/build/zpanel}
SECS=${1:-15}
RUNS=${2:-1}
PROXY_IMAGE=${PROXY_IMAGE:-zpanel-local/caddy:2}
P=zpbenchroll
export ZP_SOURCE_DIR=$ROOT
# shellcheck source=../tests/e2e/lib-webver.sh
source "$ROOT/tests/e2e/lib-webver.sh"

for tool in wrk docker cc python3; do
    command -v $tool >/dev/null || { echo "rollout.sh: $tool is needed" >&2; exit 1; }
done
[ -x "$ZPANEL" ] || { echo "rollout.sh: no zpanel at $ZPANEL (scripts/build.sh)" >&2; exit 1; }
docker image inspect "$PROXY_IMAGE" >/dev/null 2>&1 || "$ROOT/scripts/caddy-image.sh" "$PROXY_IMAGE"
webver_image 1

TMP=$(mktemp -d)
export ZPANEL_STATE_DIR=$TMP/state
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
F=$TMP/compose.yaml
cat >"$F" <<YAML
name: $P
services:
  web:
    image: $WEBVER_IMAGE
    environment:
      VERSION: \${VERSION:-v0}
    stop_grace_period: 5s
    x-zpanel:
      routes:
        - host: bench.localhost
          port: 8080
      tls: "off"
      health:
        path: /up
        interval: 100ms
        timeout: 5s
      drain_timeout: 5s
YAML
cleanup() {
    docker rm -f "$P-churn" >/dev/null 2>&1 || true
    "$ZPANEL" -f "$F" down >/dev/null 2>&1 || true
    "$ZPANEL" proxy down >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

"$ZPANEL" proxy up --image "$PROXY_IMAGE" --http-port "$PORT" --https-port 0 --bind 127.0.0.1 >/dev/null 2>&1
VERSION=v0 "$ZPANEL" -f "$F" --progress quiet up -d --wait
for _ in $(seq 50); do
    [ "$(curl -s -m 2 -H 'Host: bench.localhost' "http://127.0.0.1:$PORT/")" = v0 ] && break
    sleep 0.2
done

load() { # load OUT: wrk for SECS seconds through the proxy
    wrk -t2 -c16 -d"${SECS}s" -s "$ROOT/tests/e2e/wrk-count.lua" -H "Host: bench.localhost" \
        "http://127.0.0.1:$PORT/" >"$1" 2>&1
}
field() { awk -v k="$2" '$1 == "requests" { for (i = 3; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$1"; }
rps() { awk '$1 == "requests" { printf "%.0f", $2 / ($4 / 1e6) }' "$1"; }
errs() { # non-2xx responses plus socket errors
    awk '$1 == "status" && $2 !~ /^2/ { n += $3 } $1 == "errors" { for (i = 2; i <= NF; i++) { split($i, kv, "="); n += kv[2] } } END { print n + 0 }' "$1"
}

v=0
for run in $(seq "$RUNS"); do
    load "$TMP/steady"
    load "$TMP/control" &
    wrk_pid=$!
    churn=0
    end=$(($(date +%s) + SECS - 1))
    while [ "$(date +%s)" -lt $end ]; do
        docker run -d --name "$P-churn" --network zpanel "$WEBVER_IMAGE" >/dev/null
        docker rm -f "$P-churn" >/dev/null
        churn=$((churn + 1))
    done
    wait $wrk_pid
    load "$TMP/roll" &
    wrk_pid=$!
    rollouts=0 failed=0
    end=$(($(date +%s) + SECS - 1))
    while [ "$(date +%s)" -lt $end ]; do
        v=$((v + 1))
        if VERSION=v$v "$ZPANEL" -f "$F" --progress quiet up -d web; then
            rollouts=$((rollouts + 1))
        else
            failed=$((failed + 1))
        fi
    done
    wait $wrk_pid
    s_rps=$(rps "$TMP/steady") r_rps=$(rps "$TMP/roll") c_rps=$(rps "$TMP/control")
    s_p99=$(field "$TMP/steady" p99) r_p99=$(field "$TMP/roll" p99) c_p99=$(field "$TMP/control" p99)
    versions=$(awk '$1 == "body" { n++ } END { print n + 0 }' "$TMP/roll")
    echo "run $run: ${SECS}s each, $rollouts rollouts ($failed failed), $versions versions served" \
        "under load; control: $churn containers started and removed"
    awk -v sr="$s_rps" -v rr="$r_rps" -v cr="$c_rps" -v sp="$s_p99" -v rp="$r_p99" -v cp="$c_p99" \
        -v se="$(errs "$TMP/steady")" -v re="$(errs "$TMP/roll")" -v ce="$(errs "$TMP/control")" 'BEGIN {
        printf "  %-26s %10s %10s %8s\n", "", "req/s", "p99 (ms)", "errors"
        printf "  %-26s %10d %10.2f %8d\n", "steady state", sr, sp / 1000, se
        printf "  %-26s %10d %10.2f %8d\n", "control (container churn)", cr, cp / 1000, ce
        printf "  %-26s %10d %10.2f %8d\n", "during rollouts", rr, rp / 1000, re
        printf "  %-26s %10.2f %10.2f\n", "ratio rollout/steady", rr / sr, rp / sp
        printf "  %-26s %10.2f %10.2f\n", "ratio rollout/control", rr / cr, rp / cp }'
done
