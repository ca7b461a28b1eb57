#!/usr/bin/env bash
# End-to-end tests of remote servers over SSH: Debian's sshd on 127.0.0.1 at a high port
# (its own config and host keys in a temporary directory, a key-only test user in the
# docker group) fronts the local engine, which plays the remote one. Checks host-key
# verification (wrong, unknown, changed keys), server add/list/check/remove, up/ps/logs/
# exec/down through the tunnel with --server, -H ssh:// and DOCKER_HOST, sshd killed
# during up, and the dial-stdio fallback when sshd refuses forwarding; builds through the
# tunnel, `proxy up` on the server and an update of a routed service under wrk (the
# proxy's containers have fixed names: run under `flock /tmp/zp-proxy.lock`, ctest's
# RESOURCE_LOCK zpanel-proxy), an app from git deployed to its server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"
. "$(dirname "$0")/lib-proxy.sh"
. "$(dirname "$0")/lib-webver.sh"
require_engine
[ -x /usr/sbin/sshd ] || skip_test "no /usr/sbin/sshd (apt-get install openssh-server, or scripts/setup.sh)"
command -v ssh-keygen >/dev/null || skip_test "no ssh-keygen (openssh-client)"
[ "$(id -u)" -eq 0 ] || skip_test "needs root (sshd, a test user in the docker group)"
getent group docker >/dev/null || skip_test "no docker group for the test user"
test_image || { echo "FAIL: cannot build $TEST_IMAGE"; exit 1; }
command -v wrk >/dev/null || { echo "FAIL: wrk is not installed (scripts/setup.sh)"; exit 1; }
webver_image 1 || { echo "FAIL: cannot build the webver image"; exit 1; }
proxy_image || { echo "FAIL: cannot build $PROXY_IMAGE"; exit 1; }

