#!/usr/bin/env bash
# test_apps.sh: apps from git on the real engine. A bare repository made here with
# Debian's git (zpanel itself uses libgit2) holds a Dockerfile app (FROM the local busybox
# image, httpd on $PORT); it is served over file:// and over smart HTTP (`git http-backend`
# behind tests/e2e/git_http.py on 127.0.0.1, a token required). `app plan`, `app create`
# (from the HTTP URL with a token file; secrets sealed in app.toml), `app deploy`: the app
# answers through zpanel's proxy with version 1, its commit is in the release note. Then
# `zpanel serve`: a webhook with a bad signature, or for an app that does not exist, gets
# the same 401 and deploys nothing; a correctly signed push of version 2 goes live under
# wrk's load through the proxy with no failed request; the same delivery again, another
# branch and a ping are ignored; pushes during a deploy coalesce into one queued job; a
# deploy of the first commit through the API brings version 1 back; a pull request from
# the same repository deploys a preview NAME-pr-N (pr-N.DOMAIN) from its branch and closing
# it removes the preview, a fork's is ignored, a preview never replaces another app nor
# takes its host. A stdlib Python app without a Dockerfile is built through its generated
# Dockerfile FROM a local Debian python3 image (--image python=...; made in the background
# FROM the e2e_debian_image fixture's image, kept between runs) and serves 200 through the
# proxy as uid 10001; its checkout is shallow with libgit2 1.7+, full (and logged so)
# before. Over ssh (Debian's sshd on 127.0.0.1, lib-sshd.sh) with a deploy key: an
# unknown and a wrong host key are refused, the known one deploys. `app remove`. The
# test runs the proxy: it holds the proxy lock (RESOURCE_LOCK).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
source "$(dirname "$0")/lib-proxy.sh"
source "$(dirname "$0")/lib-sshd.sh"

