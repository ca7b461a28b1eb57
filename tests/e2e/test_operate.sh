#!/usr/bin/env bash
# test_operate.sh: the operating commands against the real engine: health exit codes and
# reasons (healthy, unhealthy with the probe's message, a restart loop naming the exit
# code, exited, no container), status table and JSON fields, stats --no-stream, rebuild
# (new image without cache, container recreated), cleanup (only this project's leftovers;
# foreign objects survive; --dry-run removes nothing; release retention).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2eoperate
FOREIGN_IMG=zpe2eoperate-foreign/img
require_engine
test_image || fail "building $TEST_IMAGE"

cleanup_all() {
    cleanup_project $P
    docker rm -f ${P}-foreign >/dev/null 2>&1
    docker network rm ${P}_stale ${P}-foreign-net >/dev/null 2>&1
    docker images -q --filter "label=io.zpanel.project=$P" | sort -u | xargs -r docker image rm -f >/dev/null 2>&1
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^(zpanel-release/$P-|$FOREIGN_IMG:|$P-)" |
        xargs -r docker image rm -f >/dev/null 2>&1
    [ -n "${FOREIGN_DANGLING:-}" ] && docker image rm -f "$FOREIGN_DANGLING" >/dev/null 2>&1
    true
}
cleanup_all
trap 'cleanup_all; rm -rf "$TMP"' EXIT
export ZPANEL_STATE_DIR=$TMP/state

mkdir -p "$TMP/app"
cat >"$TMP/app/Dockerfile" <<DOCKERFILE
FROM $TEST_IMAGE
RUN date +%s%N > /stamp
CMD ["sleep", "1000"]
DOCKERFILE
F=$TMP/compose.yaml
cat >"$F" <<YAML
name: $P
services:
  ok:
    image: $TEST_IMAGE
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
    ports: ["127.0.0.1::80"]
    deploy:
      resources:
        limits:
          memory: 48M
  plain:
    image: $TEST_IMAGE
    command: ["sleep", "1000"]
  sick:
    image: $TEST_IMAGE
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD-SHELL", "echo 'db is down: connection refused'; exit 1"]
      interval: 1s
      retries: 1
  loop:
    image: $TEST_IMAGE
    command: ["sh", "-c", "exit 3"]
    restart: always
  done:
    image: $TEST_IMAGE
    command: ["sh", "-c", "exit 1"]
  app:
    build: ./app
    command: ["sleep", "1000"]
  ghost:
    image: $TEST_IMAGE
    command: ["sleep", "1000"]
YAML
zp() { "$ZPANEL" -p $P -f "$F" --progress quiet "$@"; }

run zp up -d ok plain sick loop done app
expect_rc 0 "up"

# wait (bounded) for the health checks and the restart loop to settle
for _ in $(seq 1 60); do
    h_ok=$(inspect_field $P-ok-1 '{{.State.Health.Status}}')
    h_sick=$(inspect_field $P-sick-1 '{{.State.Health.Status}}')
    restarts=$(inspect_field $P-loop-1 '{{.RestartCount}}')
    [ "$h_ok" = healthy ] && [ "$h_sick" = unhealthy ] && [ "${restarts:-0}" -ge 2 ] && break
    sleep 0.25
done

# --- health
run zp health ok
expect_rc 0 "health of a healthy service"
run zp health plain
expect_rc 0 "health of a running service without a health check"
run zp health ok plain
expect_rc 0 "health of two passing services"
expect_out_has "all 2 services healthy" "summary line"
run zp health -q ok plain
expect_rc 0 "health -q"
expect_out_eq "" "health -q prints nothing"
run zp health sick
expect_rc 1 "health of an unhealthy service"
expect_out_has "sick: unhealthy: db is down: connection refused" "the probe's output is shown"
# the restart loop: wait until it is caught between two runs (bounded)
for _ in $(seq 1 20); do
    run zp health loop
    grep -qF "restarting in a loop" <<<"$OUT" && break
    sleep 0.2
