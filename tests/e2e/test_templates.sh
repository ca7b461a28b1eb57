#!/usr/bin/env bash
# test_templates.sh: templates against the real engine. `zpanel template deploy` of a user
# template (generated values reach the container, content files are mounted, a redeploy
# keeps the values); `zpanel init stealth-vpn --minimal` then the full stack with local
# stand-in images (FROM the busybox test image, with the template's own health-check
# commands: wget of caddy's :2019/config/ and the admin's /health, pgrep xray / trojan-go /
# sing-box, `wg show wg0`): every service healthy, caddy last; `zpanel action add-user` and
# `list-users`; a second init keeps the generated secrets. Also: the stored values are
# sealed at rest (no generated secret in the clear under STATE/templates/state), a service
# with exclude_from_hc does not count for `health`, `status` or the deploy job's --wait,
# the API runs a project's actions, and init on a terminal asks for optional variables.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
t0=$(date +%s)
lap() { echo "TIME $1: $(( $(date +%s) - t0 ))s"; }

P=templates-e2e-vpn
PD=templates-e2e-app
require_engine
test_image || fail "building $TEST_IMAGE"
cleanup_project $P
cleanup_project $PD
trap 'cleanup_project $P; cleanup_project $PD; rm -rf "$TMP"' EXIT
export ZPANEL_STATE_DIR=$TMP/state
export ZPANEL_TEMPLATES_DIR=$TMP/templates
mkdir -p "$ZPANEL_TEMPLATES_DIR"

# ---- stand-in images: the same commands the template's health checks run ----
build_standin() { # build_standin NAME DOCKERFILE-BODY [FILE CONTENT]...
    local name=$1 body=$2 ctx
    ctx=$(mktemp -d)
    shift 2
    while [ $# -ge 2 ]; do
        printf '%s\n' "$2" >"$ctx/$1"
        chmod 0755 "$ctx/$1"
        shift 2
    done
    printf 'FROM %s\n%s\n' "$TEST_IMAGE" "$body" >"$ctx/Dockerfile"
    # built again only when its files changed (the sum of the context is a label)
    local sum
    sum=$(cd "$ctx" && cat $(ls | sort) | sha256sum | cut -c1-16)
    if [ "$(docker image inspect -f '{{index .Config.Labels "templates-e2e.sum"}}' "templates-e2e/$name:1" 2>/dev/null)" != "$sum" ]; then
        printf 'LABEL templates-e2e.sum=%s\n' "$sum" >>"$ctx/Dockerfile"
        DOCKER_BUILDKIT=0 docker build -q -t "templates-e2e/$name:1" "$ctx" >/dev/null || fail "building stand-in $name"
    fi
    rm -rf "$ctx"
}
# Debian's static busybox has no pgrep applet: a small one that matches /proc/*/comm
pgrep='#!/bin/sh
for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = "$1" ] && exit 0; done
exit 1'
# a process named NAME that stays (pgrep NAME finds it)
forever='#!/bin/sh
trap "exit 0" TERM
while true; do sleep 3600 & wait $!; done'
# one image with every stand-in (caddy's by default), and the admin's on top of it
build_standin caddy 'COPY caddy admin manage /app/
COPY xray trojan-go sing-box pgrep /usr/local/bin/
COPY wg wg-quick /usr/bin/
CMD ["/app/caddy"]' \
    caddy '#!/bin/sh
mkdir -p /tmp/www/config && echo "{}" >/tmp/www/config/index.html
httpd -p 2019 -h /tmp/www
httpd -f -p 80 -h /tmp/www &
trap "exit 0" TERM
wait' \
    admin '#!/bin/sh
mkdir -p /tmp/www && echo ok >/tmp/www/health
httpd -f -p 8080 -h /tmp/www &
trap "exit 0" TERM
wait' \
    manage '#!/bin/sh
f=/data/users.txt
case "$1" in
add-user) [ -n "$2" ] || exit 2; echo "$2" >>$f; echo "added $2";;
list-users) [ -f $f ] && sort $f;;
remove-user) grep -vx "$2" $f >$f.new; mv $f.new $f; echo "removed $2";;
*) exit 2;;
esac' \
    xray "$forever" trojan-go "$forever" sing-box "$forever" pgrep "$pgrep" \
    wg '#!/bin/sh
