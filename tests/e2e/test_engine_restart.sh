#!/usr/bin/env bash
# test_engine_restart.sh: the Docker engine is stopped in the middle of an `up` and started
# again; the next `up` converges (every service running once, health gates honoured). It
# stops every container on the engine, so ctest runs it alone (RUN_SERIAL), and it starts
# the engine again (scripts/setup.sh) even when it fails.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2erestart
require_engine
test_image || fail "building $TEST_IMAGE"
restore_engine() { engine_up || "$ZP_SOURCE_DIR/scripts/setup.sh" >/dev/null 2>&1; }
cleanup_project $P
trap 'restore_engine; cleanup_project $P; rm -rf "$TMP"' EXIT

F=$TMP/compose.yaml
cat >"$F" <<YAML
name: $P
services:
  db:
    image: $TEST_IMAGE
    command: ["sh", "-c", "sleep 2; touch /ready; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 30
    stop_grace_period: 1s
  web:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    depends_on:
      db:
        condition: service_healthy
    stop_grace_period: 1s
YAML

# start an up, and stop the engine while it waits for db's health gate
"$ZPANEL" -f "$F" up -d >"$TMP/bg.out" 2>&1 &
bg=$!
sleep 1
pid=$(pgrep -x dockerd | head -1)
if [ -z "$pid" ]; then
    fail "no dockerd process to stop"
    finish
    exit
fi
kill "$pid"
for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
wait $bg
bg_rc=$?
[ "$bg_rc" -ne 0 ] && ok || fail "the interrupted up exited 0: $(cat "$TMP/bg.out")"
restore_engine
engine_up && ok || fail "the engine did not come back"

run "$ZPANEL" -f "$F" up -d --wait
expect_rc 0 "up after the engine restarted"
for s in db web; do
    [ "$(inspect_field $P-$s-1 '{{.State.Status}}')" = running ] && ok ||
        fail "$P-$s-1 not running after the engine restart"
    n=$(docker ps -aq --filter "label=io.zpanel.project=$P" --filter "label=io.zpanel.service=$s" | wc -l)
    [ "$n" -eq 1 ] && ok || fail "$s has $n containers"
done
[ "$(inspect_field $P-db-1 '{{.State.Health.Status}}')" = healthy ] && ok || fail "db not healthy"
run "$ZPANEL" -f "$F" up -d
expect_rc 0 "a second up"
expect_err_has "Running" "the second up changes nothing"

cleanup_project $P
finish
