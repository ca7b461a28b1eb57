#!/usr/bin/env bash
# test_serve.sh: `zpanel serve` against the real engine: every documented route refuses
# requests without a token (401) and with a too-small scope (403); bad JSON (400) and a bad
# compose file (422) with positions; create and deploy a project, poll the job, the service
# is healthy; log lines arrive over SSE while the job runs; cancel a running deploy; 20
# deploys on 4 projects serialise per project; kill -9 of serve during a deploy, then a
# restart completes it (and the job queued behind it); delete with volumes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2eserve
PROJECTS="$P-a $P-b $P-c $P-d $P-slow $P-hang"
if ! engine_up; then
    fail "no Docker engine answers on /var/run/docker.sock"
    finish
    exit
fi
command -v curl >/dev/null || { fail "curl is missing"; finish; exit; }
test_image || fail "building $TEST_IMAGE"
for p in $PROJECTS; do cleanup_project "$p"; done
ST=$TMP/state
SERVE_PID=
cleanup() {
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    [ -n "${SSE_PID:-}" ] && kill "$SSE_PID" 2>/dev/null
    for p in $PROJECTS; do cleanup_project "$p"; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# accounts
echo 'e2e-password-1' | "$ZPANEL" user add root --role admin --password-stdin --state-dir "$ST" >/dev/null ||
    fail "user add root"
echo 'e2e-password-2' | "$ZPANEL" user add val --role viewer --password-stdin --state-dir "$ST" >/dev/null ||
    fail "user add val"
run "$ZPANEL" token create --user val --scope deploy --state-dir "$ST"
expect_rc 2 "a viewer cannot get a deploy token"
ADMIN=$("$ZPANEL" token create --user root --scope admin --state-dir "$ST" | tail -1)
READ=$("$ZPANEL" token create --user val --scope read --expires 30d --state-dir "$ST" | tail -1)
DEPLOY=$("$ZPANEL" token create --user root --scope deploy --state-dir "$ST" | tail -1)
[[ $ADMIN == zpt_* && $READ == zpt_* && $DEPLOY == zpt_* ]] && ok || fail "tokens: '$ADMIN' '$READ'"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
start_serve() { # the same port each time
    "$ZPANEL" serve --listen "127.0.0.1:$PORT" --state-dir "$ST" --workers 4 >>"$TMP/serve.log" 2>&1 &
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
start_serve

# api METHOD PATH TOKEN [BODY]: sets CODE and OUT (the body, also in $TMP/out)
api() {
    local args=(-s -o "$TMP/out" -w '%{http_code}' -X "$1" "$URL$2")
    [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    CODE=$(curl "${args[@]}")
    OUT=$(cat "$TMP/out")
}
expect_code() { # expect_code WANT DESCRIPTION
    if [ "$CODE" = "$1" ]; then ok; else fail "$2: HTTP $CODE, want $1: $OUT"; fi
}
jget() { # jget PYTHON_EXPR: evaluate with m = the last body
    $PY -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/out" "$1"
}
# wait_job ID: poll until the job ends (bounded); sets STATUS
wait_job() {
    STATUS=
    for _ in $(seq 1 600); do
        api GET "/api/v1/jobs/$1" "$READ"
        STATUS=$(jget 'm["status"]')
        case $STATUS in succeeded | failed | cancelled) return ;; esac
        sleep 0.2
    done
}

# ---- every documented route: 401 without a token, 403 with a too-small scope ----
api GET /api/v1/openapi.json ""
expect_code 200 "openapi.json without a token"
$PY - "$TMP/out" >"$TMP/routes" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for path, item in doc["paths"].items():
    for method, op in item.items():
        scope = op.get("x-zpanel-scope", "none") if op.get("security") != [] else "none"
        print(method.upper(), path.replace("{name}", "zpe2eserve-nope").replace("{id}", "1"), scope)
PY
nroutes=0
while read -r method path scope; do
    nroutes=$((nroutes + 1))
    if [ "$scope" = none ]; then
        api "$method" "$path" ""
        if [ "$path" = /api/v1/login ]; then
            expect_code 400 "$method $path without a body"
        elif [[ $path == /api/v1/webhooks/* ]]; then
            # signed by the provider instead of a token: an unknown provider or app is 404
            expect_code 404 "$method $path without auth"
        else
            expect_code 200 "$method $path without auth"
        fi
        continue
    fi
    api "$method" "$path" ""
    expect_code 401 "$method $path without a token"
    api "$method" "$path" "zpt_not-a-token"
    expect_code 401 "$method $path with an unknown token"
    if [ "$scope" != read ]; then
        api "$method" "$path" "$READ"
        expect_code 403 "$method $path with a read token"
    fi
done <"$TMP/routes"
[ "$nroutes" -ge 19 ] && ok || fail "openapi.json lists $nroutes operations"

# ---- browser sessions: login, cookie, CSRF, logout, rate limit ----
JAR=$TMP/jar
login() { # login USER PASSWORD: sets CODE, OUT, HDRS ($TMP/hdrs)
    CODE=$(curl -s -o "$TMP/out" -D "$TMP/hdrs" -w '%{http_code}' -c "$JAR" -X POST "$URL/api/v1/login" \
        -H 'Content-Type: application/json' --data-binary "{\"user\": \"$1\", \"password\": \"$2\"}")
    OUT=$(cat "$TMP/out")
}
cookie_api() { # cookie_api METHOD PATH [CSRF]: with the jar's cookies; sets CODE and OUT
    local args=(-s -o "$TMP/out" -w '%{http_code}' -b "$JAR" -c "$JAR" -X "$1" "$URL$2")
    [ $# -ge 3 ] && args+=(-H "X-CSRF-Token: $3")
    CODE=$(curl "${args[@]}")
    OUT=$(cat "$TMP/out")
}
login root wrong-password
expect_code 401 "login with a wrong password"
login root e2e-password-1
expect_code 200 "login"
grep -qi '^set-cookie: zp_session=zps_[^;]*; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict' "$TMP/hdrs" && ok ||
    fail "session cookie: $(cat "$TMP/hdrs")"
grep -qi '^set-cookie: zp_csrf=' "$TMP/hdrs" && ! grep -qi '^set-cookie: zp_csrf=.*HttpOnly' "$TMP/hdrs" && ok ||
    fail "csrf cookie readable by the page: $(cat "$TMP/hdrs")"
CSRF=$(jget 'm["csrf_token"]')
[ "$(awk '$6 == "zp_csrf" {print $7}' "$JAR")" = "$CSRF" ] && ok || fail "the body's csrf_token is the cookie's"
SESSION=$(awk '$6 == "zp_session" {print $7}' "$JAR")
cookie_api GET /api/v1/projects
expect_code 200 "GET with the session cookie"
cookie_api POST "/api/v1/projects/$P-nope/stop"
expect_code 403 "a cookie POST without the CSRF header"
[ "$(jget 'm["error"]["code"]')" = csrf ] && ok || fail "csrf error code: $OUT"
cookie_api POST "/api/v1/projects/$P-nope/stop" "not-the-token-at-all"
expect_code 403 "a cookie POST with a wrong CSRF header"
cookie_api POST "/api/v1/projects/$P-nope/stop" "$CSRF"
expect_code 404 "a cookie POST with the CSRF header passes auth"
api GET /api/v1/projects "$SESSION"
expect_code 401 "a session is not a bearer token"
cookie_api POST /api/v1/logout "$CSRF"
expect_code 200 "logout"
[ "$(jget 'm["logged_out"]')" = True ] && ok || fail "logout: $OUT"
CODE=$(curl -s -o "$TMP/out" -w '%{http_code}' -H "Cookie: zp_session=$SESSION" "$URL/api/v1/projects")
expect_code 401 "the session is gone after logout"
# per user: the 5th failure locks val, even with the right password, with Retry-After
for i in 1 2 3 4 5; do login val "wrong-$i"; done
login val e2e-password-2
expect_code 429 "user locked out after 5 failures"
grep -qi '^retry-after: [1-9]' "$TMP/hdrs" && ok || fail "Retry-After: $(cat "$TMP/hdrs")"
# per address: 20 failures from here (any names; root's success above cleared only root's
# count) lock this address for every user
for i in $(seq 1 14); do login "nobody$i" x; done
login root e2e-password-1
expect_code 429 "address locked out after 20 failures"
grep -q '"failed login" user=val' "$TMP/serve.log" && ok || fail "failed logins are logged"

# ---- bad input ----
api POST /api/v1/projects "$ADMIN" $'{\n  "name": "x",\n  "compose": }'
expect_code 400 "bad JSON"
[[ $(jget 'm["error"]["message"]') == body:3:* ]] && ok || fail "bad JSON names line 3: $OUT"
bad=$(python3 -c 'import json; print(json.dumps({"name": "'$P'-a", "compose": "services:\n  web:\n    image: x\n    ports: [\"80a\"]\n"}))')
api POST /api/v1/projects "$ADMIN" "$bad"
expect_code 422 "bad compose"
[ "$(jget 'm["error"]["details"][0]["line"], m["error"]["details"][0]["column"]')" = "(4, 13)" ] && ok ||
    fail "bad compose: position: $OUT"
api GET "/api/v1/projects/$P-a" "$READ"
expect_code 404 "a refused project is not registered"

# ---- create, deploy, poll, healthy ----
compose_json() { # compose_json NAME SLEEP_BEFORE_READY: a service healthy after that many seconds
    $PY -c '
import json, sys
name, ready, img = sys.argv[1], sys.argv[2], sys.argv[3]
y = f"""services:
  web:
    image: {img}
    command: ["sh", "-c", "echo started-${{GREETING}}; sleep {ready}; touch /ready; exec sleep 3600"]
    environment: [API_KEY]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 600
    volumes: [data:/data]
volumes:
  data: {{}}
"""
print(json.dumps({"name": name, "compose": y, "env": {"GREETING": "hi", "API_KEY": "zpe2e-secret-value-42"}}))' "$1" "$2" "$TEST_IMAGE"
}
api POST /api/v1/projects "$ADMIN" "$(compose_json $P-a 1)"
expect_code 201 "create a project"
[ -f "$ST/projects/$P-a/compose.yaml" ] && ok || fail "compose.yaml kept under the state dir"
api POST "/api/v1/projects/$P-a/deploy" "$DEPLOY"
expect_code 202 "deploy"
JOB=$(jget 'm["job"]["id"]')
[ "$(jget 'm["job"]["status"]')" = queued ] && ok || fail "deploy answers a queued job: $OUT"
wait_job "$JOB"
[ "$STATUS" = succeeded ] && ok || fail "deploy job: $STATUS: $OUT"
[ "$(inspect_field $P-a-web-1 '{{.State.Health.Status}}')" = healthy ] && ok || fail "$P-a web is healthy"
api GET "/api/v1/jobs/$JOB/log" "$READ"
grep -q "container $P-a-web-1: Started" <<<"$OUT" && ok || fail "job log: $OUT"
api GET "/api/v1/projects/$P-a" "$READ"
[ "$(jget '[c["health"] for c in m["containers"]]')" = "['healthy']" ] && ok || fail "project details: $OUT"
[ "$(jget 'm["last_job"]["id"]')" = "$JOB" ] && ok || fail "last job: $OUT"
# secrets: env values are sealed at rest (secret.key 0600), masked in answers, absent from logs
[ "$(jget 'm["env"]')" = "{'API_KEY': '********', 'GREETING': '********'}" ] && ok || fail "env masked: $OUT"
[ "$(stat -c %a "$ST/secret.key")" = 600 ] && [ "$(stat -c %s "$ST/secret.key")" = 32 ] && ok ||
    fail "secret.key: $(ls -l "$ST/secret.key")"
grep -qa zpe2e-secret-value-42 "$ST"/zpanel.db* "$ST"/jobs/* && fail "a secret value is stored in clear" || ok
[ "$(docker exec $P-a-web-1 sh -c 'echo "$API_KEY"')" = zpe2e-secret-value-42 ] && ok || fail "the container gets the clear value"
api GET "/api/v1/projects/$P-a/logs?service=web&tail=5" "$READ"
expect_code 200 "logs"
grep -qx "$P-a-web-1 | started-hi" <<<"$OUT" && ok || fail "logs carry the interpolated env: $OUT"
# follow: the replayed lines arrive as SSE; the stream stays open (curl ends it)
curl -sN --max-time 3 -H "Authorization: Bearer $READ" \
    "$URL/api/v1/projects/$P-a/logs?follow=true&tail=5" >"$TMP/follow"
grep -qx "data: $P-a-web-1 | started-hi" "$TMP/follow" && ok || fail "logs follow: $(cat "$TMP/follow")"
api GET "/api/v1/projects/$P-a/logs?service=nope" "$READ"
expect_code 404 "logs of an unknown service"
api GET "/api/v1/projects/$P-a/stats" "$READ"
expect_code 200 "stats"
[ "$(jget '[(c["verdict"], c["mem_used"] > 0) for c in m["containers"]]')" = "[('healthy', True)]" ] && ok ||
    fail "stats: $OUT"

# ---- releases, rollback and backup (the CLI's workflows, as jobs) ----
api GET "/api/v1/projects/$P-a/releases" "$READ"
[ "$(jget '[(r["id"], r["kind"], r["status"]) for r in m["releases"]]')" = "[(1, 'up', 'deployed')]" ] && ok ||
    fail "the deploy job recorded release 1: $OUT"
api PUT "/api/v1/projects/$P-a" "$ADMIN" '{"env": {"GREETING": "hello"}}'
expect_code 200 "put a new env"
api POST "/api/v1/projects/$P-a/deploy" "$DEPLOY"
wait_job "$(jget 'm["job"]["id"]')"
[ "$STATUS" = succeeded ] && ok || fail "second deploy: $STATUS: $OUT"
docker logs $P-a-web-1 2>&1 | grep -qx started-hello && ok || fail "the new env runs"
api POST "/api/v1/projects/$P-a/rollback" "$DEPLOY" '{"release": 0}'
expect_code 400 "rollback to release 0"
api POST "/api/v1/projects/$P-a/rollback" "$DEPLOY" '{"release": 99}'
expect_code 202 "rollback to a release that does not exist is queued"
wait_job "$(jget 'm["job"]["id"]')"
[ "$STATUS" = failed ] && [[ $(jget 'm["error"]') == *"99"* ]] && ok || fail "rollback to 99: $STATUS: $OUT"
api POST "/api/v1/projects/$P-a/rollback" "$DEPLOY"
expect_code 202 "rollback"
RB=$(jget 'm["job"]["id"]')
wait_job "$RB"
[ "$STATUS" = succeeded ] && ok || fail "rollback job: $STATUS: $OUT"
docker logs $P-a-web-1 2>&1 | grep -qx started-hi && ok || fail "the rollback runs release 1's env again"
api GET "/api/v1/projects/$P-a/releases" "$READ"
[ "$(jget '[(r["id"], r["kind"], r["status"], r["source"]) for r in m["releases"]][0]')" = "(3, 'rollback', 'deployed', 1)" ] &&
    ok || fail "the rollback is release 3 from 1: $OUT"
api GET "/api/v1/jobs/$RB/log" "$READ"
grep -q "release 3 deployed (rollback to release 1)" <<<"$OUT" && ok || fail "rollback log: $OUT"
api POST "/api/v1/projects/$P-a/backup" "$DEPLOY" '{"stop": "yes"}'
expect_code 400 "backup with a bad stop"
api POST "/api/v1/projects/$P-a/backup" "$DEPLOY" '{"services": ["nope"]}'
wait_job "$(jget 'm["job"]["id"]')"
[ "$STATUS" = failed ] && ok || fail "backup of an unknown service: $STATUS"
docker exec $P-a-web-1 sh -c 'echo kept > /data/f' || fail "writing the volume"
api POST "/api/v1/projects/$P-a/backup" "$DEPLOY" '{"stop": true}'
expect_code 202 "backup"
BK=$(jget 'm["job"]["id"]')
wait_job "$BK"
[ "$STATUS" = succeeded ] && ok || fail "backup job: $STATUS: $OUT"
archive=$(ls "$ST/backups/$P-a/"*.tar.zst 2>/dev/null | head -1)
[ -n "$archive" ] && "$ZPANEL" backup verify "$archive" >"$TMP/verify" && ok || fail "backup archive: '$archive'"
grep -q "volume *data " "$TMP/verify" && ok || fail "the archive holds the volume: $(cat "$TMP/verify")"
[ "$(inspect_field $P-a-web-1 '{{.State.Running}}')" = true ] && ok || fail "backup --stop started web again"

# ---- SSE: lines arrive while the job runs ----
api POST /api/v1/projects "$ADMIN" "$(compose_json $P-slow 4)"
expect_code 201 "create the slow project"
api POST "/api/v1/projects/$P-slow/deploy" "$DEPLOY"
JOB=$(jget 'm["job"]["id"]')
curl -sN -H 'Accept: text/event-stream' -H "Authorization: Bearer $READ" \
    "$URL/api/v1/jobs/$JOB/log" >"$TMP/sse" &
SSE_PID=$!
seen=
for _ in $(seq 1 300); do
    if grep -q '^data: ' "$TMP/sse"; then
        api GET "/api/v1/jobs/$JOB" "$READ"
        seen=$(jget 'm["status"]')
        break
    fi
    sleep 0.05
done
[ "$seen" = running ] || [ "$seen" = queued ] && ok || fail "the first SSE line came while the job was '$seen'"
wait_job "$JOB"
[ "$STATUS" = succeeded ] && ok || fail "slow deploy: $STATUS"
for _ in $(seq 1 50); do grep -q '^event: end' "$TMP/sse" && break; sleep 0.1; done
grep -q '^data: succeeded' "$TMP/sse" && ok || fail "SSE ends with the status: $(cat "$TMP/sse")"
grep -q "^data: .*job $JOB succeeded" "$TMP/sse" && ok || fail "SSE carried the whole log"
wait "$SSE_PID" 2>/dev/null
SSE_PID=

# ---- cancel a running deploy ----
hang=$(compose_json $P-hang 100000)
api POST /api/v1/projects "$ADMIN" "$hang"
api POST "/api/v1/projects/$P-hang/deploy" "$DEPLOY"
JOB=$(jget 'm["job"]["id"]')
for _ in $(seq 1 200); do
    api GET "/api/v1/jobs/$JOB/log" "$READ"
    grep -q "Started" <<<"$OUT" && break
    sleep 0.1
done
api POST "/api/v1/jobs/$JOB/cancel" "$DEPLOY"
expect_code 202 "cancel a running job"
wait_job "$JOB"
[ "$STATUS" = cancelled ] && ok || fail "cancelled deploy: $STATUS"
api POST "/api/v1/jobs/$JOB/cancel" "$DEPLOY"
expect_code 409 "cancel a finished job"

# ---- 20 deploys on 4 projects serialise per project ----
for p in b c d; do
    api POST /api/v1/projects "$ADMIN" "$(compose_json $P-$p 0)"
    expect_code 201 "create $P-$p"
done
ids=()
for i in 1 2 3 4 5; do
    for p in a b c d; do
        api POST "/api/v1/projects/$P-$p/deploy" "$DEPLOY"
        ids+=("$(jget 'm["job"]["id"]')")
    done
done
for id in "${ids[@]}"; do
    wait_job "$id"
    [ "$STATUS" = succeeded ] || fail "job $id: $STATUS"
done
api GET "/api/v1/jobs?limit=1000" "$READ"
$PY - "$TMP/out" "${ids[@]}" <<'PY' && ok || fail "jobs of one project overlapped"
import json, sys
jobs = [j for j in json.load(open(sys.argv[1]))["jobs"] if str(j["id"]) in sys.argv[2:]]
assert len(jobs) == 20, len(jobs)
by = {}
for j in jobs:
    by.setdefault(j["project"], []).append((j["started"], j["finished"], j["id"]))
for p, spans in by.items():
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        assert a[1] <= b[0], (p, a, b)
# and different projects did run at the same time at least once
allspans = sorted((j["started"], j["finished"], j["project"]) for j in jobs)
assert any(a[1] > b[0] and a[2] != b[2] for a, b in zip(allspans, allspans[1:])), "no parallelism"
PY

# ---- kill -9 during a deploy; the restart completes it and the job queued behind it ----
cleanup_project $P-slow
api POST "/api/v1/projects/$P-slow/deploy" "$DEPLOY"
JOB=$(jget 'm["job"]["id"]')
api POST "/api/v1/projects/$P-slow/start" "$DEPLOY"
JOB2=$(jget 'm["job"]["id"]')
for _ in $(seq 1 200); do
    api GET "/api/v1/jobs/$JOB/log" "$READ"
    grep -q "Starting" <<<"$OUT" && break
    sleep 0.05
done
kill -9 "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
SERVE_PID=
start_serve
grep -q "job=$JOB msg=\"interrupted" "$TMP/serve.log" && ok || fail "the interrupted job is queued again"
wait_job "$JOB"
[ "$STATUS" = succeeded ] && ok || fail "deploy after kill -9: $STATUS"
[ "$(jget 'm["attempts"]')" = 2 ] && ok || fail "ran twice: $OUT"
wait_job "$JOB2"
[ "$STATUS" = succeeded ] && ok || fail "the queued job ran after the restart: $STATUS: $OUT"
for _ in $(seq 1 100); do
    [ "$(inspect_field $P-slow-web-1 '{{.State.Health.Status}}')" = healthy ] && break
    sleep 0.2
done
[ "$(inspect_field $P-slow-web-1 '{{.State.Health.Status}}')" = healthy ] && ok || fail "$P-slow healthy after the restart"

# ---- delete with volumes ----
api DELETE "/api/v1/projects/$P-a?volumes=true" "$ADMIN"
expect_code 202 "delete"
wait_job "$(jget 'm["job"]["id"]')"
[ "$STATUS" = succeeded ] && ok || fail "delete job: $STATUS"
[ -z "$(docker ps -aq --filter label=io.zpanel.project=$P-a)" ] && ok || fail "containers of $P-a removed"
docker volume inspect "${P}-a_data" >/dev/null 2>&1 && fail "volume of $P-a kept" || ok
api GET "/api/v1/projects/$P-a" "$READ"
expect_code 404 "a deleted project is gone"
[ -d "$ST/projects/$P-a" ] && fail "its directory is kept" || ok

api GET /metrics "$READ"
grep -q 'zpanel_jobs{kind="deploy",status="succeeded"}' <<<"$OUT" && ok || fail "metrics: $OUT"
grep -qx "zpanel_containers{project=\"$P-slow\",health=\"healthy\"} 1" <<<"$OUT" && ok ||
    fail "metrics: containers by health: $OUT"
grep -qx 'zpanel_engine_up 1' <<<"$OUT" && ok || fail "metrics: engine up: $OUT"
finish