[ "$1 $2" = "show wg0" ] && [ -f /tmp/wg0 ]' \
    wg-quick '#!/bin/sh
[ "$1 $2" = "up wg0" ] && [ -r /etc/wireguard/wg0.conf ] && touch /tmp/wg0'
csum=$(docker image inspect -f '{{.Id}}' templates-e2e/caddy:1 2>/dev/null | cut -c8-23)
if [ "$(docker image inspect -f '{{index .Config.Labels "templates-e2e.base"}}' templates-e2e/admin:1 2>/dev/null)" != "$csum" ]; then
    printf 'FROM templates-e2e/caddy:1\nCMD ["/app/admin"]\nLABEL templates-e2e.base=%s\n' "$csum" |
        DOCKER_BUILDKIT=0 docker build -q -t templates-e2e/admin:1 - >/dev/null || fail "building the admin stand-in"
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
HP=$(free_port)
SP=$(free_port)
D=$TMP/vpn
VPN_SETS=(--set HTTP_PORT=$HP --set HTTPS_PORT=$SP --set HEALTHCHECK_INTERVAL=1s
    --set VPN_NETWORK_SUBNET=10.199.213.0/24
    --set CADDY_IMAGE=templates-e2e/caddy:1 --set ADMIN_IMAGE=templates-e2e/admin:1
    --set XRAY_IMAGE=templates-e2e/caddy:1 --set TROJAN_IMAGE=templates-e2e/caddy:1
    --set SINGBOX_IMAGE=templates-e2e/caddy:1 --set WIREGUARD_IMAGE=templates-e2e/caddy:1)

lap images
# ---- template deploy of a user template ----
cat >"$ZPANEL_TEMPLATES_DIR/kv.yaml" <<YAML
# slogan: a key-value stand-in
# category: cache
services:
  kv:
    image: $TEST_IMAGE
    command: ["sh", "-c", "exec sleep 3600"]
    environment:
      - KV_PASSWORD=\${SERVICE_PASSWORD_KV}
      - KV_USER=\${SERVICE_LOWERCASEUSER_KV}
      - KV_TITLE=\${KV_TITLE:-plain}
    volumes:
      - kv-data:/data
      - type: bind
        source: ./conf/kv.conf
        target: /etc/kv.conf
        content: |
          password \${SERVICE_PASSWORD_KV}
  flaky:
    image: $TEST_IMAGE
    command: ["sh", "-c", "exit 3"]
    exclude_from_hc: true
x-zpanel:
  actions:
    echo: {service: kv, command: [echo, kv], description: say the arguments}
