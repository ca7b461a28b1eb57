#!/usr/bin/env bash
# test_dashboard.sh: the web dashboard in a real browser (Debian's chromium driven by
# playwright-core, axe-core for accessibility; both from tests/browser's lockfile, installed
# into .deps/browser by scripts/setup.sh) against its own `zpanel serve` and the real engine:
# sign in, a broken compose file shows its error with line and column, create a project with
# a health-gated service, deploy and watch log lines arrive before the job ends, the service
# reaches "healthy", change it, deploy, roll back, back up and restore, sign out, no session:
# refused. axe-core on every page (no serious or critical violation); a screenshot of each
# page in <build>/test-output/dashboard.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=dashe2e
DEPS=$ZP_SOURCE_DIR/.deps/browser/node_modules
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
require_engine
command -v node >/dev/null || skip_test "node is missing (scripts/setup.sh installs it)"
[ -x "$CHROMIUM" ] || skip_test "$CHROMIUM is missing (scripts/setup.sh installs Debian's chromium)"
[ -d "$DEPS/playwright-core" ] && [ -d "$DEPS/axe-core" ] ||
    skip_test "playwright-core and axe-core are missing in $DEPS (scripts/setup.sh runs npm ci there)"
test_image || fail "building $TEST_IMAGE"
cleanup_project "$P"
SHOTS=${ZP_DASHBOARD_OUT:-$PWD/test-output/dashboard}
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
ST=$TMP/state
SERVE_PID=
cleanup() {
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    cleanup_project "$P"
    rm -rf "$TMP"
}
trap cleanup EXIT

echo 'dash-password-1' | "$ZPANEL" user add dashadmin --role admin --password-stdin --state-dir "$ST" >/dev/null ||
    fail "user add"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
"$ZPANEL" serve --listen "127.0.0.1:$PORT" --state-dir "$ST" --workers 2 --quiet >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$URL/healthz" && break
    sleep 0.1
done
curl -sf -o /dev/null "$URL/healthz" || { fail "serve did not start: $(cat "$TMP/serve.log")"; finish; exit; }

# the assets: types, ETag revalidation, the policy; the API without a session refuses
run curl -s -D - -o /dev/null "$URL/"
expect_out_has "Content-Type: text/html" "GET / is the dashboard's page"
expect_out_has "Content-Security-Policy: default-src 'none'; script-src 'self'" "a strict CSP"
ETAG=$(grep -i '^etag:' "$TMP/out" | cut -d' ' -f2 | tr -d '\r')
run curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/"
expect_out_eq 304 "a cached page revalidates with its ETag"
run curl -s -D - -o /dev/null "$URL/app.js"
expect_out_has "Content-Type: text/javascript" "app.js is JavaScript"

SECONDS=0
NODE_PATH=$DEPS DASH_URL=$URL DASH_USER=dashadmin DASH_PASSWORD=dash-password-1 DASH_PROJECT=$P \
    DASH_IMAGE=$TEST_IMAGE DASH_OUT=$SHOTS CHROMIUM=$CHROMIUM \
    node "$ZP_SOURCE_DIR/tests/browser/dashboard.test.js" >"$TMP/node.log" 2>&1
rc=$?
cat "$TMP/node.log"
echo "browser test: ${SECONDS}s; screenshots in $SHOTS"
[ $rc -eq 0 ] && ok || fail "the browser test failed (rc $rc); serve's log: $(tail -20 "$TMP/serve.log")"
finish