P=zpssh
U=zpsshtest
SSHD_PID=
SERVE_PID=
WRK_PID=
PROXY_UP=
stop_wrk() { [ -n "$WRK_PID" ] && kill -INT "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null; WRK_PID=; }
stop_sshd() { # the listener and every session process it forked
    [ -n "$SSHD_PID" ] || return 0
    local pids="$SSHD_PID" all="" next
    while [ -n "$pids" ]; do
        all="$all $pids"
        next=""
        for p in $pids; do next="$next $(ps -o pid= --ppid "$p" 2>/dev/null)"; done
        pids=$(echo $next)
    done
    kill -9 $all 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
}
trap 'stop_wrk; [ -n "$PROXY_UP" ] && docker rm -f zpanel-proxy zpanel-router >/dev/null 2>&1; cleanup_routed ${P}px; [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; stop_sshd; cleanup_project $P; cleanup_project ${P}kill; cleanup_project ${P}sync; cleanup_project ${P}cp; cleanup_project ${P}build; cleanup_project ${P}app; docker image rm -f ${P}build-app:t >/dev/null 2>&1; rm -rf "$TMP"' EXIT
cleanup_project $P
cleanup_project ${P}kill
cleanup_project ${P}sync
cleanup_project ${P}cp
cleanup_project ${P}build
cleanup_routed ${P}px

id "$U" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh -G docker "$U" ||
    { echo "FAIL: cannot create the test user $U"; exit 1; }
id -nG "$U" | grep -qw docker || usermod -aG docker "$U"
# sshd without PAM refuses a locked account ('!' password): no password at all instead
usermod -p '*' "$U"
mkdir -p /run/sshd

S=$TMP/sshd
mkdir -p "$S"
chmod 755 "$TMP" "$S"
ssh-keygen -q -t ed25519 -N '' -f "$S/host1" && ssh-keygen -q -t ed25519 -N '' -f "$S/host2" &&
    ssh-keygen -q -t ed25519 -N '' -f "$TMP/client" || { echo "FAIL: ssh-keygen"; exit 1; }
cp "$TMP/client.pub" "$S/authorized_keys"
chmod 644 "$S/authorized_keys"
FP1=$(ssh-keygen -lf "$S/host1.pub" | awk '{print $2}')
FP2=$(ssh-keygen -lf "$S/host2.pub" | awk '{print $2}')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# start_sshd HOSTKEY FORWARDING(yes|no)
start_sshd() {
    cat >"$S/config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $S/$1
PidFile none
AuthorizedKeysFile $S/authorized_keys
AllowUsers $U
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
AllowStreamLocalForwarding $2
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
    /usr/sbin/sshd -D -e -f "$S/config" 2>>"$S/log" &
    SSHD_PID=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "FAIL: sshd did not listen on $PORT: $(cat "$S/log")"
    exit 1
}

export ZPANEL_STATE_DIR=$TMP/state
URL=ssh://$U@127.0.0.1:$PORT
Z() { timeout 90 "$ZPANEL" "$@"; }
start_sshd host1 yes

# --- host keys: a wrong fingerprint and an unknown key are refused, nothing is stored
run Z server add t1 "$URL" --identity "$TMP/client" --fingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
expect_rc 1 "add with a wrong fingerprint"
expect_err_has "refusing" "the wrong fingerprint is refused"
expect_err_has "$FP1" "the refusal shows the real fingerprint"
if [ -e "$ZPANEL_STATE_DIR/ssh/servers" ] || [ -e "$ZPANEL_STATE_DIR/ssh/known_hosts" ]; then
    fail "a refused add stored something: $(ls -R "$ZPANEL_STATE_DIR")"
else ok; fi
run Z server add t1 "$URL" --identity "$TMP/client"
expect_rc 1 "add without a fingerprint"
expect_err_has "is not known; its fingerprint is $FP1" "an unknown key names its fingerprint"
run Z server add t1 "$URL" --identity "$TMP/client" --fingerprint nonsense
expect_rc 2 "a malformed fingerprint is a usage error"
run Z server add t1 "ssh://127.0.0.1:$PORT" --identity "$TMP/client" --fingerprint "$FP1"
expect_rc 2 "a URL without a user"
expect_err_has "a user is needed" "the URL error says what is missing"

run Z server add t1 "$URL" --identity "$TMP/client" --fingerprint "$FP1"
expect_rc 0 "add with the right fingerprint"
expect_out_has "$FP1" "add prints the host key"
run Z server list
expect_out_has "t1     $URL" "list shows the server"
run Z server list --format json
json_check "m[0]['name'] == 't1' and m[0]['url'] == '$URL'" "list --format json"
run Z server check t1
expect_rc 0 "check"
expect_out_has "direct-streamlocal" "check: forwarding to the socket"
expect_out_has "API 1." "check: the engine's API"
expect_out_has "architecture:  $(uname -m)" "check: the architecture"
expect_out_has "free disk:" "check: free disk"
expect_out_has "proxy:" "check: whether the proxy runs"

# --- a small project over SSH
mkdir -p "$TMP/proj" && cd "$TMP/proj"
cat >compose.yaml <<YAML
name: $P
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; echo hello-over-ssh; while true; do sleep 1 & wait; done"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
    volumes: [data:/data]
volumes:
  data: {}
YAML
run Z --server t1 --progress quiet up -d --wait
expect_rc 0 "up -d --wait over SSH"
[ "$(inspect_field $P-web-1 '{{.State.Health.Status}}')" = healthy ] && ok ||
    fail "the container is not healthy on the engine behind sshd"
run Z --server t1 ps
expect_out_has "$P-web-1" "ps over SSH"
run Z -H "$URL" ps --format json
expect_rc 0 "ps with -H ssh:// (the registered server's key)"
json_check "m[0]['Name'] == '$P-web-1'" "ps -H ssh:// lists the container"
DOCKER_HOST=$URL run Z logs web
expect_out_has "hello-over-ssh" "logs with DOCKER_HOST=ssh://"
run Z --server t1 exec -T web sh -c 'echo exec-$((6*7)); exit 3'
expect_rc 3 "exec over SSH keeps the exit code"
expect_out_has "exec-42" "exec output over SSH"
# backup and restore of a remote volume: through the engine's archive API (the tunnel's
# socket is not this machine's engine: its volume paths are never opened here)
docker exec $P-web-1 sh -c 'echo payload-over-ssh >/data/f' || fail "writing into the volume"
run Z --server t1 --progress quiet backup -o "$TMP/remote.tar"
expect_rc 0 "backup over SSH"
tar -xOf "$TMP/remote.tar" --wildcards '*data*/f' 2>/dev/null | grep -q payload-over-ssh && ok ||
    fail "the archive written locally holds the remote volume's file"
docker exec $P-web-1 rm /data/f
run Z --server t1 --progress quiet restore "$TMP/remote.tar" --yes
expect_rc 0 "restore over SSH"
[ "$(docker exec $P-web-1 cat /data/f 2>/dev/null)" = payload-over-ssh ] && ok ||
    fail "restore over SSH brought the file back"
run Z --server t1 --progress quiet down -v
expect_rc 0 "down over SSH"
[ -z "$(docker ps -aq --filter label=io.zpanel.project=$P)" ] && ok || fail "down left containers"
# --- a build over SSH: the context streams through the tunnel to the remote engine
t_bld=$SECONDS
mkdir -p "$TMP/bld" && cd "$TMP/bld"
printf 'FROM %s\nCOPY msg.txt big.bin /ctx/\n' "$TEST_IMAGE" >Dockerfile
echo "context-over-ssh-$$" >msg.txt
head -c 300000 /dev/urandom >big.bin # a context larger than one channel window
cat >compose.yaml <<YAML
name: ${P}build
services:
  app:
    build: .
    image: ${P}build-app:t
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
YAML
docker image rm -f ${P}build-app:t >/dev/null 2>&1
run Z --server t1 --progress quiet up -d --build
expect_rc 0 "up --build over SSH"
[ "$(docker exec ${P}build-app-1 cat /ctx/msg.txt 2>/dev/null)" = "context-over-ssh-$$" ] &&
    [ "$(docker exec ${P}build-app-1 sha256sum /ctx/big.bin 2>/dev/null | cut -d' ' -f1)" = \
        "$(sha256sum big.bin | cut -d' ' -f1)" ] && ok ||
    fail "the image built over SSH lacks the context's files, or they differ: $ERR"
run Z --server t1 --progress quiet down
expect_rc 0 "down of the built project"
docker image rm -f ${P}build-app:t >/dev/null 2>&1
echo "# builds over SSH: $((SECONDS - t_bld)) s"
cd "$TMP/proj"
run Z --server nosuch ps
expect_rc 2 "--server with an unknown name"
expect_err_has "no server named 'nosuch'" "--server names the unknown server"

# --- files: bind-mounted files, directories and env files synced over SFTP under the
# server's base directory; only what changed moves; a changed file recreates the service
R=$TMP/remote
mkdir -p "$R" && chown "$U" "$R"
run Z server add t3 "$URL" --identity "$TMP/client" --base-dir "$R"
expect_rc 0 "add a second name for the server with --base-dir (its key is known)"
run Z server list --format json
json_check "[s['base_dir'] for s in m if s['name'] == 't3'] == ['$R']" "list shows the base dir"
mkdir -p "$TMP/sync/conf/sub" && cd "$TMP/sync"
echo v1 >conf/msg.txt && echo deep >conf/sub/deep.txt && echo gone >conf/old.txt
echo GREETING=from-env-file >app.env
cat >compose.yaml <<YAML
name: ${P}sync
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    env_file: [app.env]
    volumes:
      - ./conf/msg.txt:/msg.txt:ro
      - ./conf:/conf
      - ./made:/made
YAML
RD=$R/${P}sync
run Z --server t3 --progress plain up -d
expect_rc 0 "up with bind mounts over SSH"
expect_err_has "4 of 4 files sent" "the first up sends every file (3 in conf and the env file, once each)"
[ "$(cat "$RD/conf/msg.txt" 2>/dev/null)" = v1 ] && [ "$(cat "$RD/conf/sub/deep.txt" 2>/dev/null)" = deep ] &&
    [ -f "$RD/app.env" ] && [ -d "$RD/made" ] && ok || fail "the files did not arrive under $RD: $(find "$R" 2>&1)"
[ ! -e made ] && ok || fail "a missing bind source of a remote engine was made here"
[ "$(docker exec ${P}sync-web-1 cat /msg.txt)" = v1 ] && ok || fail "the container does not see the synced file"
[ "$(inspect_field ${P}sync-web-1 '{{range .Mounts}}{{if eq .Destination "/conf"}}{{.Source}}{{end}}{{end}}')" = "$RD/conf" ] &&
    ok || fail "the bind source is not the server's path"
[ "$(docker exec ${P}sync-web-1 sh -c 'echo $GREETING')" = from-env-file ] && ok || fail "env_file over SSH"
id1=$(inspect_field ${P}sync-web-1 '{{.Id}}')
run Z --server t3 --progress plain up -d
expect_rc 0 "a second up"
grep -qF "files sent" <<<"$ERR" && fail "a no-op up sent files: $ERR" || ok
[ "$(inspect_field ${P}sync-web-1 '{{.Id}}')" = "$id1" ] && ok || fail "a no-op up recreated the service"
echo v2 >conf/msg.txt && rm conf/old.txt
run Z --server t3 --progress plain up -d
expect_rc 0 "up after a local change"
expect_err_has "1 of 3 files sent" "only the changed file moves"
expect_err_has "1 removed" "a file deleted here is removed there"
[ "$(cat "$RD/conf/msg.txt")" = v2 ] && [ ! -e "$RD/conf/old.txt" ] && ok || fail "the server's copy is not v2"
[ "$(inspect_field ${P}sync-web-1 '{{.Id}}')" != "$id1" ] && ok || fail "the changed file did not recreate the service"
[ "$(docker exec ${P}sync-web-1 cat /msg.txt)" = v2 ] && ok || fail "the container does not see the new content"
echo tampered >"$RD/conf/sub/deep.txt"
run Z --server t3 --progress plain up -d
expect_err_has "1 of 3 files sent" "a copy changed on the server is sent again"
[ "$(cat "$RD/conf/sub/deep.txt")" = deep ] && ok || fail "the server's changed copy was not replaced"
run Z --server t3 --progress quiet down
expect_rc 0 "down of the synced project"

# --- the proxy on the server, the same way as here: its directory BASE/.proxy made over
# SFTP (private to the login, whom Caddy runs as), its admin and probe sockets reached
# through the tunnel; a routed service, then an update under wrk: no failed request
t_px=$SECONDS
HTTP_PORT=$(free_port)
run Z --server t3 proxy up --image "$PROXY_IMAGE" --http-port "$HTTP_PORT" --https-port 0 --bind 127.0.0.1
PROXY_UP=1
expect_rc 0 "proxy up over SSH"
[ "$(stat -c '%a %U' "$R/.proxy" 2>/dev/null)" = "700 $U" ] && [ -S "$R/.proxy/router.sock" ] && ok ||
    fail "the proxy's directory on the server: $(ls -la "$R/.proxy" 2>&1)"
[ "$(inspect_field zpanel-router '{{.Config.User}}')" = "$(id -u $U):$(id -g $U)" ] && ok ||
    fail "the router does not run as the login's user: $(inspect_field zpanel-router '{{.Config.User}}')"
run Z --server t3 proxy status
expect_rc 0 "proxy status over SSH (the admin sockets through the tunnel)"
mkdir -p "$TMP/px" && cd "$TMP/px"
cat >compose.yaml <<YAML
name: ${P}px
services:
  web:
    image: $WEBVER_IMAGE
    environment:
      VERSION: \${VERSION:-v1}
    stop_grace_period: 1s
    x-zpanel:
      routes:
        - host: web.zpssh.localhost
          port: 8080
      tls: "off"
      health:
        path: /up
        interval: 200ms
        timeout: 3s
      drain_timeout: 10s
YAML
pxget() { curl -s -m 5 -H "Host: web.zpssh.localhost" "http://127.0.0.1:$HTTP_PORT/"; }
run Z --server t3 --progress quiet up -d
expect_rc 0 "up of a routed service over SSH"
wait_body 20 v1 pxget && ok || fail "the routed service through the server's proxy: '$(pxget)'"
W=$TMP/wrk-ssh
wrk -t2 -c8 -d300s -s "$ZP_SOURCE_DIR/tests/e2e/wrk-count.lua" -H "Host: web.zpssh.localhost" \
    "http://127.0.0.1:$HTTP_PORT/" >"$W" 2>&1 &
WRK_PID=$!
sleep 1
VERSION=v2 run Z --server t3 --progress plain up -d web
expect_rc 0 "update over SSH under load"
expect_err_has "Switched" "the update is a rollout through the server's proxy"
[ "$(pxget)" = v2 ] && ok || fail "the new version right after the update: '$(pxget)'"
sleep 0.5
stop_wrk
[ "$(grep '^errors ' "$W")" = "errors connect=0 read=0 write=0 timeout=0 status=0" ] &&
    [ "$(awk '$1 == "status" && $2 !~ /^2/ { n += $3 } END { print n + 0 }' "$W")" -eq 0 ] &&
    grep -q '^body v1 ' "$W" && grep -q '^body v2 ' "$W" && ok ||
    fail "requests failed during the update over SSH: $(cat "$W")"
run Z --server t3 --progress quiet down
expect_rc 0 "down of the routed project"
run Z --server t3 proxy down
expect_rc 0 "proxy down over SSH"
PROXY_UP=
cleanup_routed ${P}px
echo "# proxy over SSH: $((SECONDS - t_px)) s"
cd "$TMP"

# --- an app from git deploys to its server: built through the tunnel, run there
A=${P}app
t_app=$SECONDS
git init -q -b main "$TMP/appsrc"
printf 'FROM %s\nCOPY msg.txt /msg.txt\nCMD ["sh", "-c", "trap \x27exit 0\x27 TERM; while true; do sleep 1 & wait; done"]\n' \
    "$TEST_IMAGE" >"$TMP/appsrc/Dockerfile"
echo app-over-ssh >"$TMP/appsrc/msg.txt"
git -C "$TMP/appsrc" -c user.name=e2e -c user.email=e2e@example.invalid add -A &&
    git -C "$TMP/appsrc" -c user.name=e2e -c user.email=e2e@example.invalid commit -qm v1
run Z app create $A --git "file://$TMP/appsrc" --server nosuch
expect_rc 1 "an app with an unknown server"
expect_err_has "no server named 'nosuch'" "app create names the unknown server"
run Z app create $A --git "file://$TMP/appsrc" --server t3
expect_rc 0 "an app with a server"
grep -q '^server = "t3"' "$ZPANEL_STATE_DIR/apps/$A/app.toml" && ok || fail "app.toml names the server"
run Z app deploy $A
expect_rc 0 "app deploy to the server"
grep -q "to server t3" <<<"$OUT$ERR" && ok || fail "the deploy says where it goes: $OUT $ERR"
[ "$(docker exec $A-web-1 cat /msg.txt 2>/dev/null)" = app-over-ssh ] && ok ||
    fail "the app's container on the server: $ERR"
stop_sshd
run Z app deploy $A
expect_rc 1 "an app deploy with its server down fails"
expect_err_has "server 't3'" "and names the server"
start_sshd host1 yes
run Z app remove $A
expect_rc 0 "app remove through the server"
[ -z "$(docker ps -aq --filter label=io.zpanel.project=$A)" ] && ok || fail "app remove left containers"
echo "# an app over SSH: $((SECONDS - t_app)) s"

# --- the control plane: /api/v1/servers over the same registry, a project with a server
# whose deploy job runs through the tunnel (its files synced first)
SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
API=http://127.0.0.1:$SPORT
echo 'e2e-ssh-password-1' | "$ZPANEL" user add root --role admin --password-stdin \
    --state-dir "$ZPANEL_STATE_DIR" >/dev/null || fail "user add root"
ADMIN=$("$ZPANEL" token create --user root --scope admin --state-dir "$ZPANEL_STATE_DIR" | tail -1)
[[ $ADMIN == zpt_* ]] && ok || fail "an admin token: '$ADMIN'"
"$ZPANEL" serve --listen "127.0.0.1:$SPORT" --state-dir "$ZPANEL_STATE_DIR" --workers 1 >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$API/healthz" && break
    sleep 0.1
done
api() { # api METHOD PATH [BODY]: CODE and OUT (also in $TMP/out)
    local args=(-s -o "$TMP/out" -w '%{http_code}' -X "$1" "$API$2" -H "Authorization: Bearer $ADMIN")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}")
    OUT=$(cat "$TMP/out")
}
expect_code() { if [ "$CODE" = "$1" ]; then ok; else fail "$2: HTTP $CODE, want $1: $OUT"; fi; }
api GET /api/v1/servers
expect_code 200 "GET /api/v1/servers"
json_check "[(s['name'], s['base_dir']) for s in m['servers']] == [('t1', '/var/lib/zpanel/projects'), ('t3', '$R')]" "the API lists the CLI's servers"
api POST /api/v1/servers "{\"name\":\"t4\",\"url\":\"ssh://$U@localhost:$PORT\",\"identity\":\"$TMP/client\",\"fingerprint\":\"$FP2\"}"
expect_code 400 "POST a server with a wrong fingerprint"
grep -q "$FP1" <<<"$OUT" && ok || fail "the refusal names the real fingerprint: $OUT"
api POST /api/v1/servers "{\"name\":\"t4\",\"url\":\"ssh://$U@localhost:$PORT\",\"identity\":\"$TMP/client\",\"fingerprint\":\"$FP1\"}"
expect_code 201 "POST a server"
json_check "m['name'] == 't4' and m['fingerprint'] == '$FP1'" "the new server and its host key"
run Z server list --format json
json_check "[s['name'] for s in m] == ['t1', 't3', 't4']" "the CLI sees the server the API added"
api DELETE /api/v1/servers/t4
expect_code 200 "DELETE a server"
printf 'name: %s\nservices:\n  web:\n    image: %s\n    command: ["sh", "-c", "trap \x27exit 0\x27 TERM; while true; do sleep 1 & wait; done"]\n    volumes: ["./compose.yaml:/compose.yaml:ro"]\n' \
    "${P}cp" "$TEST_IMAGE" >"$TMP/cp.yaml"
