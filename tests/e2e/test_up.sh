#!/usr/bin/env bash
# test_up.sh: `zpanel up` against the real engine: dependency order with health gates
# (checked with the engine's own timestamps; a gate opens on zpanel's own run of the
# healthcheck, before the engine's first check), idempotent re-up, recreating only what
# changed (and `restart: true` dependents), --scale, orphans, a failing health check, a
# missing image. The engine restart in the middle of an up is test_engine_restart.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2eup
require_engine
if ! grep -qE '^ +up ' <<<"$("$ZPANEL" --help 2>&1)"; then
    fail "zpanel has no 'up' command"
    finish
    exit
fi
test_image || fail "building $TEST_IMAGE"
cleanup_project $P
trap 'cleanup_project $P; cleanup_project ${P}probe; rm -rf "$TMP"' EXIT

F=$TMP/compose.yaml
write_compose() { # write_compose DB_SLEEP WEB_SLEEP [extra services...]
    cat >"$F" <<YAML
name: $P
services:
  db:
    image: $TEST_IMAGE
    command: ["sh", "-c", "sleep 2; touch /ready; exec sleep $1"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 30
    stop_grace_period: 1s
  web:
    image: $TEST_IMAGE
    command: ["sleep", "$2"]
    depends_on:
      db:
        condition: service_healthy
        restart: true
    stop_grace_period: 1s
  other:
    image: $TEST_IMAGE
    command: ["sleep", "601"]
    stop_grace_period: 1s
YAML
}
zp() { run "$ZPANEL" -f "$F" "$@"; }
cid() { docker inspect -f '{{.Id}}' "$1" 2>/dev/null; }
started() { docker inspect -f '{{.State.StartedAt}}' "$1" 2>/dev/null; }
count() { docker ps -aq --filter "label=io.zpanel.project=$P" --filter "label=io.zpanel.service=$1" | wc -l; }

# --- first up: order and health gate ---
write_compose 600 600
zp up -d
expect_rc 0 "up -d"
for s in db web other; do
    state=$(inspect_field $P-$s-1 '{{.State.Status}}')
    [ "$state" = running ] && ok || fail "$P-$s-1 is '$state', want running"
done
expect_err_has "$P-db-1" "progress names the db container"
expect_err_has "Healthy" "progress reports the health gate"
# web started only once db was healthy: db is ready 2 s after its start, and zpanel's own run
# of its healthcheck (not the engine's first check, an interval later) opens the gate
if python3 - "$(docker inspect $P-db-1)" "$(started $P-web-1)" <<'PY'; then ok; else fail "web started before db was healthy"; fi
import json, sys, datetime
def t(s):
    s = s.replace(' +0000 UTC', 'Z').replace(' ', 'T')
    base, frac = (s[:-1].split('.') + ['0'])[:2]
    return datetime.datetime.fromisoformat(base).timestamp() + float('0.' + frac)
db = json.loads(sys.argv[1])[0]
web = t(sys.argv[2])
db_started = t(db['State']['StartedAt'])
assert web >= db_started + 2, (web, db_started)
PY
net=$(inspect_field $P-web-1 '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}')
[ "$net" = "${P}_default" ] && ok || fail "web is on network '$net', want ${P}_default"

# --- the gate opens when db's healthcheck passes, not at the engine's first check: with a
# 5-minute interval the engine still says "starting" when web has started (Compose v2 would
# wait the whole interval) ---
PF=$TMP/probe.yaml
cat >"$PF" <<YAML
name: ${P}probe
services:
  db:
    image: $TEST_IMAGE
    command: ["sh", "-c", "sleep 1; touch /ready; exec sleep 600"]
    healthcheck:
      test: ["CMD-SHELL", "test -f /ready"]
      interval: 300s
    stop_grace_period: 1s
  web:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    depends_on:
      db:
        condition: service_healthy
    stop_grace_period: 1s
YAML
run timeout 240 "$ZPANEL" -f "$PF" up -d
expect_rc 0 "up with a 5-minute health interval"
expect_err_has "Healthy (its healthcheck passed)" "progress says the gate's own check passed"
[ "$(inspect_field ${P}probe-web-1 '{{.State.Status}}')" = running ] && ok || fail "web of ${P}probe is not running"
[ "$(inspect_field ${P}probe-db-1 '{{.State.Health.Status}}')" = starting ] && ok ||
    fail "db of ${P}probe: the engine already ran its check ($(inspect_field ${P}probe-db-1 '{{.State.Health.Status}}'))"
cleanup_project ${P}probe

# --- idempotent re-up: no changes (its speed is measured in bench/up.sh, not here) ---
ids_before="$(cid $P-db-1) $(cid $P-web-1) $(cid $P-other-1)"
zp up -d
expect_rc 0 "second up"
ids_after="$(cid $P-db-1) $(cid $P-web-1) $(cid $P-other-1)"
[ "$ids_before" = "$ids_after" ] && ok || fail "re-up changed container IDs"
if grep -qE 'Recreate|Created|Starting' <<<"$ERR"; then fail "re-up acted: $ERR"; else ok; fi

# --- change web only: only web is recreated ---
db_id=$(cid $P-db-1)
web_id=$(cid $P-web-1)
other_id=$(cid $P-other-1)
write_compose 600 700
zp up -d
expect_rc 0 "up after changing web"
[ "$(cid $P-db-1)" = "$db_id" ] && ok || fail "db was recreated"
[ "$(cid $P-other-1)" = "$other_id" ] && ok || fail "other was recreated"
[ "$(cid $P-web-1)" != "$web_id" ] && ok || fail "web was not recreated"
[ "$(count web)" -eq 1 ] && ok || fail "web has $(count web) containers after recreate"
[ "$(inspect_field $P-web-1 '{{json .Config.Cmd}}')" = '["sleep","700"]' ] && ok ||
    fail "web runs $(inspect_field $P-web-1 '{{json .Config.Cmd}}')"

# --- change db: db recreated, web (restart: true) restarted, not recreated ---
web_id=$(cid $P-web-1)
web_started=$(started $P-web-1)
write_compose 650 700
zp up -d
expect_rc 0 "up after changing db"
[ "$(cid $P-db-1)" != "$db_id" ] && ok || fail "db was not recreated"
[ "$(cid $P-web-1)" = "$web_id" ] && ok || fail "web was recreated, want restarted"
[ "$(started $P-web-1)" != "$web_started" ] && ok || fail "web was not restarted"
[ "$(cid $P-other-1)" = "$other_id" ] && ok || fail "other was touched"

# --- --scale ---
zp up -d --scale web=3
expect_rc 0 "up --scale web=3"
[ "$(count web)" -eq 3 ] && ok || fail "web has $(count web) containers, want 3"
[ "$(inspect_field $P-web-3 '{{.State.Status}}')" = running ] && ok || fail "$P-web-3 not running"
zp up -d
expect_rc 0 "up back to one replica"
[ "$(count web)" -eq 1 ] && ok || fail "web has $(count web) containers after scaling down"
[ -n "$(cid $P-web-1)" ] && ok || fail "scaling down removed $P-web-1"

# --- orphans ---
python3 - "$F" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
open(p, 'w').write(s[:s.index('  other:')])
PY
zp up -d
expect_rc 0 "up with an orphan"
expect_err_has "orphan" "orphan warning"
[ -n "$(cid $P-other-1)" ] && ok || fail "orphan removed without --remove-orphans"
zp up -d --remove-orphans
expect_rc 0 "up --remove-orphans"
[ -z "$(cid $P-other-1)" ] && ok || fail "orphan still there after --remove-orphans"

# --- a failing health check fails the up with the dependency's log lines ---
cat >"$F" <<YAML
name: $P
services:
  bad:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo marker-line-one; echo marker-line-two; exec sleep 600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 2
    stop_grace_period: 1s
  dep:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    depends_on:
      bad: {condition: service_healthy}
YAML
zp up -d --remove-orphans
expect_rc 1 "up with an unhealthy dependency"
expect_err_has "unhealthy" "names the failed health check"
expect_err_has "marker-line-two" "includes the dependency's log lines"
# as Compose v2 does, the dependent's container may be created while its gate is closed,
# but it never starts
dep_started=$(inspect_field $P-dep-1 '{{.State.StartedAt}}')
case "$dep_started" in
"" | 0001-01-01T00:00:00Z) ok ;;
*) fail "the dependent started although its dependency failed (StartedAt $dep_started)" ;;
esac

