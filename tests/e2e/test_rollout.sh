#!/usr/bin/env bash
# test_rollout.sh: zero-downtime rollouts of routed services through zpanel's proxy, under
# continuous load from wrk against the proxy on 127.0.0.1: ten consecutive updates with no
# non-2xx response and no socket error while the version served moves forward; a long
# request that began before the switch completes on the old version; an update that fails
# its health probe leaves the old version serving and exits 1 with the probe's output; a
# replicated service rolls one replica at a time (engine events); routes come back after
# the proxy's containers restart; a first up without the proxy warns once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
source "$(dirname "$0")/lib-webver.sh"
source "$(dirname "$0")/lib-proxy.sh"

P=zpe2eroll
require_engine
if ! grep -qE '^ +proxy ' <<<"$("$ZPANEL" --help 2>&1)"; then
    fail "zpanel has no 'proxy' command"
    finish
    exit
fi
for tool in wrk curl python3; do
    command -v $tool >/dev/null || {
        fail "$tool is not installed"
        finish
        exit
    }
done
webver_image 1 || fail "building the webver image"
proxy_image || {
    fail "building $PROXY_IMAGE"
    finish
    exit
}

export ZPANEL_STATE_DIR=$TMP/state
mkdir -p "$ZPANEL_STATE_DIR"
HTTP_PORT=$(free_port)
WRK_PID=
stop_wrk() { [ -n "$WRK_PID" ] && kill -INT "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null; WRK_PID=; }
EV_PID=
teardown() {
    stop_wrk
    [ -n "$EV_PID" ] && kill "$EV_PID" 2>/dev/null
    # a failure is kept with what both Caddys logged about upstreams and errors
    if [ "$e2e_failed" -gt 0 ]; then
        for c in zpanel-proxy zpanel-router; do
            echo "--- $c: errors logged ---"
            docker logs "$c" 2>&1 | grep -E '"level":"(error|warn)"' | tail -60
        done
    fi
    cleanup_routed $P
    timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
    rm -rf "$TMP"
}
cleanup_routed $P
timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
trap teardown EXIT

F=$TMP/compose.yaml
cat >"$F" <<YAML
name: $P
services:
  web:
    image: $WEBVER_IMAGE
    environment:
      VERSION: \${VERSION:-v1}
      FAIL_HEALTH: \${FAIL_HEALTH:-0}
    stop_grace_period: 1s # shorter than /slow?s=4: only the drain keeps it
    x-zpanel:
      routes:
        - host: web.zpe2eroll.localhost
          port: 8080
      tls: "off"
      health:
        path: /up
        interval: 200ms
        timeout: 3s
      drain_timeout: 10s
  multi:
    image: $WEBVER_IMAGE
    environment:
      VERSION: \${MULTI_VERSION:-m1}
    healthcheck: # generous: the engine's exec-based checks crawl on a loaded machine
      test: ["CMD", "/webver", "-probe", "/up"]
      interval: 300ms
      timeout: 15s
      retries: 10
    stop_grace_period: 10s
    deploy:
      replicas: 3
      update_config:
        parallelism: 1
    x-zpanel:
      routes:
        - host: multi.zpe2eroll.localhost
          port: 8080
      tls: "off"
      health: /up
YAML
zp() { run timeout 120 "$ZPANEL" -f "$F" --progress plain "$@"; }
get() { curl -s -m 5 -H "Host: $1" "http://127.0.0.1:$HTTP_PORT${2:-/}"; }
# get_verbose HOST: "CODE BODY", or curl's exit status when the request failed
get_verbose() {
    local body code
    body=$(curl -sS -m 10 -o - -w '\n%{http_code}' -H "Host: $1" "http://127.0.0.1:$HTTP_PORT/" 2>&1) ||
        { echo "curl failed ($?): $body" | tr '\n' ' '; return 0; }
    code=${body##*$'\n'}
    echo "$code ${body%$'\n'*}"
}
# wrk_start HOST OUTFILE: continuous load on the proxy for HOST until stop_wrk (SIGINT:
# wrk prints its counts then; -d only bounds a test that dies before stopping it)
wrk_start() {
    wrk -t2 -c8 -d900s -s "$ZP_SOURCE_DIR/tests/e2e/wrk-count.lua" -H "Host: $1" \
        "http://127.0.0.1:$HTTP_PORT/" >"$2" 2>&1 &
    WRK_PID=$!
}
# wrk_count FILE KIND KEY: a count from wrk-count.lua's output (0 when absent)
wrk_count() { awk -v k="$2" -v v="$3" '$1 == k && $2 == v { print $3; f=1 } END { if (!f) print 0 }' "$1"; }
wrk_errors() { grep '^errors ' "$1"; }
non2xx() { awk '$1 == "status" && $2 !~ /^2/ { n += $3 } END { print n + 0 }' "$1"; }
# until_eq SECONDS WANT CMD...: retry CMD until it prints WANT
until_eq() {
    local t=$1 want=$2 i
    shift 2
    for ((i = 0; i < t * 5; i++)); do
        [ "$("$@")" = "$want" ] && return 0
        sleep 0.2
    done
    return 1
}

# --- a first up without the proxy: works, warns once ---
zp up -d
expect_rc 0 "first up without the proxy"
n=$(grep -c "the proxy is not running" <<<"$ERR$OUT")
[ "$n" -eq 1 ] && ok || fail "warning about the stopped proxy said $n times, want once ($ERR)"
[ "$(inspect_field $P-web-1 '{{index .Config.Labels "io.zpanel.routes"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["routes"][0]["hosts"][0])')" = web.zpe2eroll.localhost ] &&
    ok || fail "route label on $P-web-1"
inspect_field $P-web-1 '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' | grep -qw "zpanel-$P" &&
    ok || fail "$P-web-1 is not on its project's network zpanel-$P"

# --- the proxy comes up and applies the routes ---
run timeout 120 "$ZPANEL" proxy up --image "$PROXY_IMAGE" --http-port "$HTTP_PORT" --https-port 0 --bind 127.0.0.1
expect_rc 0 "proxy up"
until_eq 20 v1 get web.zpe2eroll.localhost && ok || fail "web.zpe2eroll.localhost through the proxy: '$(get web.zpe2eroll.localhost)', want v1"
until_eq 20 m1 get multi.zpe2eroll.localhost && ok || fail "multi.zpe2eroll.localhost through the proxy"

# --- ten consecutive updates under load ---
W=$TMP/wrk-ten
wrk_start web.zpe2eroll.localhost "$W"
sleep 1
switched=0
for v in 2 3 4 5 6 7 8 9 10 11; do
    VERSION=v$v zp up -d web
    if [ "$RC" -ne 0 ]; then
        fail "update to v$v: exit $RC: $ERR"
        continue
    fi
    [ "$(get web.zpe2eroll.localhost)" = "v$v" ] && switched=$((switched + 1))
    grep -q "Switched" <<<"$ERR$OUT" || fail "update to v$v: no 'Switched' progress"
    sleep 0.5
done
[ $switched -eq 10 ] && ok || fail "only $switched of 10 updates served the new version right after up"
stop_wrk
if grep -q '^errors ' "$W"; then
    [ "$(non2xx "$W")" -eq 0 ] && ok || fail "ten updates: non-2xx responses: $(grep '^status' "$W" | tr '\n' ' ')"
    [ "$(wrk_errors "$W")" = "errors connect=0 read=0 write=0 timeout=0 status=0" ] && ok ||
        fail "ten updates: socket errors: $(wrk_errors "$W")"
    missing=
    for v in 1 2 3 4 5 6 7 8 9 10 11; do
        [ "$(wrk_count "$W" body v$v)" -gt 0 ] || missing="$missing v$v"
    done
    [ -z "$missing" ] && ok || fail "versions never served under load:$missing ($(grep '^body' "$W" | tr '\n' ' '))"
    echo "ten updates under load: $(grep -E '^(status|errors|requests)' "$W" | tr '\n' ' ')"
else
    fail "wrk printed no counts: $(cat "$W")"
fi
[ -z "$(docker ps -aq --filter name=zpnew)" ] && ok || fail "temporary containers left: $(docker ps -a --filter name=zpnew --format '{{.Names}}')"
[ "$(docker ps -q --filter label=io.zpanel.project=$P --filter label=io.zpanel.service=web | wc -l)" -eq 1 ] &&
    ok || fail "web should have one container"

# --- a long request that began before the switch completes on the old version ---
curl -s -m 30 -o "$TMP/slow.body" -w '%{http_code}' -H "Host: web.zpe2eroll.localhost" \
    "http://127.0.0.1:$HTTP_PORT/slow?s=4" >"$TMP/slow.code" &
SLOW=$!
sleep 0.5
t_up=$(date +%s.%N)
VERSION=v12 zp up -d web
expect_rc 0 "update during a long request"
t_upped=$(date +%s.%N)
wait $SLOW
[ "$(cat "$TMP/slow.code")" = 200 ] && ok || fail "long request: HTTP $(cat "$TMP/slow.code")"
[ "$(cat "$TMP/slow.body")" = v11 ] && ok || fail "long request answered '$(cat "$TMP/slow.body")', want the old v11"
t_get=$(date +%s.%N)
got=$(get_verbose web.zpe2eroll.localhost)
if [ "$got" = "200 v12" ]; then
    ok
else
    # what the router dials and what it can reach, and whether (when) it heals by itself
    nets() { inspect_field "$1" '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}'; }
    diag="web: $(docker ps --filter label=io.zpanel.project=$P --filter label=io.zpanel.service=web \
        --format '{{.Names}}' | while read -r c; do echo "$c[$(nets "$c")]"; done | tr '\n' ' ')"
    diag="$diag; router: $(nets zpanel-router); router dials: $(curl -s -m 3 -H 'Host;' \
        --unix-socket "$ZPANEL_STATE_DIR/proxy/router.sock" http://x/config/ | grep -oE '"dial":"[^"]*"' | sort -u | tr '\n' ' ')"
    healed=no
    for i in $(seq 1 40); do
        sleep 0.5
        [ "$(get_verbose web.zpe2eroll.localhost)" = "200 v12" ] && { healed="after $((i * 500)) ms"; break; }
    done
    fail "after the long request's update: '$got', want '200 v12' ($diag; healed: $healed;" \
        "up from $t_up to $t_upped, get at $t_get; up said: $(tr '\n' '|' <<<"$ERR$OUT" | tail -c 1500))"
fi

# --- an update that fails its health probe: the old version serves throughout ---
W=$TMP/wrk-fail
wrk_start web.zpe2eroll.localhost "$W"
sleep 1
VERSION=vbad FAIL_HEALTH=1 zp up -d web
expect_rc 1 "update to a version failing its health probe"
expect_err_has "did not become healthy" "failed rollout names the problem"
expect_err_has "probe output" "failed rollout prints the probe output"
expect_err_has "500" "the probe output shows the 500"
# the tail holds the newest lines: under load the probe's own 500s can push "listening" out
expect_err_has "its last log lines:" "failed rollout prints the new container's last log lines"
expect_err_has "webver vbad" "the log lines are the new container's"
sleep 1
stop_wrk
got=$(get_verbose web.zpe2eroll.localhost)
[ "$got" = "200 v12" ] && ok || fail "after the failed update: '$got', want '200 v12'"
if grep -q '^errors ' "$W"; then
    [ "$(non2xx "$W")" -eq 0 ] && ok || fail "failed update: non-2xx: $(grep '^status' "$W" | tr '\n' ' ')"
    [ "$(wrk_errors "$W")" = "errors connect=0 read=0 write=0 timeout=0 status=0" ] && ok ||
        fail "failed update: socket errors: $(wrk_errors "$W")"
    [ "$(wrk_count "$W" body vbad)" -eq 0 ] && ok || fail "the failing version answered requests"
else
    fail "wrk printed no counts: $(cat "$W")"
fi
[ -z "$(docker ps -aq --filter name=$P-web-1-zpnew)" ] && ok || fail "the failed replacement was not removed"

# --- a replicated service rolls one replica at a time ---
W=$TMP/wrk-multi
wrk_start multi.zpe2eroll.localhost "$W"
# the engine's events, recorded live (its replay buffer is short: health checks and probes
# are events too)
docker events --filter "label=io.zpanel.project=$P" --filter label=io.zpanel.service=multi \
    --filter event=start --filter event=destroy --format '{{.Action}} {{.Actor.Attributes.name}}' \
    >"$TMP/events" 2>&1 &
EV_PID=$!
sleep 1
MULTI_VERSION=m2 zp up -d multi
expect_rc 0 "rolling the replicated service"
sleep 0.5
stop_wrk
kill "$EV_PID" 2>/dev/null
wait "$EV_PID" 2>/dev/null
# running = 3 + starts - destroys must stay within [3, 4]: never two pending replacements,
# never fewer than three serving
read -r lo hi starts <<<"$(awk 'BEGIN { n = 3; lo = 3; hi = 3 } $1 == "start" { n++; s++ } $1 == "destroy" { n-- }
    { if (n < lo) lo = n; if (n > hi) hi = n } END { print lo, hi, s + 0 }' "$TMP/events")"
[ "$starts" -eq 3 ] && ok || fail "replicated rollout: $starts replacements started, want 3 ($(tr '\n' ';' <"$TMP/events"))"
[ "$lo" -ge 3 ] && [ "$hi" -le 4 ] && ok ||
    fail "replicated rollout: containers running went between $lo and $hi, want 3..4 ($(tr '\n' ';' <"$TMP/events"))"
if grep -q '^errors ' "$W"; then
    [ "$(non2xx "$W")" -eq 0 ] && [ "$(wrk_errors "$W")" = "errors connect=0 read=0 write=0 timeout=0 status=0" ] &&
        ok || fail "replicated rollout under load: $(grep -E '^(status|errors)' "$W" | tr '\n' ' ')"
    [ "$(wrk_count "$W" body m2)" -gt 0 ] && ok ||
        fail "replicated rollout: m2 never served ($(grep '^body' "$W" | tr '\n' ' '); now: $(get multi.zpe2eroll.localhost); $("$ZPANEL" proxy routes 2>&1 | tr '\n' ' '))"
else
    fail "wrk printed no counts: $(cat "$W")"
fi
for n in 1 2 3; do
    [ "$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' $P-multi-$n 2>/dev/null | grep '^VERSION=')" = VERSION=m2 ] &&
        ok || fail "$P-multi-$n does not run m2"
done

# --- the proxy's containers restart: routes come back ---
docker restart zpanel-router zpanel-proxy >/dev/null 2>&1
until_eq 30 v12 get web.zpe2eroll.localhost && ok || fail "after the proxy restarted: '$(get web.zpe2eroll.localhost)', want v12"

finish