api POST /api/v1/projects "$(python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "compose": open(sys.argv[2]).read(), "server": "nosuch"}))' "${P}cp" "$TMP/cp.yaml")"
expect_code 400 "a project with an unknown server"
api POST /api/v1/projects "$(python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "compose": open(sys.argv[2]).read(), "server": "t3"}))' "${P}cp" "$TMP/cp.yaml")"
expect_code 201 "a project with a server"
json_check "m['server'] == 't3'" "the project names its server"
api POST "/api/v1/projects/${P}cp/deploy"
expect_code 202 "deploy job"
JOB=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"]["id"])' "$TMP/out")
STATUS=
deadline=$((SECONDS + 90))
while [ $SECONDS -lt $deadline ] && [ -n "$JOB" ]; do
    api GET "/api/v1/jobs/$JOB"
    STATUS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$TMP/out")
    case $STATUS in succeeded | failed | cancelled) break ;; esac
    sleep 0.2
done
[ "$STATUS" = succeeded ] && ok || fail "the deploy job to the SSH server: $STATUS: $OUT $(cat "$ZPANEL_STATE_DIR"/jobs/"$JOB".log 2>/dev/null)"
[ "$(inspect_field ${P}cp-web-1 '{{range .Mounts}}{{.Source}}{{end}}')" = "$R/${P}cp/compose.yaml" ] &&
    [ -f "$R/${P}cp/compose.yaml" ] && ok || fail "the job synced the project's file to the server and mounted it from there"
