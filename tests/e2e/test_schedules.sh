#!/usr/bin/env bash
# End-to-end: backup schedules in `zpanel serve`. A schedule every 2 seconds (the cron
# seconds field; the scheduler looks every 200 ms under ZPANEL_SCHEDULER_TICK) with a
# retention of 2 runs three times: two archives remain, and a webhook receiver (python's
# http.server on 127.0.0.1) hears each success. A run that fails (the backup directory is
# a file) fails its job with the reason and the webhook hears the failure. A run missed
# while serve was down runs once when it starts again, not once per missed time. Bad
# expressions are refused with the field named. Then the same on S3 (s3rver): a stored
# destination, three runs, retention on S3, an unreachable destination (below).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
require_engine
command -v curl >/dev/null || { echo "FAIL: curl is missing"; exit 1; }

P=dumps-sched
ST=$TMP/state
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
SERVE_PID= HOOK_PID= S3_PID=
cleanup() {
    [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    [ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null && wait "$HOOK_PID" 2>/dev/null
    cleanup_project "$P"
}
trap 'cleanup; rm -rf "$TMP"' EXIT

echo 'e2e-password-1' | "$ZPANEL" user add root --role admin --password-stdin --state-dir "$ST" >/dev/null ||
    fail "user add root"
ADMIN=$("$ZPANEL" token create --user root --scope admin --state-dir "$ST" | tail -1)
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
start_serve() {
    ZPANEL_SCHEDULER_TICK=200ms ZPANEL_S3_RETRIES=1 ZPANEL_S3_RETRY_MS=20 "$ZPANEL" serve --listen "127.0.0.1:$PORT" --state-dir "$ST" \
        --workers 2 >>"$TMP/serve.log" 2>&1 &
    SERVE_PID=$!
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "$URL/healthz" && return
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "serve did not start: $(cat "$TMP/serve.log")"
    finish
    exit
}
stop_serve() {
    kill "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=
}
api() { # api METHOD PATH [BODY]: sets CODE and OUT
    local args=(-s -o "$TMP/out" -w '%{http_code}' -X "$1" "$URL$2" -H "Authorization: Bearer $ADMIN")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}")
    OUT=$(cat "$TMP/out")
}
expect_code() { if [ "$CODE" = "$1" ]; then ok; else fail "$2: HTTP $CODE, want $1: $OUT"; fi; }
jget() { $PY -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/out" "$1"; }
# scheduled_jobs STATUS: how many backup jobs the scheduler queued that have STATUS
scheduled_jobs() {
    api GET "/api/v1/jobs?project=$P&limit=100"
    jget "len([j for j in m['jobs'] if j['kind'] == 'backup' and j.get('user') == 'scheduler' and j['status'] == '$1'])"
}
# wait_jobs STATUS N: until N scheduled jobs have STATUS (bounded: 30 s)
wait_jobs() {
    for _ in $(seq 1 150); do
        [ "$(scheduled_jobs "$1")" -ge "$2" ] && return 0
        sleep 0.2
    done
    return 1
}
archives() { ls "$ST/backups/$P" 2>/dev/null | grep -c "^$P-.*\.tar\.zst$"; }

# the webhook receiver: one line per POST body
HOOK_PORT=$(free_port)
cat >"$TMP/hook.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
: >"$TMP/hooks"
$PY "$TMP/hook.py" "$HOOK_PORT" "$TMP/hooks" &
HOOK_PID=$!
HOOK=http://127.0.0.1:$HOOK_PORT/zpanel

start_serve
compose=$($PY -c 'import json; print(json.dumps({"name": "'$P'", "compose": "services:\n  app:\n    image: busybox-never-pulled\n"}))')
api POST /api/v1/projects "$compose"
expect_code 201 "create a project (never deployed: its backup holds its compose file)"

# bad input
api POST "/api/v1/projects/$P/schedules" '{"cron": "0 25 * * *"}'
expect_code 400 "an hour of 25"
[[ $OUT == *"field 2 (hour): '25' is out of range 0-23"* ]] && ok || fail "the error names the field: $OUT"
api POST "/api/v1/projects/$P/schedules" '{"cron": "@daily", "keep": {"last": -1}}'
expect_code 400 "a negative retention"
api POST "/api/v1/projects/$P/schedules" '{"cron": "@daily", "webhook": "ftp://x"}'
expect_code 400 "a webhook that is not http://"
api POST "/api/v1/projects/nope/schedules" '{"cron": "@daily"}'
expect_code 404 "a schedule of an unknown project"

# every 2 seconds, keep 2, notify on success too
api POST "/api/v1/projects/$P/schedules" \
    "{\"cron\": \"*/2 * * * * *\", \"keep\": {\"last\": 2}, \"webhook\": \"$HOOK\", \"notify_success\": true}"
expect_code 201 "add a schedule"
SID=$(jget 'm["schedule"]["id"]')
[ "$(jget 'm["schedule"]["keep"]["last"]')" = 2 ] && ok || fail "the schedule's retention: $OUT"
if wait_jobs succeeded 3; then ok; else fail "three scheduled runs: $(scheduled_jobs succeeded) succeeded; $(tail -5 "$TMP/serve.log")"; fi
api DELETE "/api/v1/projects/$P/schedules/$SID"
expect_code 200 "remove the schedule"
# a run queued just before the removal ends (with its retention) before archives are counted
for _ in $(seq 1 100); do
    [ "$(scheduled_jobs queued)" = 0 ] && [ "$(scheduled_jobs running)" = 0 ] && break
    sleep 0.2
done
n=$(archives)
[ "$n" = 2 ] && ok || fail "retention keeps 2 archives, found $n: $(ls "$ST/backups/$P")"
grep -c '"status":"succeeded"' "$TMP/hooks" | { read -r k; [ "$k" -ge 3 ] && ok || fail "webhook heard $k successes: $(cat "$TMP/hooks")"; }
grep -q "\"project\":\"$P\",\"schedule\":$SID" "$TMP/hooks" && ok || fail "webhook body: $(head -1 "$TMP/hooks")"
api GET "/api/v1/projects/$P/schedules"
expect_code 200 "list schedules"
[ "$(jget 'len(m["schedules"])')" = 0 ] && ok || fail "the removed schedule is gone: $OUT"
api DELETE "/api/v1/projects/$P/schedules/$SID"
expect_code 404 "remove it twice"

# a failing run: the backup directory is a file
rm -rf "$ST/backups/$P"
touch "$ST/backups/$P"
: >"$TMP/hooks"
api POST "/api/v1/projects/$P/schedules" "{\"cron\": \"*/2 * * * * *\", \"webhook\": \"$HOOK\"}"
expect_code 201 "add a schedule that will fail"
SID=$(jget 'm["schedule"]["id"]')
if wait_jobs failed 1; then ok; else fail "a failed scheduled job"; fi
api DELETE "/api/v1/projects/$P/schedules/$SID"
for _ in $(seq 1 50); do [ -s "$TMP/hooks" ] && break; sleep 0.1; done
grep -q '"status":"failed"' "$TMP/hooks" && grep -q "backups/$P" "$TMP/hooks" && ok ||
    fail "the webhook hears the failure and its reason: $(cat "$TMP/hooks")"
rm -f "$ST/backups/$P"

# missed while serve was down: one run at start, not one per missed time
api POST "/api/v1/projects/$P/schedules" '{"cron": "0 0 1 1 *", "keep": {"last": 5}}'
expect_code 201 "add a yearly schedule"
SID=$(jget 'm["schedule"]["id"]')
n_before=$(scheduled_jobs succeeded)
stop_serve
$PY -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE schedules SET next_run = ? WHERE id = ?", (int(time.time()) - 3 * 365 * 86400, int(sys.argv[2]))); db.commit()' \
    "$ST/zpanel.db" "$SID"
start_serve
if wait_jobs succeeded $((n_before + 1)); then ok; else fail "the missed run ran at start"; fi
sleep 1.5 # several ticks
api GET "/api/v1/projects/$P/schedules"
next=$(jget "[s['next_run'] for s in m['schedules'] if s['id'] == $SID][0]")
[ "$next" -gt "$(date +%s)" ] && ok || fail "next_run moved to next year: $next"
last=$(jget "[s['last_job'] for s in m['schedules'] if s['id'] == $SID][0]")
[ "$last" != None ] && ok || fail "last_job recorded: $OUT"
total=$(scheduled_jobs succeeded)
[ "$total" = $((n_before + 1)) ] && ok || fail "exactly one run for three missed years: $total jobs, was $n_before"

# the CLI works on the same store, beside a running serve
run "$ZPANEL" schedule add "$P" '0 4 * * *' --keep-daily 7 --webhook "$HOOK" --state-dir "$ST"
expect_rc 0 "schedule add (CLI)"
CLI_SID=$(sed -n 's/^schedule \([0-9]*\) .*/\1/p' <<<"$OUT")
api GET "/api/v1/projects/$P/schedules"
[ "$(jget "[s['keep']['daily'] for s in m['schedules'] if s['id'] == ${CLI_SID:-0}]")" = "[7]" ] && ok ||
    fail "the API sees the CLI's schedule: $OUT"
run "$ZPANEL" schedule list "$P" --state-dir "$ST"
expect_out_has "0 4 * * *" "schedule list shows the expression"
expect_out_has "0/7/0" "schedule list shows the retention"
run "$ZPANEL" schedule add "$P" '0 4 * * MON-XYZ' --state-dir "$ST"
expect_rc 2 "a bad expression (CLI)"
expect_err_has "field 5 (day of week): 'MON-XYZ'" "the CLI names the field"
run "$ZPANEL" schedule remove "$P" "${CLI_SID:-0}" --state-dir "$ST"
expect_rc 0 "schedule remove (CLI)"
run "$ZPANEL" schedule remove "$P" "${CLI_SID:-0}" --state-dir "$ST"
expect_rc 1 "schedule remove twice"

# ---- S3: a schedule whose destination is a stored S3 destination (s3rver on 127.0.0.1) ----
# The destination is stored by the CLI (its secret sealed in zpanel.db, masked in answers);
# three runs upload to it; retention (keep 2) removes only zpanel's verified archives: a
# zpanel-named archive without zpanel's checksum object and metadata, and other objects
# under the prefix, stay. A destination that cannot be reached fails its job loudly. The
# objects are put and listed by curl's own SigV4 client (--aws-sigv4; awscli would add
# seconds of start-up per call: test_s3.sh checks uploads with it).
S3RVER=${ZP_S3RVER:-$ZP_SOURCE_DIR/.deps/s3rver/node_modules/.bin/s3rver}
if [ ! -x "$S3RVER" ]; then
    skip "S3 schedules: s3rver is not installed at $S3RVER: run scripts/setup.sh"
else
    s3_t0=$SECONDS
    SPORT=$(free_port)
    DEAD=$(free_port) # nothing listens there
    BUCKET=zpsched-bucket
    mkdir -p "$TMP/s3data" "$TMP/foreign"
    "$S3RVER" -d "$TMP/s3data" -a 127.0.0.1 -p "$SPORT" --silent --configure-bucket "$BUCKET" \
        >"$TMP/s3rver.log" 2>&1 &
    S3_PID=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null && break
        sleep 0.1
    done
    S3C=(curl -sf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
    # objects zpanel did not write: one named as zpanel names archives, with a checksum
    # object but without zpanel's metadata, and an unrelated file
    echo old >"$TMP/foreign/$P-20200101-000000.tar.zst"
    echo "x  $P-20200101-000000.tar.zst" >"$TMP/foreign/$P-20200101-000000.tar.zst.sha256"
    echo keep >"$TMP/foreign/notes.txt"
    for f in "$P-20200101-000000.tar.zst" "$P-20200101-000000.tar.zst.sha256" notes.txt; do
        "${S3C[@]}" -o /dev/null -T "$TMP/foreign/$f" "http://127.0.0.1:$SPORT/$BUCKET/nightly/$f" ||
            fail "curl puts the foreign object $f"
    done

    # stored by the CLI; credentials from the environment, never flags
    run env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=zpsched-secret-7f3a "$ZPANEL" \
        destination add s3local --endpoint "http://127.0.0.1:$SPORT" --bucket "$BUCKET" \
        --prefix nightly --path-style --state-dir "$ST"
    expect_rc 0 "destination add (CLI)"
    run env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=x "$ZPANEL" destination add bad \
        --endpoint "http://127.0.0.1:$SPORT" --bucket Bad_Bucket --state-dir "$ST"
    expect_rc 2 "a bad bucket (CLI)"
    expect_err_has "bucket: 'Bad_Bucket' is not a bucket name" "the CLI names the field"
    grep -q zpsched-secret-7f3a "$ST/zpanel.db" "$ST"/zpanel.db-wal 2>/dev/null &&
        fail "the secret key is stored in clear" || ok
    api POST /api/v1/destinations "{\"name\": \"dead\", \"endpoint\": \"http://127.0.0.1:$DEAD\", \"bucket\": \"$BUCKET\", \"prefix\": \"nightly\", \"path_style\": true, \"access_key_id\": \"S3RVER\", \"secret_key\": \"zpsched-secret-7f3a\"}"
    expect_code 201 "add a destination (API)"
    api POST /api/v1/destinations '{"name": "x", "endpoint": "ftp://h", "bucket": "bbb", "access_key_id": "a", "secret_key": "s"}'
    expect_code 400 "a bad endpoint (API)"
    [[ $OUT == *"endpoint: invalid endpoint 'ftp://h'"* ]] && ok || fail "the API names the field: $OUT"
    api GET /api/v1/destinations
    expect_code 200 "list destinations"
    [ "$(jget '[d["secret_key"] for d in m["destinations"]]')" = "['********', '********']" ] &&
        [[ $OUT != *zpsched-secret* ]] && ok || fail "secret keys masked: $OUT"
    run "$ZPANEL" destination list --format json --state-dir "$ST"
    expect_out_has '"name":"s3local"' "destination list (CLI)"
    [[ $OUT != *zpsched-secret* ]] && ok || fail "the CLI masks the secret key: $OUT"

    api POST "/api/v1/projects/$P/schedules" '{"cron": "@daily", "destination": "nope"}'
    expect_code 400 "a schedule to an unknown destination"
    [[ $OUT == *"destination: no stored destination 'nope'"* ]] && ok || fail "names the field: $OUT"

    n0=$(scheduled_jobs succeeded)
    api POST "/api/v1/projects/$P/schedules" '{"cron": "*/2 * * * * *", "destination": "s3local", "keep": {"last": 2}}'
    expect_code 201 "add a schedule to S3"
    SID=$(jget 'm["schedule"]["id"]')
    [ "$(jget 'm["schedule"]["destination"]')" = s3local ] && ok || fail "the schedule's destination: $OUT"
    run "$ZPANEL" destination remove s3local --state-dir "$ST"
    expect_rc 1 "a destination in use stays"
    expect_err_has "used by 1 schedule" "and says why"
    if wait_jobs succeeded $((n0 + 3)); then ok; else fail "three runs to S3: $(tail -5 "$TMP/serve.log")"; fi
    api DELETE "/api/v1/projects/$P/schedules/$SID"
    for _ in $(seq 1 100); do
        [ "$(scheduled_jobs queued)" = 0 ] && [ "$(scheduled_jobs running)" = 0 ] && break
        sleep 0.2
    done
    keys=$("${S3C[@]}" "http://127.0.0.1:$SPORT/$BUCKET?list-type=2&prefix=nightly/" |
        grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/' | sort)
    mine=$(grep -cE "^nightly/$P-20[2-9][0-9]{5}-[0-9]{6}\.tar\.zst$" <<<"$keys" | tr -d ' ')
    # 2 of zpanel's plus the foreign one with the same naming
    [ "$mine" = 3 ] && ok || fail "retention on S3 keeps 2 of zpanel's archives: $keys"
    [ "$(grep -c '\.tar\.zst\.sha256$' <<<"$keys")" = 3 ] && ok || fail "their checksum objects: $keys"
    grep -qx "nightly/$P-20200101-000000.tar.zst" <<<"$keys" && grep -qx nightly/notes.txt <<<"$keys" &&
        ok || fail "objects zpanel did not write stay: $keys"
    api GET "/api/v1/jobs?project=$P&limit=1"
    JID=$(jget 'm["jobs"][0]["id"]')
    api GET "/api/v1/jobs/$JID/log"
    [[ $OUT == *"verified after upload"* && $OUT == *"kept 2 of 3 archives"* ]] && ok ||
        fail "the job's log tells the upload and the retention: $OUT"

    # a destination that cannot be reached: a failed job with the reason, the webhook hears it
    : >"$TMP/hooks"
    nf=$(scheduled_jobs failed)
    api POST "/api/v1/projects/$P/schedules" "{\"cron\": \"*/2 * * * * *\", \"destination\": \"dead\", \"webhook\": \"$HOOK\"}"
    expect_code 201 "add a schedule to an unreachable destination"
    SID=$(jget 'm["schedule"]["id"]')
    if wait_jobs failed $((nf + 1)); then ok; else fail "a failed scheduled job to S3"; fi
    api DELETE "/api/v1/projects/$P/schedules/$SID"
    api GET "/api/v1/jobs?project=$P&status=failed&limit=1"
    [[ $OUT == *"127.0.0.1:$DEAD"* || $OUT == *"s3://$BUCKET/nightly/"* ]] && ok ||
        fail "the failed job says where: $OUT"
    for _ in $(seq 1 50); do [ -s "$TMP/hooks" ] && break; sleep 0.1; done
    grep -q '"status":"failed"' "$TMP/hooks" && ok || fail "the webhook hears the S3 failure: $(cat "$TMP/hooks")"
    for _ in $(seq 1 100); do
        [ "$(scheduled_jobs queued)" = 0 ] && [ "$(scheduled_jobs running)" = 0 ] && break
        sleep 0.2
    done
    run "$ZPANEL" destination remove s3local --state-dir "$ST"
    expect_rc 0 "destination remove (CLI)"
    kill "$S3_PID" 2>/dev/null
    wait "$S3_PID" 2>/dev/null
    S3_PID=
    echo "S3 schedules: $((SECONDS - s3_t0)) s"
fi

stop_serve
finish