done
expect_rc 1 "health of a restart loop"
expect_out_has "loop: restarting in a loop: exit code 3, not OOM-killed" "exit code and OOM flag named"
run zp health done
expect_rc 1 "health of an exited service"
expect_out_has "done: exited with code 1" "exited with its code"
run zp health ghost
expect_rc 1 "health of a service without a container"
expect_out_has "ghost: not running" "no container: not running"
# (retried, bounded: the looping container is now and then caught running for a moment)
for _ in $(seq 1 20); do
    run zp health
    grep -qF "loop: " <<<"$OUT" && break
    sleep 0.2
done
expect_rc 1 "health of the whole project"
for s in sick loop done ghost; do expect_out_has "$s: " "whole-project health names $s"; done
if grep -qE "^(ok|plain|app):" <<<"$OUT"; then fail "passing services listed: $OUT"; else ok; fi
run zp health nosuch
expect_rc 2 "health of an unknown service is a usage error"

# --- status
run zp status
expect_rc 0 "status table"
for h in NAME STATE HEALTH RESTARTS UPTIME "CPU(AVG)" "MEM / LIMIT" PORTS IMAGE "IMAGE AGE"; do
    expect_out_has "$h" "status header $h"
done
expect_out_has "48.0MiB" "memory limit in the table"
expect_out_has "db is down: connection refused" "unhealthy probe output under its row"
expect_out_has "127.0.0.1:" "published port in the table"
run zp status --format json
expect_rc 0 "status json"
json_check 'len([r for r in m if r["Service"] == "ok"]) == 1' "one row for ok"
json_check '[r for r in m if r["Service"]=="ok"][0]["State"] == "running"' "state"
json_check '[r for r in m if r["Service"]=="ok"][0]["Health"] == "healthy"' "health"
json_check '[r for r in m if r["Service"]=="ok"][0]["MemoryLimit"] == 48*1024*1024' "memory limit"
json_check '[r for r in m if r["Service"]=="ok"][0]["MemoryUsage"] > 0' "memory use"
json_check '[r for r in m if r["Service"]=="ok"][0]["CPUAvgPercent"] is not None' "cpu average"
json_check '[r for r in m if r["Service"]=="ok"][0]["UptimeSeconds"] >= 0' "uptime"
json_check '[r for r in m if r["Service"]=="ok"][0]["ImageAgeSeconds"] >= 0' "image age"
json_check 'any(p["TargetPort"] == 80 and p["HostIP"] == "127.0.0.1" and p["PublishedPort"] > 0 for p in [r for r in m if r["Service"]=="ok"][0]["Ports"])' "published port"
json_check '[r for r in m if r["Service"]=="loop"][0]["RestartCount"] >= 1' "restart count"
json_check '[r for r in m if r["Service"]=="loop"][0]["RestartPolicy"] == "always"' "restart policy"
json_check '"db is down" in [r for r in m if r["Service"]=="sick"][0]["HealthOutput"]' "health output"
json_check '[r for r in m if r["Service"]=="sick"][0]["Health"] == "unhealthy"' "unhealthy"
json_check '[r for r in m if r["Service"]=="done"][0]["ExitCode"] == 1' "exit code of exited"
json_check '[r for r in m if r["Service"]=="ghost"][0]["State"] == "not created"' "service without container"
json_check '[r for r in m if r["Service"]=="plain"][0]["MemoryLimit"] == 0' "no memory limit"
run zp status --format yaml
expect_rc 2 "status --format yaml is a usage error"