curl -s -H "Authorization: Bearer $ADMIN" "$API/api/v1/jobs/$JOB/log" | grep -q "server t3" && ok ||
    fail "the job's log says it ran on server t3"
api DELETE /api/v1/servers/t3
expect_code 409 "a server a project deploys to is not removed"
kill "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null
SERVE_PID=
cleanup_project ${P}cp

run Z server remove t3
expect_rc 0 "remove t3"

# --- on a terminal, an unknown host key is shown and accepted with a yes
sed -i '/^\[localhost\]/d' "$ZPANEL_STATE_DIR/ssh/known_hosts" # as the API's t4 stored it
run script -qec "$ZPANEL server add t5 ssh://$U@localhost:$PORT --identity $TMP/client" /dev/null <<<n
expect_out_has "$FP1" "the prompt shows the fingerprint"
expect_out_has "not accepted" "no: nothing stored"
grep -q localhost "$ZPANEL_STATE_DIR/ssh/known_hosts" && fail "a refused key was stored" || ok
run script -qec "$ZPANEL server add t5 ssh://$U@localhost:$PORT --identity $TMP/client" /dev/null <<<y
expect_out_has "server 't5' added" "yes on a terminal adds the server"
run Z server remove t5
expect_rc 0 "remove t5"

# --- sshd killed during up: a clear error naming the server, quickly, never a hang
mkdir -p "$TMP/kill" && cd "$TMP/kill"
cat >compose.yaml <<YAML
name: ${P}kill
services:
  slow:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    healthcheck:
      test: ["CMD", "sh", "-c", "test -e /tmp/never"]
      interval: 1s
      retries: 60