YAML
run "$ZPANEL" template list --search key-value
expect_rc 0 "template list --search"
expect_out_has "kv" "the user's template is listed"
run "$ZPANEL" template deploy kv -p $PD --set KV_TITLE=fancy -o "$TMP/app"
expect_rc 0 "template deploy"
pw=$(docker exec ${PD}-kv-1 sh -c 'echo $KV_PASSWORD' 2>/dev/null)
[ ${#pw} -eq 32 ] && ok || fail "the container's password is '${pw}' (want 32 characters)"
grep -qx "SERVICE_PASSWORD_KV='$pw'" "$TMP/app/.env" && ok || fail ".env lacks the container's password"
[ "$(docker exec ${PD}-kv-1 cat /etc/kv.conf 2>/dev/null)" = "password $pw" ] && ok ||
    fail "the content file does not hold the generated password"
[ "$(docker exec ${PD}-kv-1 sh -c 'echo $KV_TITLE' 2>/dev/null)" = fancy ] && ok || fail "--set KV_TITLE"
# the stored values: sealed at rest, none in the clear
SF=$ZPANEL_STATE_DIR/templates/state/$PD.env
[ -f "$SF" ] && ! grep -qF -- "$pw" "$SF" && grep -q '^SERVICE_PASSWORD_KV=zpenc:v1:' "$SF" && ok ||
    fail "the stored values hold the password in the clear: $(cat "$SF" 2>/dev/null)"
# exclude_from_hc: flaky exited 3, yet the project is healthy; status shows it excluded
run "$ZPANEL" -f "$TMP/app/compose.yaml" -p $PD health
expect_rc 0 "health leaves out the service excluded from it"
expect_out_has "(excluded from the verdict) flaky" "health reports the excluded service's failure"
run "$ZPANEL" -f "$TMP/app/compose.yaml" -p $PD health flaky
expect_rc 1 "health of the excluded service named on the command line"
run "$ZPANEL" -f "$TMP/app/compose.yaml" -p $PD status --format json
json_check '[r["HealthExcluded"] for r in m if r["Service"] == "flaky"] == [True] and [r["HealthExcluded"] for r in m if r["Service"] == "kv"] == [False]' "status marks the excluded service"
docker volume inspect ${PD}_kv-data >/dev/null 2>&1 && ok || fail "the undeclared volume kv-data was not created"
# as an older zpanel stored them (in the clear): read as they are, sealed at the redeploy
sed "s/^\([A-Z_0-9]*\)='\(.*\)'$/\1=\2/" "$TMP/app/.env" >"$SF.plain"
grep -qx "SERVICE_PASSWORD_KV=$pw" "$SF.plain" && mv "$SF.plain" "$SF" && ok || fail "writing a plaintext state file"
run "$ZPANEL" template deploy kv -p $PD -o "$TMP/app"
expect_rc 0 "template deploy again"
! grep -qF -- "$pw" "$SF" && grep -q '^SERVICE_PASSWORD_KV=zpenc:v1:' "$SF" && ok || fail "the plaintext state file was not sealed at the redeploy"
[ "$(docker exec ${PD}-kv-1 sh -c 'echo $KV_PASSWORD' 2>/dev/null)" = "$pw" ] && ok || fail "a redeploy changed the password"
[ "$(docker exec ${PD}-kv-1 sh -c 'echo $KV_TITLE' 2>/dev/null)" = fancy ] && ok || fail "a redeploy lost --set KV_TITLE"
cleanup_project $PD


lap cli-deploy
# ---- the API: list, show, deploy as a job (the environment sealed, no .env) ----
PA=templates-e2e-api
cleanup_project $PA
trap 'cleanup_project $P; cleanup_project $PD; cleanup_project $PA; [ -n "${SERVE_PID:-}" ] && kill $SERVE_PID; rm -rf "$TMP"' EXIT
ST=$TMP/serve-state
echo 'templates-e2e-pw' | "$ZPANEL" user add root --role admin --password-stdin --state-dir "$ST" >/dev/null || fail "user add"
TOK=$("$ZPANEL" token create --user root --scope deploy --state-dir "$ST" | tail -1)
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
"$ZPANEL" serve --listen "127.0.0.1:$PORT" --state-dir "$ST" --workers 1 >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "$URL/healthz" && break; sleep 0.1; done
api() { # api METHOD PATH [BODY]: sets CODE and OUT
    local args=(-s -o "$TMP/out" -w '%{http_code}' -X "$1" "$URL$2" -H "Authorization: Bearer $TOK")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}")
    OUT=$(cat "$TMP/out")
}
lap api-start
api GET "/api/v1/templates?search=stand-in"
[ "$CODE" = 200 ] && json_check '[t["name"] for t in m["templates"]] == ["kv"]' "GET /templates?search" || fail "GET /templates: $CODE $OUT"
api GET /api/v1/templates/stealth-vpn
[ "$CODE" = 200 ] && json_check 'm["minimal"] and "x-zpanel" in m["text"]' "GET /templates/stealth-vpn" || fail "GET /templates/stealth-vpn: $CODE"
api GET /api/v1/templates/nope
[ "$CODE" = 404 ] && ok || fail "GET /templates/nope: $CODE, want 404"
api POST /api/v1/templates/kv/deploy '{"project": "'$PA'", "set": {"KV_TITLE": "api"}}'
[ "$CODE" = 202 ] && ok || fail "POST /templates/kv/deploy: $CODE $OUT"
JOB=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"]["id"])' "$TMP/out" 2>/dev/null)
STATUS=
for _ in $(seq 1 150); do
    api GET "/api/v1/jobs/$JOB"
    STATUS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$TMP/out" 2>/dev/null)
    case $STATUS in succeeded | failed | cancelled) break ;; esac
    sleep 0.2