# --- stats
run zp stats --no-stream --format json
expect_rc 0 "stats --no-stream json"
json_check 'sorted(r["Service"] for r in m) == ["app", "ok", "plain", "sick"]' "the running containers"
json_check 'all(r["MemUsage"] > 0 for r in m)' "memory > 0"
json_check 'all(r["CPUPerc"] is not None and r["CPUPerc"] >= 0 for r in m)' "cpu %"
json_check '[r for r in m if r["Service"]=="ok"][0]["MemLimit"] == 48*1024*1024' "stats memory limit"
run zp stats --no-stream ok
expect_rc 0 "stats table"
expect_out_has "MEM USAGE / LIMIT" "stats header"
expect_out_has "$P-ok-1" "stats row"

# --- rebuild: a new image without cache, the container recreated on it
OLD_IMG=$(docker image inspect -f '{{.Id}}' $P-app 2>/dev/null)
OLD_CTR=$(inspect_field $P-app-1 '{{.Id}}')
run zp rebuild app
expect_rc 0 "rebuild"
NEW_IMG=$(docker image inspect -f '{{.Id}}' $P-app 2>/dev/null)
NEW_CTR=$(inspect_field $P-app-1 '{{.Id}}')
if [ -n "$OLD_IMG" ] && [ "$NEW_IMG" != "$OLD_IMG" ]; then ok; else fail "rebuild kept image $OLD_IMG"; fi
if [ -n "$NEW_CTR" ] && [ "$NEW_CTR" != "$OLD_CTR" ]; then ok; else fail "rebuild kept container"; fi
expect_eq() { if [ "$1" = "$2" ]; then ok; else fail "$3: '$1', want '$2'"; fi; }
expect_eq "$(inspect_field $P-app-1 '{{.Image}}')" "$NEW_IMG" "container runs the new image"
expect_eq "$(inspect_field $P-app-1 '{{.State.Status}}')" "running" "recreated container runs"
expect_eq "$(inspect_field $P-ok-1 '{{.State.Status}}')" "running" "other services untouched"
# the previous build lost its name; only the keep tag of release 1 (recorded by up) holds it
expect_eq "$(docker image inspect -f '{{join .RepoTags " "}}' "$OLD_IMG" 2>/dev/null)" "zpanel-release/$P-app:1" "old image kept by release 1 only"

# --- cleanup
run zp run plain true
expect_rc 0 "one-off run"
ONEOFF=$(docker ps -aq --filter label=io.zpanel.project=$P --filter label=io.zpanel.oneoff=true)
[ -n "$ONEOFF" ] && ok || fail "no one-off container left"
docker run -d --name ${P}-foreign "$TEST_IMAGE" true >/dev/null
docker network create --label io.zpanel.project=$P ${P}_stale >/dev/null
docker network create ${P}-foreign-net >/dev/null
mkdir -p "$TMP/foreign"
printf 'FROM %s\nARG X\nRUN echo $X > /x\n' "$TEST_IMAGE" >"$TMP/foreign/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q --build-arg X=1 -t $FOREIGN_IMG:1 "$TMP/foreign" >/dev/null 2>&1
FOREIGN_DANGLING=$(docker image inspect -f '{{.Id}}' $FOREIGN_IMG:1)
DOCKER_BUILDKIT=0 docker build -q --build-arg X=2 -t $FOREIGN_IMG:1 "$TMP/foreign" >/dev/null 2>&1
expect_eq "$(docker image inspect -f '{{len .RepoTags}}' "$FOREIGN_DANGLING" 2>/dev/null)" "0" "foreign image dangling"
for n in 1 2 3 4 5 6 7; do docker tag "$TEST_IMAGE" zpanel-release/$P-app:$n; done
# images built by hand FROM the project's image inherit its labels (issue 19, item 12):
# one tagged, one left dangling by a second build of the same tag; neither is zpanel's
mkdir -p "$TMP/handmade"
printf 'FROM %s\nARG X\nRUN echo $X > /handmade\n' "$P-app" >"$TMP/handmade/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q --build-arg X=1 -t $P-handmade:1 "$TMP/handmade" >/dev/null 2>&1
HANDMADE_DANGLING=$(docker image inspect -f '{{.Id}}' $P-handmade:1)
DOCKER_BUILDKIT=0 docker build -q --build-arg X=2 -t $P-handmade:1 "$TMP/handmade" >/dev/null 2>&1
HANDMADE=$(docker image inspect -f '{{.Id}}' $P-handmade:1)
expect_eq "$(docker image inspect -f '{{index .Config.Labels "io.zpanel.project"}}' $P-handmade:1)" \
    "$P" "the hand-made image inherits the project's label"