YAML
start=$(date +%s)
timeout 90 "$ZPANEL" --server t1 --progress quiet up -d --wait >"$TMP/kill.out" 2>"$TMP/kill.err" &
up_pid=$!
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do # until the container exists: up waits for its health
    [ -n "$(docker ps -q --filter label=io.zpanel.project=${P}kill)" ] && break
    sleep 0.1
done
stop_sshd
wait $up_pid
RC=$?
ERR=$(cat "$TMP/kill.err")
took=$(($(date +%s) - start))
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && ok || fail "up with sshd killed: exit code $RC (stderr: $ERR)"
expect_err_has "server 't1'" "the error names the server"
[ "$took" -lt 60 ] && ok || fail "up with sshd killed took ${took}s"
run Z --server t1 ps
expect_rc 1 "a command while sshd is down fails"
expect_err_has "server 't1'" "and names the server"
start_sshd host1 yes
run Z --server t1 --progress quiet up -d slow
expect_rc 0 "the next up converges once sshd is back"
[ "$(inspect_field ${P}kill-slow-1 '{{.State.Running}}')" = true ] && ok || fail "slow is not running"
cleanup_project ${P}kill

# --- a changed host key is refused with both fingerprints, accepted only explicitly
stop_sshd
start_sshd host2 yes
run Z --server t1 ps
expect_rc 1 "a changed host key is refused"
expect_err_has "CHANGED" "the refusal says the key changed"
expect_err_has "$FP1" "the refusal shows the known fingerprint"
expect_err_has "$FP2" "the refusal shows the new fingerprint"
expect_err_has "zpanel server check t1 --fingerprint $FP2" "and how to accept it"
run Z server check t1 --fingerprint "$FP1"
expect_rc 1 "check with the old fingerprint does not accept the new key"
run Z server check t1 --fingerprint "$FP2"
expect_rc 0 "check with the new fingerprint accepts it"
grep -q "$(awk '{print $2}' "$S/host2.pub")" "$ZPANEL_STATE_DIR/ssh/known_hosts" && ok ||
    fail "the new key is not in known_hosts"