done
lap api-job
[ "$STATUS" = succeeded ] && ok || fail "the template's deploy job: $STATUS ($(cat "$TMP/serve.log" | tail -3))"
apw=$(docker exec ${PA}-kv-1 sh -c 'echo $KV_PASSWORD' 2>/dev/null)
[ ${#apw} -eq 32 ] && [ "$apw" != "$pw" ] && ok || fail "the API project's password is '$apw' (32 characters, not the CLI project's)"
[ ! -e "$ST/projects/$PA/.env" ] && [ -f "$ST/projects/$PA/conf/kv.conf" ] && ok || fail "the API project has a .env or lacks its content file"
api GET "/api/v1/projects/$PA"
json_check '"SERVICE_PASSWORD_KV" in m["env"] and m["env"]["SERVICE_PASSWORD_KV"] != "'$apw'"' "the API masks the generated password"
! grep -qF -- "$apw" "$ST/templates/state/$PA.env" && ok || fail "serve's stored template values hold the password in the clear"
api GET "/api/v1/projects/$PA/actions"
[ "$CODE" = 200 ] && json_check '[(a["name"], a["service"], a["command"]) for a in m["actions"]] == [("echo", "kv", ["echo", "kv"])]' "GET /projects/{name}/actions" || fail "GET actions: $CODE $OUT"
api POST "/api/v1/projects/$PA/actions/echo" '{"args": ["hello", "there"]}'
[ "$CODE" = 200 ] && json_check 'm["exit_code"] == 0 and m["output"] == "kv hello there\n" and m["service"] == "kv" and not m["truncated"]' "POST /projects/{name}/actions/echo" || fail "POST action: $CODE $OUT"
api POST "/api/v1/projects/$PA/actions/nope" '{}'
[ "$CODE" = 404 ] && ok || fail "an unknown action: $CODE, want 404"
api POST "/api/v1/projects/$PA/actions/echo" '{"args": [1]}'
[ "$CODE" = 400 ] && ok || fail "a non-string argument: $CODE, want 400"
lap api-checks
kill $SERVE_PID 2>/dev/null
wait $SERVE_PID 2>/dev/null
SERVE_PID=
cleanup_project $PA
lap deploy
# ---- init on a terminal asks for the optional variables too, showing the default ----
python3 - "$ZPANEL" "$TMP/tty" "$HP" "$SP" >"$TMP/tty.log" 2>&1 <<'PY'
import os, pty, select, subprocess, sys, time
zp, d, hp, sp = sys.argv[1:5]
m, s = pty.openpty()
p = subprocess.Popen([zp, "init", "kv", d, "-p", "templates-e2e-tty", "--no-start",
                      "--set", "HTTP_PORT=" + hp, "--set", "HTTPS_PORT=" + sp],
                     stdin=s, stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
buf, sent, end = b"", False, time.time() + 20
while time.time() < end:
    r, _, _ = select.select([m], [], [], 0.2)
    if r:
        try:
            data = os.read(m, 4096)
        except OSError:
            data = b""
        buf += data
        if not sent and b"KV_TITLE [plain]: " in buf:
            os.write(m, b"typed\n")
            sent = True
        if not data and p.poll() is not None:
            break
    elif p.poll() is not None:
        break
if p.poll() is None:
    p.kill()
sys.stdout.write(buf.decode(errors="replace"))
sys.exit(0 if sent and p.wait() == 0 else 1)
PY
[ $? = 0 ] && grep -qx "KV_TITLE='typed'" "$TMP/tty/.env" && ok || fail "init on a terminal: $(cat "$TMP/tty.log")"
lap tty
# ---- init --minimal: caddy + admin ----
run "$ZPANEL" init stealth-vpn "$D" -p $P --domain vpn.test --email ops@vpn.test --minimal --yes "${VPN_SETS[@]}"
expect_rc 0 "init --minimal"
expect_err_has "check: engine" "the engine check is reported"
expect_err_has "check: port $HP free" "the HTTP port check is reported"
expect_out_has "SERVICE_PASSWORD_ADMIN=" "the admin's password is printed once"
admin_pw=$(grep '^SERVICE_PASSWORD_ADMIN=' "$D/.env" | cut -d"'" -f2)
[ ${#admin_pw} -eq 32 ] && ok || fail "no admin password in .env"
[ "$(stat -c %a "$D/.env")" = 600 ] && ok || fail ".env is not 0600"
[ -f "$D/configs/caddy/Caddyfile" ] && [ -d "$D/logs/caddy" ] && ok || fail "configuration files and directories"
running=$(docker ps --filter "label=io.zpanel.project=$P" --format '{{.Names}}' | sort | tr '\n' ' ')
[ "$running" = "$P-admin-1 $P-caddy-1 " ] && ok || fail "minimal runs '$running', want caddy and admin"
for s in caddy admin; do
    [ "$(inspect_field $P-$s-1 '{{.State.Health.Status}}')" = healthy ] && ok || fail "$s is not healthy"
done
[ "$(inspect_field $P-caddy-1 '{{.HostConfig.ReadonlyRootfs}}')" = true ] && ok || fail "caddy's root is not read-only"

lap minimal
# ---- actions ----
run "$ZPANEL" -f "$D/compose.yaml" -p $P action
expect_rc 0 "action (list)"
expect_out_has "add-user" "the actions are listed"
run "$ZPANEL" -f "$D/compose.yaml" -p $P action add-user alice
expect_rc 0 "action add-user"
expect_out_has "added alice" "add-user ran in the admin"
run "$ZPANEL" -f "$D/compose.yaml" -p $P action list-users
expect_out_eq "alice" "list-users"
run "$ZPANEL" -f "$D/compose.yaml" -p $P action nope
expect_rc 2 "an unknown action"

lap actions
# ---- the full stack, a second init: secrets kept, caddy started last ----
lap actions-before-down
run "$ZPANEL" -f "$D/compose.yaml" -p $P down
lap down
expect_rc 0 "down (the volumes stay)"
echo "# edited" >>"$D/configs/caddy/Caddyfile"
run "$ZPANEL" init stealth-vpn "$D" -p $P --yes "${VPN_SETS[@]}"
lap init-full
expect_rc 0 "init (full) over the minimal install"
expect_out_has "Generated secrets kept" "the second init says the secrets are kept"
[ "$(grep '^SERVICE_PASSWORD_ADMIN=' "$D/.env" | cut -d"'" -f2)" = "$admin_pw" ] && ok || fail "the admin password changed"
xray_uuid=$(grep '^SERVICE_UUID_XRAY=' "$D/.env" | cut -d"'" -f2)
[ ${#xray_uuid} -eq 36 ] && grep -q "$xray_uuid" "$D/configs/xray/config.json" && ok || fail "xray's config lacks its UUID"
tail -1 "$D/configs/caddy/Caddyfile" | grep -qx "# edited" && ok || fail "the user's edit of the Caddyfile was overwritten"
for s in xray trojan sing-box wireguard admin caddy; do
    [ "$(inspect_field $P-$s-1 '{{.State.Health.Status}}')" = healthy ] && ok || fail "$s is not healthy"
done
caddy_start=$(inspect_field $P-caddy-1 '{{.State.StartedAt}}')
for s in xray trojan sing-box wireguard admin; do
    st=$(inspect_field $P-$s-1 '{{.State.StartedAt}}')
    [[ "$st" < "$caddy_start" ]] && ok || fail "$s started at $st, not before caddy ($caddy_start)"
done
[ "$(inspect_field $P-wireguard-1 '{{.HostConfig.CapAdd}}')" = "[NET_ADMIN SYS_MODULE]" ] && ok ||
    fail "wireguard's capabilities: $(inspect_field $P-wireguard-1 '{{.HostConfig.CapAdd}}')"
ports=$(docker ps --filter "label=io.zpanel.project=$P" --format '{{.Names}} {{.Ports}}' | grep -c -- '->' || true)
[ "$ports" = 1 ] && ok || fail "$ports services publish ports, want 1 (caddy)"
run "$ZPANEL" -f "$D/compose.yaml" -p $P action list-users
expect_out_eq "alice" "the admin's data survived the second init"

lap before-down-v
# ---- backup and restore of the admin's data ----
run "$ZPANEL" -f "$D/compose.yaml" -p $P backup -o "$TMP/vpn.tar" admin
expect_rc 0 "backup of the admin's data"
run "$ZPANEL" -f "$D/compose.yaml" -p $P action remove-user alice
expect_out_has "removed alice" "remove-user"
run "$ZPANEL" -f "$D/compose.yaml" -p $P restore "$TMP/vpn.tar" --volume admin-data --yes
expect_rc 0 "restore of the admin's data"
run "$ZPANEL" -f "$D/compose.yaml" -p $P action list-users
expect_out_eq "alice" "the restored admin data has alice again"
lap backup-restore
run "$ZPANEL" -f "$D/compose.yaml" -p $P down -v
expect_rc 0 "down"
lap full
finish