expect_eq "$(docker image inspect -f '{{len .RepoTags}}' "$HANDMADE_DANGLING" 2>/dev/null)" "0" \
    "hand-made image dangling"

exists() { docker inspect "$1" >/dev/null 2>&1; }
run zp cleanup --dry-run
expect_rc 0 "cleanup --dry-run"
expect_out_has "Would remove container $P-plain-run-" "dry run names the one-off"
expect_out_has "Would remove image ${OLD_IMG}" "dry run names the dangling image"
expect_out_has "Would remove network ${P}_stale" "dry run names the stale network"
expect_out_has "Would untag release image zpanel-release/$P-app:2" "dry run names old releases"
expect_out_has "Space that would be reclaimed:" "dry run total"
exists "$ONEOFF" && ok || fail "dry run removed the one-off"
exists "$OLD_IMG" && ok || fail "dry run removed the dangling image"
exists ${P}_stale && ok || fail "dry run removed the network"
exists zpanel-release/$P-app:1 && ok || fail "dry run removed a release tag"

run zp cleanup
expect_rc 0 "cleanup"
expect_out_has "Removed container $P-plain-run-" "one-off removed"
expect_out_has "Removed image ${OLD_IMG}" "dangling image removed"
expect_out_has "Total reclaimed space:" "total printed"
exists "$ONEOFF" && fail "one-off container survived" || ok
exists "$OLD_IMG" && fail "dangling project image survived" || ok
exists ${P}_stale && fail "stale project network survived" || ok
exists zpanel-release/$P-app:1 && ok || fail "the keep tag of recorded release 1 removed"
exists zpanel-release/$P-app:2 && fail "release 2 survived (keep 5)" || ok
for n in 3 4 5 6 7; do exists zpanel-release/$P-app:$n && ok || fail "release $n removed"; done
exists ${P}-foreign && ok || fail "foreign container removed"
exists "$FOREIGN_DANGLING" && ok || fail "foreign dangling image removed"
exists "$HANDMADE_DANGLING" && ok || fail "cleanup removed a dangling image built by hand FROM the project's"
exists ${P}-foreign-net && ok || fail "foreign network removed"
exists "$NEW_IMG" && ok || fail "the image in use removed"
exists $P-done-1 && ok || fail "stopped service container removed without --all"
exists ${P}_default && ok || fail "the project's network in the model removed"

run zp cleanup --keep 2 --all
expect_rc 0 "cleanup --all --keep 2"
exists $P-done-1 && fail "--all kept the stopped service container" || ok
exists $P-ok-1 && ok || fail "--all removed a running container"
for n in 3 4 5; do exists zpanel-release/$P-app:$n && fail "release $n survived keep 2" || ok; done
for n in 6 7; do exists zpanel-release/$P-app:$n && ok || fail "release $n removed by keep 2"; done
exists ${P}-foreign && ok || fail "foreign container removed by --all"
exists "$TEST_IMAGE" && ok || fail "the test image removed"
exists "$HANDMADE" && ok || fail "cleanup --all removed an image built by hand FROM the project's"
exists "$HANDMADE_DANGLING" && ok || fail "cleanup --all removed a dangling hand-made image"
if grep -qE "handmade|${HANDMADE_DANGLING#sha256:}" <<<"$OUT"; then
    fail "cleanup --all named a hand-made image: $OUT"
else
    ok
fi
run zp cleanup --keep x
expect_rc 2 "--keep needs a number"

zp down >/dev/null 2>&1
finish
