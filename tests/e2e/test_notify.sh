#!/usr/bin/env bash
# test_notify.sh: `zpanel serve` sends the results of jobs out: a webhook receiver (a local
# HTTP server in this test) gets a JSON body whose X-Zpanel-Signature-256 is the
# HMAC-SHA256 of the body under the channel's secret; an SMTP sink (Debian's
# python3-aiosmtpd) gets the email; a channel whose address refuses connections is retried
# with backoff, logged, and never holds the job up; channels are added, listed (secrets
# masked), tested and removed through the API and `zpanel notify`, and bad fields are
# refused naming the field.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2enotify
if ! engine_up; then
    fail "no Docker engine answers on /var/run/docker.sock"
    finish
    exit
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { fail "python3-aiosmtpd is missing (scripts/setup.sh)"; finish; exit; }
test_image || fail "building $TEST_IMAGE"
cleanup_project $P
ST=$TMP/state
export ZPANEL_STATE_DIR=$ST # for `zpanel notify`
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    cleanup_project $P
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT: until something listens there (bounded)
    for _ in $(seq 1 100); do
        $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# the webhook receiver: each POST's headers and body into $TMP/hooks/N.{json,hdr}
HOOK_PORT=$(free_port)
mkdir -p "$TMP/hooks"
$PY - "$HOOK_PORT" "$TMP/hooks" <<'PY' >"$TMP/hook.log" 2>&1 &
import http.server, os, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = len([f for f in os.listdir(out) if f.endswith(".json")])
        with open(os.path.join(out, f"{n}.hdr"), "w") as f:
            f.write(str(self.headers))
        with open(os.path.join(out, f"{n}.json.tmp"), "wb") as f:
            f.write(body)
        os.rename(os.path.join(out, f"{n}.json.tmp"), os.path.join(out, f"{n}.json"))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
PIDS+=($!)
# the SMTP sink: a maildir
SMTP_PORT=$(free_port)
$PY -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$TMP/mail" >"$TMP/smtp.log" 2>&1 &
PIDS+=($!)
DEAD_PORT=$(free_port) # nothing listens there

echo 'e2e-password-1' | "$ZPANEL" user add root --role admin --password-stdin --state-dir "$ST" >/dev/null ||
    fail "user add root"
ADMIN=$("$ZPANEL" token create --user root --scope admin --state-dir "$ST" | tail -1)
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
ZPANEL_NOTIFY_BACKOFF_MS=100 "$ZPANEL" serve --listen "127.0.0.1:$PORT" --state-dir "$ST" >"$TMP/serve.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT" && wait_port "$HOOK_PORT" && wait_port "$SMTP_PORT" ||
    { fail "serve, the receiver or the sink did not start: $(cat "$TMP"/*.log)"; finish; exit; }

api() { # api METHOD PATH [BODY]: sets CODE and OUT
    local args=(-s -o "$TMP/out" -w '%{http_code}' -X "$1" "$URL$2" -H "Authorization: Bearer $ADMIN")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}")
    OUT=$(cat "$TMP/out")
}
expect_code() { if [ "$CODE" = "$1" ]; then ok; else fail "$2: HTTP $CODE, want $1: $OUT"; fi; }
jget() { $PY -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/out" "$1"; }

# ---- channels: bad fields are refused naming the field; nothing is stored ----
api POST /api/v1/notifications '{"kind": "webhook", "url": "ftp://x", "secret": "0123456789abcdef"}'
expect_code 400 "a webhook with an ftp URL"
[[ $OUT == *'url: '* ]] && ok || fail "the error names url: $OUT"
api POST /api/v1/notifications "{\"kind\": \"webhook\", \"url\": \"http://127.0.0.1:$HOOK_PORT/\", \"secret\": \"short\"}"
expect_code 400 "a webhook with a short secret"
[[ $OUT == *'secret: '* ]] && ok || fail "the error names secret: $OUT"
api POST /api/v1/notifications "{\"kind\": \"email\", \"url\": \"smtp://127.0.0.1:$SMTP_PORT\", \"from\": \"a@b\", \"to\": \"ops@example.test\r\nBcc: x@y\"}"
expect_code 400 "an email with a header in its recipient"
[[ $OUT == *'to: '* ]] && ok || fail "the error names to: $OUT"
run "$ZPANEL" notify add email "smtp://127.0.0.1:$SMTP_PORT" --from zpanel@example.test
expect_rc 2 "notify add email without --to is a usage error"
api GET /api/v1/notifications
[ "$(jget 'len(m["channels"])')" = 0 ] && ok || fail "refused channels were stored: $OUT"

# ---- three channels: the webhook (API), email (CLI), a dead webhook (CLI, failures) ----
SECRET=e2e-webhook-secret-0123456789
api POST /api/v1/notifications "{\"kind\": \"webhook\", \"url\": \"http://127.0.0.1:$HOOK_PORT/hook\", \"secret\": \"$SECRET\", \"project\": \"$P\", \"events\": \"deploy,stop\"}"
expect_code 201 "add a webhook"
HOOK_ID=$(jget 'm["id"]')
run "$ZPANEL" notify add email "smtp://127.0.0.1:$SMTP_PORT" --from zpanel@example.test \
    --to "ops@example.test, dev@example.test" --events deploy
expect_rc 0 "notify add email"
expect_out_has "channel 2: email" "notify add prints the channel"
printf '%s\n' "dead-channel-secret-0123" >"$TMP/dead.secret"
run "$ZPANEL" notify add webhook "http://127.0.0.1:$DEAD_PORT/" --secret-file "$TMP/dead.secret"
expect_rc 0 "notify add webhook (dead address)"
run "$ZPANEL" notify list
expect_out_has "http://127.0.0.1:$HOOK_PORT/hook" "notify list shows the webhook"
expect_out_has "deploy,stop" "notify list shows the events"
[[ $OUT != *"$SECRET"* && $OUT != *zpenc* ]] && ok || fail "notify list shows a secret: $OUT"
api GET /api/v1/notifications
[ "$(jget 'len(m["channels"])')" = 3 ] && ok || fail "three channels: $OUT"
[ "$(jget 'm["channels"][0]["secret"]')" = "********" ] && ok || fail "the secret is masked: $OUT"
! grep -rq "$SECRET" "$ST" && ok || fail "the secret is stored in clear under the state directory"

# test events: the webhook takes one; the dead one is a 502 naming its URL
api POST "/api/v1/notifications/$HOOK_ID/test"
expect_code 200 "test the webhook"
api POST /api/v1/notifications/3/test
expect_code 502 "test the dead webhook"
[[ $OUT == *"127.0.0.1:$DEAD_PORT"* ]] && ok || fail "the failure names the URL: $OUT"

# ---- a deploy: the webhook and the email arrive, the dead channel does not hold it up ----
COMPOSE="services:\n  web:\n    image: $TEST_IMAGE\n    command: sleep 600\n"
api POST /api/v1/projects "{\"name\": \"$P\", \"compose\": \"$COMPOSE\"}"
expect_code 201 "create the project"
api POST "/api/v1/projects/$P/deploy" '{}'
expect_code 202 "deploy"
JOB=$(jget 'm["job"]["id"]')
STATUS=
for _ in $(seq 1 300); do
    api GET "/api/v1/jobs/$JOB"
    STATUS=$(jget 'm["status"]')
    case $STATUS in succeeded | failed | cancelled) break ;; esac
    sleep 0.2