# --- forwarding refused: the dial-stdio fallback
stop_sshd
start_sshd host2 no
run Z server check t1
expect_rc 0 "check with forwarding refused"
expect_out_has "dial-stdio" "check: the fallback is used"
cd "$TMP/proj"
run Z --server t1 --progress quiet up -d --wait
expect_rc 0 "up -d --wait over dial-stdio"
run Z --server t1 exec -T web echo via-dial-stdio
expect_out_has "via-dial-stdio" "exec over dial-stdio"
run Z --server t1 --progress quiet down
expect_rc 0 "down over dial-stdio"

# --- remove
run Z server remove t1
expect_rc 0 "remove"
run Z server list --format json
json_check "m == []" "the server is gone"
run Z server remove t1
expect_rc 1 "removing an unknown server"

# --- without --identity: a new ed25519 key pair, private key 0600, public key printed
run Z server add t2 "$URL"
expect_rc 0 "add without --identity"
expect_out_has "ssh-ed25519 AAAA" "the public key is printed"
k=$ZPANEL_STATE_DIR/ssh/keys/t2_ed25519
[ "$(stat -c %a "$k" 2>/dev/null)" = 600 ] && ok || fail "private key mode $(stat -c %a "$k" 2>&1)"
ssh-keygen -y -f "$k" >/dev/null 2>&1 && ok || fail "the generated private key does not load"
run Z --server t2 ps
expect_rc 1 "the new key is not installed yet"
expect_err_has "authentication as '$U'" "the refusal names the login"
cat "$k.pub" >>"$S/authorized_keys" # installed on the server: now it logs in
run Z server check t2
expect_rc 0 "check with the generated key once installed"

finish