# --- a missing image: clear message, exit 1 ---
cat >"$F" <<YAML
name: $P
services:
  ghost:
    image: zpanel-test/does-not-exist:1
YAML
zp up -d --remove-orphans
expect_rc 1 "up with a missing image"
expect_err_has "service 'ghost': image 'zpanel-test/does-not-exist:1' is not present on the engine" \
    "missing image message"

# --- Ctrl-C while up waits for a health gate: exit 130, and the next up converges ---
cleanup_project $P
write_compose 600 600
"$ZPANEL" -f "$F" up -d >"$TMP/int.out" 2>&1 &
upid=$!
# db sleeps 2 s before it is healthy: SIGINT once up says it waits for that gate (a
# fixed sleep raced a loaded machine: a background job of a script ignores SIGINT until
# zpanel installs its handler, so an early one was lost and the up ran to its end)
for _ in $(seq 1 300); do
    grep -q "Waiting" "$TMP/int.out" && break
    sleep 0.1
done
kill -INT $upid
wait $upid
irc=$?
[ "$irc" -eq 130 ] && ok || fail "interrupted up exited $irc, want 130: $(cat "$TMP/int.out")"
zp up -d --wait
expect_rc 0 "up after an interrupted up"
for s in db web other; do
    [ "$(inspect_field $P-$s-1 '{{.State.Status}}')" = running ] && ok ||
        fail "$P-$s-1 not running after the interrupted up"
    [ "$(count $s)" -eq 1 ] && ok || fail "$s has $(count $s) containers after the interrupted up"
