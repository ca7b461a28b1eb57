#!/usr/bin/env bash
# bench/swarm.sh [RUNS]: Docker Swarm deploys, zpanel vs `docker stack deploy` of the same
# file in the same run, on a single-node swarm (made with `docker swarm init` and left at
# the end when the engine was not in one; an existing swarm is used and kept). Per run,
# for each tool: the first deploy of a 3-replica service with a health check until its
# 3 tasks run, then a start-first update (an environment change) until the update
# completed. `docker stack deploy` returns before anything runs, so its time includes
# polling (every 100 ms) until the same state (and --resolve-image never: no registry is
# reachable here, and zpanel does not query one either); `zpanel up` waits by itself. Prints the
# best of RUNS for each and the ratios (zpanel / stack: below 1 is faster).
set -euo pipefail
RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZPANEL=${ZPANEL:-$ROOT/build/zpanel}
source "$ROOT/tests/e2e/lib-engine.sh"
W=$(mktemp -d /var/tmp/zpbench.XXXXXX)
export ZPANEL_STATE_DIR=$W/state
PZ=zpbench-swarm-z
PS=zpbench-swarm-s
created=0
cleanup() {
    docker stack rm $PS >/dev/null 2>&1 || true
    (cd "$W" && "$ZPANEL" -p $PZ -f "$W/compose.yaml" --progress quiet down >/dev/null 2>&1) || true
    if [ "$created" = 1 ]; then
        # the stack's network goes asynchronously; leaving removes whatever is left
        sleep 1
        docker swarm leave --force >/dev/null 2>&1 || true
    fi
    rm -rf "$W"
}
trap cleanup EXIT
test_image
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; then
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    created=1
fi

# write VERSION: the file (VERSION in an environment variable: a change rolls the tasks)
write() {
    cat >"$W/compose.yaml" <<YAML
version: "3.8"
services:
  web:
    image: $TEST_IMAGE
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    environment:
      VERSION: "$1"
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      timeout: 5s
      retries: 3
    deploy:
      replicas: 3
      update_config: {parallelism: 1, delay: 0s, order: start-first, monitor: 1s, failure_action: rollback}
YAML
}

now() { date +%s.%N; }
# converged SERVICE: 3 running tasks of the current spec and no update in progress
converged() {
    local st
    st=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$1" 2>/dev/null) || return 1
    [ -z "$st" ] || [ "$st" = completed ] || return 1
    [ "$(docker service ps -q --filter desired-state=running "$1" | wc -l)" -eq 3 ] || return 1
    [ "$(docker service ls --filter "name=$1" --format '{{.Replicas}}')" = "3/3" ]
}
stack_deploy() {
    docker stack deploy --resolve-image never -c "$W/compose.yaml" $PS >/dev/null 2>&1
    # the spec changes at once; let the update start before polling for its end
    sleep 0.2
    local i=0
    until converged ${PS}_web; do
        i=$((i + 1))
        [ $i -lt 1200 ] || { echo "stack did not converge" >&2; exit 1; }
        sleep 0.1
    done
}
zpanel_up() {
    (cd "$W" && "$ZPANEL" -p $PZ -f "$W/compose.yaml" --progress quiet up -d --swarm)
}
# timed CMD...: seconds taken
timed() {
    local t0 t1
    t0=$(now)
    "$@"
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
best() { printf '%s\n' "$@" | sort -g | head -1; }

zc=() zu=() sc=() su=()
for run in $(seq 1 "$RUNS"); do
    write "v$run-a"
    zc+=("$(timed zpanel_up)")
    sc+=("$(timed stack_deploy)")
    write "v$run-b"
    zu+=("$(timed zpanel_up)")
    su+=("$(timed stack_deploy)")
    (cd "$W" && "$ZPANEL" -p $PZ -f "$W/compose.yaml" --progress quiet down >/dev/null 2>&1)
    docker stack rm $PS >/dev/null 2>&1
    # wait for the stack's tasks to go before the next run
    for _ in $(seq 1 300); do
        [ -z "$(docker ps -q --filter "label=com.docker.stack.namespace=$PS")" ] && break
        sleep 0.1
    done
done
bz=$(best "${zc[@]}") bs=$(best "${sc[@]}")
uz=$(best "${zu[@]}") us=$(best "${su[@]}")
printf '%-40s %8s %8s %6s\n' "best of $RUNS (seconds)" zpanel stack ratio
printf '%-40s %8.2f %8.2f %6.2f\n' "deploy 3 replicas until running" "$bz" "$bs" "$(echo "$bz / $bs" | bc -l)"
printf '%-40s %8.2f %8.2f %6.2f\n' "start-first update until completed" "$uz" "$us" "$(echo "$uz / $us" | bc -l)"
