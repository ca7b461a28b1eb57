#!/usr/bin/env bash
# End-to-end test of `zpanel events`: the project's container, network and volume events
# as they happen (json and text formats, SERVICE filter), nothing of another project, and
# exit code 130 on Ctrl-C.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"
require_engine
test_image || { echo "FAIL: cannot build $TEST_IMAGE"; exit 1; }
P=zpevents
OTHER=zpeventsother
export ZPANEL_STATE_DIR=$TMP/state
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    cleanup_project $P
    cleanup_project $OTHER
    docker rm -f $OTHER-x >/dev/null 2>&1
    rm -rf "$TMP"
}
cleanup_project $P
cleanup_project $OTHER
docker rm -f $OTHER-x >/dev/null 2>&1
trap cleanup EXIT
cd "$TMP"
mkdir proj && cd proj
cat >compose.yaml <<YAML
name: $P
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    volumes:
      - data:/data
  worker:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
volumes:
  data: {}
YAML
Z=$ZPANEL

# --- usage errors touch nothing
run "$Z" events --format xml
expect_rc 2 "events --format xml"
expect_err_has "--format: 'xml' is not one of text, json" "names the flag"
run "$Z" events nosuch
expect_rc 2 "events with an unknown service"
expect_err_has "no such service 'nosuch'" "names the service"

# --- three followers: json, text, json for web only
"$Z" events --format json >"$TMP/ev.json" 2>"$TMP/ev.err" &
pids+=($!)
jpid=$!
"$Z" events >"$TMP/ev.txt" 2>"$TMP/evt.err" &
pids+=($!)
tpid=$!
"$Z" events --json web >"$TMP/ev-web.json" 2>"$TMP/evw.err" &
pids+=($!)
wpid=$!

# the streams are live once a probe container of the project shows in all three
subscribed=false
for i in $(seq 1 40); do
    docker rm -f $P-probe >/dev/null 2>&1
    docker create --name $P-probe --label io.zpanel.project=$P --label io.zpanel.service=web \
        "$TEST_IMAGE" true >/dev/null
    sleep 0.25
    if grep -q "$P-probe" "$TMP/ev.json" && grep -q "$P-probe" "$TMP/ev.txt" &&
        grep -q "$P-probe" "$TMP/ev-web.json"; then
        subscribed=true
        break
    fi
done
docker rm -f $P-probe >/dev/null 2>&1
$subscribed && ok || fail "the event streams never showed the probe container"

# another project's container: must not show
docker run -d --name $OTHER-x --label io.zpanel.project=$OTHER --label io.zpanel.service=web \
    "$TEST_IMAGE" sleep 30 >/dev/null
docker rm -f $OTHER-x >/dev/null

run "$Z" --progress quiet up -d
expect_rc 0 "up -d"
web_id=$(docker inspect -f '{{.Id}}' $P-web-1 2>/dev/null)
worker_id=$(docker inspect -f '{{.Id}}' $P-worker-1 2>/dev/null)
[ -n "$web_id" ] && [ -n "$worker_id" ] && ok || fail "up -d did not create both containers"
run "$Z" --progress quiet stop
expect_rc 0 "stop"

# wait for the stop events to arrive everywhere
for i in $(seq 1 40); do
    if [ "$(grep -c '"action":"stop"' "$TMP/ev.json")" -ge 2 ] &&
        grep -q "container stop $worker_id" "$TMP/ev.txt" &&
        grep -q '"action":"stop"' "$TMP/ev-web.json"; then
        break
    fi
    sleep 0.25
done

# --- Ctrl-C ends each with 130
for pid in $jpid $tpid $wpid; do
    kill -INT "$pid"
done
for pid in $jpid $tpid $wpid; do
    for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
        fail "events ignored Ctrl-C"
        kill -9 "$pid"
    fi
    wait "$pid"
    rc=$?
    [ "$rc" -eq 130 ] && ok || fail "events exit code $rc after Ctrl-C, want 130"
done
for f in ev.err evt.err evw.err; do
    [ -s "$TMP/$f" ] && fail "events wrote to stderr: $(cat "$TMP/$f")" || ok
done

# --- json: one object per line with the fields, create/start/stop per service
check_json() { # check_json FILE PYTHON_EXPR DESCRIPTION, with `ev` the list of events
    if python3 - "$TMP/$1" "$2" <<'PY' 2>"$TMP/pyerr"; then
import json, sys
ev = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for e in ev:
    assert set(e) == {"time", "type", "action", "id", "service", "attributes"}, e
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
        ok
    else
        fail "$3: $2 is false $(cat "$TMP/pyerr")"
    fi
}
has() { # has SERVICE ACTION ID: the python expression for one such container event
    echo "any(e['type'] == 'container' and e['service'] == '$1' and e['action'] == '$2' and e['id'] == '$3' and e['attributes'].get('name') == '$P-$1-1' for e in ev)"
}
for a in create start stop; do
    check_json ev.json "$(has web $a "$web_id")" "json: web $a"
    check_json ev.json "$(has worker $a "$worker_id")" "json: worker $a"
    check_json ev-web.json "$(has web $a "$web_id")" "json web only: web $a"
done
check_json ev.json "not any('$OTHER' in json.dumps(e) for e in ev)" "json: nothing of another project"
check_json ev.json "all(e['service'] in ('web', 'worker') for e in ev if e['type'] == 'container')" \
    "json: every container event has its service"
check_json ev.json "all(not k.startswith('io.zpanel.') for e in ev for k in e['attributes'])" \
    "json: our labels are summed up by service"
check_json ev.json "all(e['attributes'].get('image') == '$TEST_IMAGE' for e in ev if e['type'] == 'container')" \
    "json: container events carry the image"
check_json ev.json "any(e['type'] == 'network' and e['action'] == 'create' and e['attributes'].get('name') == '${P}_default' and e['service'] is None for e in ev)" \
    "json: the project's network is created"
check_json ev.json "any(e['type'] == 'volume' and e['action'] == 'create' and e['id'] == '${P}_data' for e in ev)" \
    "json: the project's volume is created"
check_json ev.json "all(__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z', e['time']) for e in ev)" \
    "json: RFC 3339 times with nanoseconds"
check_json ev-web.json "all(e['type'] == 'container' and e['service'] == 'web' for e in ev)" \
    "json web only: nothing of worker, networks or volumes"
check_json ev-web.json "not any('$OTHER' in json.dumps(e) for e in ev)" "json web only: nothing of another project"

# --- text: TIME TYPE ACTION ID (attributes, service=S)
re_time='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z'
for a in create start stop; do
    if grep -Eq "^$re_time container $a $web_id \(image=$TEST_IMAGE, name=$P-web-1, service=web\)$" "$TMP/ev.txt"; then
        ok
    else
        fail "text: no '$a' line for web: $(cat "$TMP/ev.txt")"
    fi
done
grep -Eq "^$re_time container stop $worker_id \(.*name=$P-worker-1.*service=worker\)$" "$TMP/ev.txt" &&
    ok || fail "text: no stop line for worker"
grep -Eq "^$re_time network create [0-9a-f]+ \(name=${P}_default, type=bridge\)$" "$TMP/ev.txt" &&
    ok || fail "text: no network create line"
grep -q "$OTHER" "$TMP/ev.txt" && fail "text: another project's container shows" || ok

run "$Z" --progress quiet down -v
expect_rc 0 "down -v"
finish
