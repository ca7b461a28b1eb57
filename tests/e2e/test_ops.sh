#!/usr/bin/env bash
# test_ops.sh: acting on a deployed project against the real engine: stop (reverse
# dependency order, from the engine's die events), start (dependency order, from
# State.StartedAt), restart, kill, pause/unpause, rm, ps.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2eops
require_engine
HELP=$("$ZPANEL" --help 2>&1)
for c in ps start stop restart kill pause unpause rm; do
    if ! grep -qE "^ +$c " <<<"$HELP"; then
        fail "zpanel has no '$c' command"
        finish
        exit
    fi
done
test_image || fail "building $TEST_IMAGE"
cleanup_project $P
trap 'cleanup_project $P; rm -rf "$TMP"' EXIT

F=$TMP/compose.yaml
cat >"$F" <<YAML
name: $P
services:
  db:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    stop_grace_period: 1s
  web:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    depends_on: [db]
    stop_grace_period: 1s
YAML
zp() { run "$ZPANEL" -f "$F" "$@"; }
state() { inspect_field "$1" '{{.State.Status}}'; }
started_ns() {
    python3 -c '
import sys, datetime
s = sys.argv[1].rstrip("Z"); base, frac = (s.split(".") + ["0"])[:2]
print(int(datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int(frac.ljust(9, "0")[:9]))' \
        "$(inspect_field "$1" '{{.State.StartedAt}}')"
}

zp up -d
expect_rc 0 "up -d"

# --- ps ---
zp ps
expect_rc 0 "ps"
expect_out_has "$P-db-1" "ps lists db"
expect_out_has "$P-web-1" "ps lists web"

# --- stop: dependents first ---
since=$(date +%s)
zp stop
expect_rc 0 "stop"
[ "$(state $P-db-1) $(state $P-web-1)" = "exited exited" ] && ok ||
    fail "after stop: db $(state $P-db-1), web $(state $P-web-1)"
order=$(docker events --since "$since" --until "$(($(date +%s) + 1))" \
    --filter "label=io.zpanel.project=$P" --filter event=die \
    --format '{{.Actor.Attributes.name}}' | tr '\n' ' ')
[ "$order" = "$P-web-1 $P-db-1 " ] && ok || fail "stop order '$order', want web then db"
zp ps
expect_rc 0 "ps after stop"
if grep -qF "$P-web-1" <<<"$OUT"; then fail "ps without -a lists a stopped container"; else ok; fi
zp ps -a
expect_out_has "$P-web-1" "ps -a lists stopped containers"

# --- start: dependencies first ---
zp start
expect_rc 0 "start"
[ "$(state $P-db-1) $(state $P-web-1)" = "running running" ] && ok ||
    fail "after start: db $(state $P-db-1), web $(state $P-web-1)"
[ "$(started_ns $P-db-1)" -le "$(started_ns $P-web-1)" ] && ok || fail "web started before db"

# --- restart one service ---
db_started=$(started_ns $P-db-1)
web_started=$(started_ns $P-web-1)
zp restart web
expect_rc 0 "restart web"
[ "$(started_ns $P-web-1)" -gt "$web_started" ] && ok || fail "web was not restarted"
[ "$(started_ns $P-db-1)" -eq "$db_started" ] && ok || fail "restart web touched db"

# --- pause / unpause ---
zp pause web
expect_rc 0 "pause web"
[ "$(state $P-web-1)" = paused ] && ok || fail "web is $(state $P-web-1), want paused"
zp unpause web
expect_rc 0 "unpause web"
[ "$(state $P-web-1)" = running ] && ok || fail "web is $(state $P-web-1), want running"

# --- kill ---
zp kill -s SIGKILL web
expect_rc 0 "kill -s SIGKILL web"
[ "$(state $P-web-1)" = exited ] && ok || fail "web is $(state $P-web-1) after kill"
[ "$(inspect_field $P-web-1 '{{.State.ExitCode}}')" = 137 ] && ok || fail "web exit code after SIGKILL"

# --- rm: stopped containers only, unless -s (stop first) ---
zp rm
expect_rc 0 "rm"
[ -z "$(docker ps -aq --filter name=^$P-web-1\$)" ] && ok || fail "rm kept the stopped web"
[ "$(state $P-db-1)" = running ] && ok || fail "rm touched the running db"
zp rm -s
expect_rc 0 "rm -s"
[ "$(docker ps -aq --filter "label=io.zpanel.project=$P" | wc -l)" -eq 0 ] && ok ||
    fail "rm -s left containers"

cleanup_project $P
finish