A=zpe2eapps
PR=$A-pr-7
PY=zpe2eappspy
SA=zpe2eappsssh
PY_IMAGE=zpanel-local/python:3
require_engine
for t in git curl python3 wrk; do command -v $t >/dev/null || skip_test "$t is missing"; done
[ -x /usr/lib/git-core/git-http-backend ] || skip_test "git http-backend is missing"
test_image || { fail "building $TEST_IMAGE"; finish; exit; }
proxy_image || { fail "building $PROXY_IMAGE"; finish; exit; }
cleanup_routed "$A"
cleanup_routed "$PR"
cleanup_routed "$PY"
cleanup_project "$SA"
timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
# The Python provider's base image: Debian's python3 on the local Debian image (the
# e2e_debian_image fixture; the script returns at once when it exists), kept between runs
# as that one is. Made in the background while the Dockerfile app is tested.
py_image() {
    bash "$ZP_SOURCE_DIR/scripts/debian-image.sh" zpanel-local/debian:bookworm || return 1
    exec 8>/tmp/zpanel-python-image.lock
    flock 8
    docker image inspect "$PY_IMAGE" >/dev/null 2>&1 && return 0
    local t0=$SECONDS
    printf '%s\n' 'FROM zpanel-local/debian:bookworm' \
        'RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*' |
        docker build -q -t "$PY_IMAGE" - || return 1
    echo "built $PY_IMAGE in $((SECONDS - t0)) s"
}
py_image >"$TMP/py-image.log" 2>&1 &
PY_IMAGE_PID=$!
export ZPANEL_STATE_DIR=$TMP/state
ST=$ZPANEL_STATE_DIR
SERVE_PID=
GIT_HTTP_PID=
WRK_PID=
stop_wrk() { [ -n "$WRK_PID" ] && kill -INT "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null; WRK_PID=; }
cleanup() {
    stop_wrk
    [ -n "$PY_IMAGE_PID" ] && kill "$PY_IMAGE_PID" 2>/dev/null && wait "$PY_IMAGE_PID" 2>/dev/null
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    [ -n "$GIT_HTTP_PID" ] && kill "$GIT_HTTP_PID" 2>/dev/null && wait "$GIT_HTTP_PID" 2>/dev/null
    cleanup_routed "$A"
    cleanup_routed "$PR"
    cleanup_routed "$PY"
    sshd_stop
    cleanup_project "$SA"
    timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
    docker images -q "zpanel-app-$SA" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    docker images -q "zpanel-app-$PY" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    docker images -q "zpanel-app-$PR" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    docker images -q "zpanel-app-$A" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT

HTTP_PORT=$(free_port)
# get_page [HOST]: what the app (or HOST) answers through the proxy (empty when nothing does)
get_page() { curl -s --max-time 2 -H "Host: ${1:-$A.localhost}" "http://127.0.0.1:$HTTP_PORT/" 2>/dev/null; }
# wait_page WANT [HOST]: poll (bounded: 60 s) until the app (or HOST) answers WANT
wait_page() {
    for _ in $(seq 1 300); do
        [ "$(get_page "${2:-}")" = "$1" ] && return 0
        sleep 0.2
    done
    return 1
}

# ---- the repository ----
W=$TMP/work
git init -q -b main "$W"
cat >"$W/Dockerfile" <<DOCKERFILE
FROM $TEST_IMAGE
COPY index.html /www/index.html
EXPOSE 8080
CMD ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p \$PORT -h /www & wait"]
DOCKERFILE
echo "version 1" >"$W/index.html"
g() { git -C "$W" -c user.name=e2e -c user.email=e2e@example.invalid "$@"; }
g add -A && g commit -qm v1
git clone -q --bare "$W" "$TMP/repo.git"
g remote add origin "$TMP/repo.git"
SHA1=$(g rev-parse HEAD)
# the same repository over smart HTTP, behind HTTP Basic authentication with a token
GIT_TOKEN=e2e-git-token-0123456789
echo "$GIT_TOKEN" >"$TMP/token"
python3 "$ZP_SOURCE_DIR/tests/e2e/git_http.py" "$TMP" "$GIT_TOKEN" "$TMP/git-port" 2>"$TMP/git_http.log" &
GIT_HTTP_PID=$!
for _ in $(seq 1 150); do [ -s "$TMP/git-port" ] && break; sleep 0.1; done
GURL=http://127.0.0.1:$(cat "$TMP/git-port" 2>/dev/null)/repo.git

# ---- plan, create, deploy ----
run "$ZPANEL" app plan "$W"
expect_rc 0 "app plan"
expect_out_has "provider:        dockerfile" "plan: the Dockerfile pack"
expect_out_has "port:            8080" "plan: the port from EXPOSE"
run "$ZPANEL" app plan "file://$TMP/repo.git"
expect_rc 0 "app plan of a repository URL"
expect_out_has "provider:        dockerfile" "plan URL: fetched and detected"
run "$ZPANEL" app plan "$GURL"
expect_rc 1 "app plan over HTTP without the token"
expect_err_has "needs a token" "the missing token is named"
ZPANEL_GIT_TOKEN=$GIT_TOKEN run "$ZPANEL" app plan "$GURL"
expect_rc 0 "app plan over smart HTTP (git http-backend) with a token"
expect_out_has "provider:        dockerfile" "plan over HTTP: fetched and detected"

SECRET=e2e-webhook-secret-0123456789
run "$ZPANEL" app create "$A" --git "$GURL" --token-file "$TMP/token" \
    --env GREETING=hello --secret "$SECRET" --domain "$A.localhost" --tls off --health /
expect_rc 0 "app create"
run "$ZPANEL" app create "$A" --git "file://$TMP/repo.git"
expect_rc 1 "a second app of the same name"
expect_err_has "exists already" "create: the conflict is named"
run "$ZPANEL" app create bad/name --git "file://$TMP/repo.git"
expect_rc 2 "an invalid app name is a usage error"
# secrets at rest: the webhook secret and the env values are sealed in app.toml
grep -q -e "$SECRET" -e "$GIT_TOKEN" "$ST/apps/$A/app.toml" && fail "app.toml holds a secret in clear" || ok
grep -q 'GREETING=zpenc:v1:' "$ST/apps/$A/app.toml" && ok || fail "app.toml: the env value is sealed"

T0=$(date +%s.%N)
run timeout 120 "$ZPANEL" proxy up --image "$PROXY_IMAGE" --http-port "$HTTP_PORT" --https-port 0 --bind 127.0.0.1
expect_rc 0 "proxy up"
echo "proxy up: $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" >&2
T0=$(date +%s.%N)
run "$ZPANEL" app deploy "$A"
expect_rc 0 "app deploy"
expect_out_has "commit ${SHA1:0:12} deployed (dockerfile) as release 1" "deploy: commit and release"
wait_page "version 1" && ok || fail "version 1 serves: '$(get_page)'"
echo "first deploy: $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" >&2
C=$(docker ps -q --filter "label=io.zpanel.project=$A")
[ "$(inspect_field "$C" '{{index .Config.Labels "dev.zpanel.app.commit"}}')" = "$SHA1" ] && ok ||
    fail "the container is labelled with the commit"
inspect_field "$C" '{{json .Config.Env}}' | grep -q '"GREETING=hello"' && ok || fail "the app's env"
grep -q hello "$ST/apps/$A/compose.yaml" && fail "compose.yaml holds an env value in clear" || ok
run "$ZPANEL" app list
expect_out_has "${SHA1:0:12}" "app list shows the deployed commit"
(cd "$ST/apps/$A" && "$ZPANEL" releases) >"$TMP/rel" 2>&1
grep -q "git $SHA1 (main)" "$TMP/rel" && ok || fail "the release records the commit: $(cat "$TMP/rel")"

# ---- serve and webhooks ----
SPORT=$(free_port)
URL=http://127.0.0.1:$SPORT
"$ZPANEL" serve --listen "127.0.0.1:$SPORT" --state-dir "$ST" --workers 2 >>"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "$URL/healthz" && break; sleep 0.1; done
echo 'e2e-password-1' | "$ZPANEL" user add root --role admin --password-stdin --state-dir "$ST" >/dev/null
TOKEN=$("$ZPANEL" token create --user root --scope admin --state-dir "$ST" | tail -1)

echo "version 2" >"$W/index.html"
g commit -qam v2 && g push -q origin main
SHA2=$(g rev-parse HEAD)
body() { printf '{"ref":"refs/heads/%s","after":"%s","repository":{"name":"x"}}' "$1" "$2"; }
sign() { python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' "$1"; }
# hook PROVIDER DELIVERY BODY SIGNATURE_HEADER EVENT: HTTP code in $CODE, answer in $TMP/out
hook() {
    CODE=$(curl -s -o "$TMP/out" -w '%{http_code}' -X POST "$URL/api/v1/webhooks/$1/${HOOK_APP:-$A}" \
        -H 'Content-Type: application/json' -H "X-GitHub-Event: $5" -H "X-Gitlab-Event: $5" \
        -H "X-GitHub-Delivery: $2" -H "$4" --data-binary "$3")
}
jobs_count() { curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }

B=$(body main "$SHA2")
hook github d-bad "$B" "X-Hub-Signature-256: sha256=$(printf '%s' "$B" | sign wrong-secret-0123456789)" push
[ "$CODE" = 401 ] && ok || fail "a bad signature gets 401 (got $CODE: $(cat "$TMP/out"))"
cp "$TMP/out" "$TMP/out-wrong"
hook github d-none "$B" "X-Nothing: x" push
[ "$CODE" = 401 ] && ok || fail "a missing signature gets 401 (got $CODE)"
hook gitlab d-gl "$B" "X-Gitlab-Token: wrong-token" "Push Hook"
[ "$CODE" = 401 ] && ok || fail "a wrong GitLab token gets 401 (got $CODE)"
# an unknown app is answered exactly as a wrong signature is (which apps exist does not leak)
HOOK_APP=zpe2enosuchapp hook github d-x "$B" "X-Hub-Signature-256: sha256=$(printf '%s' "$B" | sign "$SECRET")" push
[ "$CODE" = 401 ] && cmp -s "$TMP/out" "$TMP/out-wrong" && ok ||
    fail "an unknown app gets the wrong signature's 401 ($CODE $(cat "$TMP/out") vs $(cat "$TMP/out-wrong"))"
[ "$(jobs_count)" = 0 ] && ok || fail "rejected webhooks queue no job"
sleep 0.5
[ "$(get_page)" = "version 1" ] && ok || fail "rejected webhooks deploy nothing"

SIG="X-Hub-Signature-256: sha256=$(printf '%s' "$B" | sign "$SECRET")"
# continuous load through the proxy from before the webhook until every deploy it caused
# has ended (SIGINT: wrk prints its counts; -d only bounds a test that dies before that).
# A slow answer on a loaded machine is not a failure: wrk waits up to 10 s for each.
wrk -t2 -c8 -d300s --timeout 10s -s "$ZP_SOURCE_DIR/tests/e2e/wrk-count.lua" -H "Host: $A.localhost" \
    "http://127.0.0.1:$HTTP_PORT/" >"$TMP/wrk" 2>&1 &
WRK_PID=$!
T0=$(date +%s.%N)
hook github d-1 "$B" "$SIG" push
[ "$CODE" = 202 ] && ok || fail "a signed push is accepted (got $CODE: $(cat "$TMP/out"))"
# two more pushes while it deploys: one queued follow-up, the second coalesced into it
hook github d-2 "$B" "$SIG" push
C2=$CODE; cp "$TMP/out" "$TMP/out2"
hook github d-3 "$B" "$SIG" push
[ "$C2" = 202 ] && [ "$CODE" = 202 ] && grep -q '"coalesced": *true' "$TMP/out" && ok ||
    fail "pushes during a deploy coalesce ($C2 $(cat "$TMP/out2"); $CODE $(cat "$TMP/out"))"
wait_page "version 2" && ok || fail "the pushed version goes live: '$(get_page)' $(tail -5 "$TMP/serve.log")"
echo "webhook to live: $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" >&2
hook github d-1 "$B" "$SIG" push
[ "$CODE" = 200 ] && grep -q 'seen before' "$TMP/out" && ok || fail "a replayed delivery is ignored ($CODE $(cat "$TMP/out"))"
BD=$(body dev "$SHA2")
hook github d-4 "$BD" "X-Hub-Signature-256: sha256=$(printf '%s' "$BD" | sign "$SECRET")" push
[ "$CODE" = 200 ] && grep -q 'another branch' "$TMP/out" && ok || fail "another branch is ignored ($CODE)"
hook github d-5 '{"zen":"hi"}' "X-Hub-Signature-256: sha256=$(printf '%s' '{"zen":"hi"}' | sign "$SECRET")" ping
[ "$CODE" = 200 ] && grep -q 'not a push' "$TMP/out" && ok || fail "a ping is ignored ($CODE)"

# wait for the queued follow-up to finish, then deploy the first commit through the API
for _ in $(seq 1 300); do
    curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs" | grep -Eq '"status": *"(queued|running)"' || break
    sleep 0.2
done
stop_wrk
errs=$(grep '^errors ' "$TMP/wrk")
bad=$(awk '$1 == "status" && $2 !~ /^2/ { n += $3 } END { print n + 0 }' "$TMP/wrk")
good=$(awk '$1 == "status" && $2 ~ /^2/ { n += $3 } END { print n + 0 }' "$TMP/wrk")
[ "$errs" = "errors connect=0 read=0 write=0 timeout=0 status=0" ] && [ "$bad" = 0 ] && [ "$good" -gt 0 ] && ok ||
    fail "the webhook's deploy under wrk: $good 2xx, $bad failed, $errs: $(cat "$TMP/wrk")"
echo "wrk through the proxy during the webhook's deploy: $good requests, $bad failed" >&2
CODE=$(curl -s -o "$TMP/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "{\"commit\":\"$SHA1\"}" "$URL/api/v1/apps/$A/deploy")
[ "$CODE" = 202 ] && ok || fail "deploy a commit through the API ($CODE $(cat "$TMP/out"))"
wait_page "version 1" && ok || fail "the first commit serves again: '$(get_page)'"
CODE=$(curl -s -o "$TMP/out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/apps")
[ "$CODE" = 200 ] && grep -q "\"name\": *\"$A\"" "$TMP/out" && ok || fail "GET /api/v1/apps ($CODE)"
grep -q "$SECRET" "$TMP/out" && fail "the app list shows the secret" || ok

# ---- pull request previews ----
g checkout -q -b feature
echo "preview" >"$W/index.html"
g commit -qam preview && g push -q origin feature
SHAF=$(g rev-parse HEAD)
g checkout -q main
prbody() { # ACTION HEAD_REPO
    printf '{"action":"%s","number":7,"pull_request":{"head":{"ref":"feature","sha":"%s","repo":{"full_name":"%s"}},"base":{"ref":"main","repo":{"full_name":"acme/shop"}}}}' "$1" "$SHAF" "$2"
}
pr_hook() { # DELIVERY ACTION HEAD_REPO
    local b
    b=$(prbody "$2" "$3")
    hook github "$1" "$b" "X-Hub-Signature-256: sha256=$(printf '%s' "$b" | sign "$SECRET")" pull_request
}
wait_jobs() {
    for _ in $(seq 1 300); do
        curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs" | grep -Eq '"status": *"(queued|running)"' || return 0
        sleep 0.2
    done
    return 1
}
# preview names and hosts never collide with another app's
run "$ZPANEL" app create "$A-pr-3" --git "file://$TMP/repo.git"
expect_rc 1 "an app name ending in -pr-N is refused"
expect_err_has "previews" "the refusal says why"
mkdir -p "$ST/apps/$A-pr-7"
printf 'name = "%s"\ngit = "file:///nowhere"\n' "$A-pr-7" >"$ST/apps/$A-pr-7/app.toml"
pr_hook p-c1 opened acme/shop
[ "$CODE" = 409 ] && grep -q "not a preview of '$A'" "$TMP/out" && ok ||
    fail "a preview never replaces another app of its name ($CODE $(cat "$TMP/out"))"
pr_hook p-c2 closed acme/shop
[ "$CODE" = 409 ] && grep -q "file:///nowhere" "$ST/apps/$A-pr-7/app.toml" && ok ||
    fail "closing the pull request leaves the other app alone ($CODE $(cat "$TMP/out"))"
rm -r "$ST/apps/$A-pr-7"
run "$ZPANEL" app create zpe2eappsdom --git "file://$TMP/repo.git" --domain "pr-7.$A.localhost"
expect_rc 0 "an app on the preview's host"
pr_hook p-c3 opened acme/shop
[ "$CODE" = 409 ] && grep -q "app 'zpe2eappsdom'" "$TMP/out" && ok ||
    fail "a preview never takes another app's host ($CODE $(cat "$TMP/out"))"
run "$ZPANEL" app remove zpe2eappsdom
expect_rc 0 "remove the app on the preview's host"
pr_hook p-fork opened mallory/shop
[ "$CODE" = 200 ] && grep -q 'fork' "$TMP/out" && ok || fail "a fork's pull request is not deployed ($CODE $(cat "$TMP/out"))"
pr_hook p-1 opened acme/shop
[ "$CODE" = 202 ] && ok || fail "a pull request queues its preview ($CODE $(cat "$TMP/out"))"
wait_jobs || fail "the preview's deploy ends"
C=$(docker ps -q --filter "label=io.zpanel.project=$PR")
[ -n "$C" ] && [ "$(inspect_field "$C" '{{index .Config.Labels "dev.zpanel.app.commit"}}')" = "$SHAF" ] && ok ||
    fail "the preview runs the pull request's head: $(tail -5 "$TMP/serve.log")"
grep -q "^domain = \"pr-7.$A.localhost\"" "$ST/apps/$PR/app.toml" && ok || fail "the preview's host is pr-7.DOMAIN"
# the preview's new checkout, fetched over smart HTTP: only the tip (depth 1) with libgit2
# 1.7 or later, the branch's three commits before
LG_MINOR=$(ldd "$ZPANEL" | grep -o 'libgit2\.so\.1\.[0-9]*' | head -1)
LG_MINOR=${LG_MINOR##*.}
PRSRC=$ST/apps/$PR/src
if [ "${LG_MINOR:-0}" -ge 7 ]; then
    [ -s "$PRSRC/.git/shallow" ] && [ "$(git -C "$PRSRC" rev-list --count HEAD)" = 1 ] && ok ||
        fail "libgit2 1.$LG_MINOR: the checkout fetched over HTTP is shallow ($(git -C "$PRSRC" rev-list --count HEAD))"
else
    [ ! -e "$PRSRC/.git/shallow" ] && [ "$(git -C "$PRSRC" rev-list --count HEAD)" = 3 ] && ok ||
        fail "libgit2 1.${LG_MINOR:-?}: the checkout fetched over HTTP has the history ($(git -C "$PRSRC" rev-list --count HEAD))"
fi
wait_page preview "pr-7.$A.localhost" && ok || fail "the preview serves at pr-7.DOMAIN: '$(get_page "pr-7.$A.localhost")'"
[ "$(get_page)" = "version 1" ] && ok || fail "the preview leaves the app alone"
pr_hook p-2 closed acme/shop
[ "$CODE" = 202 ] && ok || fail "closing the pull request queues the removal ($CODE $(cat "$TMP/out"))"
wait_jobs || fail "the preview's removal ends"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$PR")" ] && [ ! -e "$ST/apps/$PR" ] && ok ||
    fail "the preview is gone after the pull request closed"

kill "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null
SERVE_PID=

# ---- a generated Dockerfile: a stdlib Python web app without a Dockerfile ----
P=$TMP/py
git init -q -b main "$P"
cat >"$P/main.py" <<'PYAPP'
import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("python uid %d\n" % os.getuid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Hello).serve_forever()
PYAPP
gp() { git -C "$P" -c user.name=e2e -c user.email=e2e@example.invalid "$@"; }
gp add -A && gp commit -qm py && echo "a stdlib app" >"$P/README" && gp add -A && gp commit -qm readme
git clone -q --bare "$P" "$TMP/py.git"
T0=$(date +%s.%N)
wait "$PY_IMAGE_PID" && ok || fail "building $PY_IMAGE: $(tail -20 "$TMP/py-image.log")"
PY_IMAGE_PID=
cat "$TMP/py-image.log" >&2
echo "python image (after the wait): $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" >&2
T0=$(date +%s.%N)
run "$ZPANEL" app plan "$P" --image "python=$PY_IMAGE"
expect_rc 0 "app plan of a Python app"
expect_out_has "provider:        python" "plan: the Python provider"
expect_out_has "FROM $PY_IMAGE AS build" "plan: the configured base image"
expect_out_has "RUN python3 -m venv --without-pip /opt/venv" "plan: a venv without pip (nothing to install)"
run "$ZPANEL" app create "$PY" --git "file://$TMP/py.git" --image "python=$PY_IMAGE" \
    --image "python-runtime=$PY_IMAGE" --domain "$PY.localhost" --tls off
expect_rc 0 "app create with the Python provider's base images"
grep -q "python-runtime=$PY_IMAGE" "$ST/apps/$PY/app.toml" && ok || fail "app.toml keeps the base images"
run "$ZPANEL" app create zpe2eappsbad --git "file://$TMP/py.git" --image "cobol=x:1"
expect_rc 2 "an --image of an unknown provider is a usage error"
expect_err_has "--image 'cobol=x:1'" "the bad --image is named"
run "$ZPANEL" app deploy "$PY"
expect_rc 0 "app deploy of the Python app"
expect_out_has "deployed (python)" "deploy: the python pack"
# over file:// the history is fetched whatever libgit2 (its local transport has no shallow
# fetch), and the log says why
LG_MINOR=$(ldd "$ZPANEL" | grep -o 'libgit2\.so\.1\.[0-9]*' | head -1)
LG_MINOR=${LG_MINOR##*.}
if [ "${LG_MINOR:-0}" -ge 7 ]; then WHY="local transport (file://) has no shallow fetch"; else
    WHY="libgit2 1.$LG_MINOR.[0-9]* has no shallow fetch"; fi
grep -q "full fetch: .*$WHY" <<<"$OUT$ERR" && [ ! -e "$ST/apps/$PY/src/.git/shallow" ] &&
    [ "$(git -C "$ST/apps/$PY/src" rev-list --count HEAD)" = 2 ] && ok ||
    fail "libgit2 1.${LG_MINOR:-?} over file://: a full fetch, and the log says why: $OUT$ERR"
wait_page "python uid 10001" "$PY.localhost" && ok ||
    fail "the generated Dockerfile's app serves as uid 10001: '$(get_page "$PY.localhost")'"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $PY.localhost" "http://127.0.0.1:$HTTP_PORT/")
[ "$CODE" = 200 ] && ok || fail "the Python app's route answers 200 (got $CODE)"
echo "python app: plan, create, build and deploy: $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" >&2
C=$(docker ps -q --filter "label=io.zpanel.project=$PY")
[ "$(inspect_field "$C" '{{.Config.User}}')" = "10001:10001" ] && ok || fail "the app runs as uid 10001"
inspect_field "$C" '{{json .Config.Env}}' | grep -q '"PORT=8000"' && ok || fail "PORT is the plan's 8000"
python3 -c 'import json, sys; t = open(sys.argv[1]).read(); t = t[t.index("{"):]
print(json.loads(t)["services"]["web"]["build"]["dockerfile_inline"])' "$ST/apps/$PY/compose.yaml" >"$TMP/py.Dockerfile"
[ "$(grep -c '^FROM ' "$TMP/py.Dockerfile")" = 2 ] && grep -q '^USER 10001:10001$' "$TMP/py.Dockerfile" && ok ||
    fail "the generated Dockerfile is multi-stage and non-root: $(cat "$TMP/py.Dockerfile")"
run "$ZPANEL" app remove "$PY"
expect_rc 0 "remove the Python app"

# ---- ssh: a deploy key, the host key checked against zpanel's known_hosts ----
# Debian's sshd on 127.0.0.1 (lib-sshd.sh) runs git-upload-pack for a key-only user who
# owns a copy of the repository (git refuses a repository another user owns)
T0=$(date +%s.%N)
if sshd_prepare "$TMP/sshd" zpgittest 2>"$TMP/sshd.err" &&
    sshd_start host1 'DisableForwarding yes' 'PermitTTY no' 2>>"$TMP/sshd.err"; then
    ok
else
    fail "sshd for git over ssh: $(cat "$TMP/sshd.err")"
fi
chmod 755 "$TMP"
git clone -q --bare "$TMP/repo.git" "$TMP/sshd/repo.git"
SSHA=$(git -C "$TMP/sshd/repo.git" rev-parse main)
chown -R zpgittest "$TMP/sshd/repo.git"
KH=$ST/ssh/known_hosts
mkdir -p "$ST/ssh"
run "$ZPANEL" app create "$SA" --git "ssh://zpgittest@127.0.0.1:$SSHD_PORT$TMP/sshd/repo.git" \
    --ssh-key "$TMP/sshd/client"
expect_rc 0 "app create over ssh with a deploy key"
run "$ZPANEL" app deploy "$SA"
expect_rc 1 "an unknown host is refused"
expect_err_has "host '[127.0.0.1]:$SSHD_PORT' is not known: its host key $SSHD_FP1" "the unknown host and its key are named"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$TMP/sshd/host2.pub")" >"$KH"
run "$ZPANEL" app deploy "$SA"
expect_rc 1 "a wrong host key is refused"
expect_err_has "REFUSING host key $SSHD_FP1" "the wrong host key is named"
expect_err_has "holds another key for it" "the refusal says why"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$SA")" ] && ok || fail "a refused host deploys nothing"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$TMP/sshd/host1.pub")" >"$KH"
run "$ZPANEL" app deploy "$SA"
expect_rc 0 "app deploy over ssh with a deploy key and a known host key"
expect_out_has "commit ${SSHA:0:12} deployed (dockerfile)" "ssh: the branch's tip deployed"
C=$(docker ps -q --filter "label=io.zpanel.project=$SA")
[ -n "$C" ] && [ "$(inspect_field "$C" '{{index .Config.Labels "dev.zpanel.app.commit"}}')" = "$SSHA" ] && ok ||
    fail "the app fetched over ssh runs: $(cat "$SSHD_DIR/log")"
run "$ZPANEL" app remove "$SA"
expect_rc 0 "remove the app fetched over ssh"
sshd_stop
echo "ssh: sshd, three deploys (two refused), remove: $(python3 -c "import time; print(round(time.time() - $T0, 1))") s" >&2

# ---- remove ----
for _ in $(seq 1 100); do [ -e "$ST/apps/$A/.lock" ] && flock -n "$ST/apps/$A/.lock" true && break; sleep 0.1; done
run "$ZPANEL" app remove "$A" --volumes
expect_rc 0 "app remove"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$A")" ] && ok || fail "remove: no container left"
run "$ZPANEL" app list
grep -q "$A" <<<"$OUT" && fail "the app is still listed" || ok

finish