done
zp up -d
expect_rc 0 "a third up"

# --- a missed event never means a wait forever: with every health event dropped, the
# gate and --wait learn db's health from their rechecks (an inspect every 2 s) ---
cleanup_project $P
write_compose 600 600
ZP_TEST_DROP_HEALTH_EVENTS=1 timeout 60 "$ZPANEL" -f "$F" up -d --wait >"$TMP/drop.out" 2>&1
drc=$?
[ "$drc" -eq 0 ] && ok || fail "up --wait with the health events dropped exited $drc: $(cat "$TMP/drop.out")"
grep -q "$P-db-1.*Healthy" "$TMP/drop.out" && ok || fail "db reported healthy: $(cat "$TMP/drop.out")"
[ "$(inspect_field $P-web-1 '{{.State.Status}}')" = running ] && ok || fail "web runs after db's gate"
if grep -qE "Creat|Start|Recreat" <<<"$ERR"; then fail "the third up changed something: $ERR"; else ok; fi

# --- an image built during the first up (multi-stage: the engine reports one image ID per
# stage) is recorded as every later up computes it: no recreate afterwards ---
cleanup_project $P
BCTX=$TMP/bctx
mkdir -p "$BCTX"
cat >"$BCTX/Dockerfile" <<'DOCKERFILE'
FROM zpanel-test/busybox:1 AS base
RUN echo base > /base
FROM base AS final
RUN echo final > /final
DOCKERFILE
cat >"$F" <<YAML
name: $P
services:
  built:
    image: $P-built:1
    build:
      context: $BCTX
      target: final
    command: ["sleep", "600"]
    stop_grace_period: 1s
YAML
docker rmi -f $P-built:1 >/dev/null 2>&1
zp up -d --build
expect_rc 0 "up --build of a multi-stage image"
b1=$(cid $P-built-1)
hash_label() { inspect_field "$1" '{{index .Config.Labels "io.zpanel.config-hash"}}'; }
h1=$(hash_label $P-built-1)
zp up -d
expect_rc 0 "up after the build"
if grep -qE "Recreat|Creat" <<<"$ERR"; then fail "up after up --build recreated: $ERR"; else ok; fi
zp up -d --build
expect_rc 0 "up --build again (same inputs)"
if grep -qE "Recreat|Creat" <<<"$ERR"; then fail "up --build after up --build recreated: $ERR"; else ok; fi
[ "$(cid $P-built-1)" = "$b1" ] && ok || fail "the built service's container was replaced"
[ "$(hash_label $P-built-1)" = "$h1" ] && ok || fail "the config hash changed"
[ "$(inspect_field $P-built-1 '{{.Image}}')" = "$(docker image inspect -f '{{.Id}}' $P-built:1)" ] && ok ||
    fail "the container does not run the image the tag names"
cleanup_project $P
docker rmi -f $P-built:1 >/dev/null 2>&1

# healthcheck.start_interval needs API 1.44 (Docker 25): on an older engine (which would
# drop it without a word) it is refused in place, before any network or container exists
api=$(curl -sI --max-time 5 --unix-socket /var/run/docker.sock http://localhost/_ping |
    tr -d '\r' | sed -n 's/^Api-Version: 1\.//Ip')
cat >"$F" <<YAML
name: $P
services:
  probed:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD", "true"]
      start_period: 30s
      start_interval: 1s
YAML
zp up -d
if [ "${api:-0}" -lt 44 ]; then
    expect_rc 1 "up with healthcheck.start_interval on API 1.$api"
    expect_err_has "$F:9:23: services.probed.healthcheck.start_interval: needs the engine's API 1.44 (Docker 25) or newer; this engine speaks 1.$api" \
        "the refusal names the place and both versions"
    [ -z "$(docker network ls -q --filter label=io.zpanel.project=$P)" ] && ok ||
        fail "the refused up made a network"
    [ -z "$(docker ps -aq --filter label=io.zpanel.project=$P)" ] && ok ||
        fail "the refused up made a container"
else
    expect_rc 0 "up with healthcheck.start_interval on API 1.$api"
    [ "$(inspect_field $P-probed-1 '{{.Config.Healthcheck.StartInterval}}')" = 1s ] && ok ||
        fail "the container's health check lacks its start interval"
fi
cleanup_project $P
finish