done
[ "$STATUS" = succeeded ] && ok || fail "the deploy: $STATUS: $OUT"
for _ in $(seq 1 100); do [ -f "$TMP/hooks/1.json" ] && break; sleep 0.1; done
$PY - "$TMP/hooks" "$SECRET" "$P" "$JOB" <<'PY' && ok || fail "the deploy's webhook"
import hashlib, hmac, json, sys
d, secret, project, job = sys.argv[1:5]
test = json.load(open(f"{d}/0.json"))
assert test["event"] == "test", test
body = open(f"{d}/1.json", "rb").read()
hdr = open(f"{d}/1.hdr").read()
sig = [l.split(":", 1)[1].strip() for l in hdr.splitlines() if l.lower().startswith("x-zpanel-signature-256:")]
want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
assert sig == [want], (sig, want)
assert "X-Zpanel-Event: deploy" in hdr, hdr
m = json.loads(body)
assert m["event"] == "deploy" and m["project"] == project and m["job"] == int(job), m
assert m["status"] == "succeeded" and m["error"] is None and m["user"] == "root", m
assert m["finished_at"] >= m["started_at"] > 0, m
PY
for _ in $(seq 1 100); do [ -n "$(ls "$TMP/mail/new" 2>/dev/null)" ] && break; sleep 0.1; done
MAIL=$(cat "$TMP"/mail/new/* 2>/dev/null)
[[ $MAIL == *"Subject: [zpanel] deploy of $P succeeded"* ]] && ok || fail "the email: $MAIL $(cat "$TMP/smtp.log")"
[[ $MAIL == *"To: ops@example.test, dev@example.test"* ]] && ok || fail "the email's recipients: $MAIL"
# the dead channel: tried 4 times (backoff 100 ms, 500 ms, 2.5 s), each logged, then given up
for _ in $(seq 1 100); do grep -q 'notify=3 .*giving up' "$TMP/serve.log" && break; sleep 0.1; done
[ "$(grep -c 'notify=3 kind=webhook job='"$JOB"' attempt=' "$TMP/serve.log")" = 4 ] && ok ||
    fail "the dead channel's attempts: $(grep notify= "$TMP/serve.log")"
grep -q "notify=3 kind=webhook job=$JOB attempt=4 msg=\".*127.0.0.1:$DEAD_PORT.*giving up\"" "$TMP/serve.log" && ok ||
    fail "the last attempt is logged with its URL: $(grep notify= "$TMP/serve.log")"

# a start job: not in the webhook's events, not the email's: nothing more arrives
api POST "/api/v1/projects/$P/start" '{}'
expect_code 202 "start"
JOB2=$(jget 'm["job"]["id"]')
for _ in $(seq 1 300); do
    api GET "/api/v1/jobs/$JOB2"
    case $(jget 'm["status"]') in succeeded | failed | cancelled) break ;; esac
    sleep 0.2
done
sleep 0.5
[ ! -f "$TMP/hooks/2.json" ] && ok || fail "a start job reached a channel that wants deploy,stop"

# ---- remove ----
run "$ZPANEL" notify remove 3
expect_rc 0 "notify remove"
api DELETE /api/v1/notifications/3
expect_code 404 "a removed channel is gone"
api DELETE "/api/v1/notifications/$HOOK_ID"
expect_code 200 "remove through the API"
api GET /api/v1/notifications
[ "$(jget 'len(m["channels"])')" = 1 ] && ok || fail "one channel left: $OUT"
finish
