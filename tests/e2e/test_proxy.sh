#!/usr/bin/env bash
# test_proxy.sh: zpanel's reverse proxy against the real engine: `proxy up` runs the edge
# and the router (Caddy, image packed from Debian's caddy) on the network `zpanel` with
# their admin API on unix sockets only; a project's routed services (x-zpanel) are served
# by host and path through 127.0.0.1; `proxy routes`/`status` show them; the routes come
# back after both containers restart and after `proxy down` + `proxy up`; `proxy up` is
# idempotent; usage errors and a missing image leave the engine untouched.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
source "$(dirname "$0")/lib-proxy.sh"

require_engine
test_image || fail "building $TEST_IMAGE"
proxy_image || fail "building $PROXY_IMAGE"

P=zpe2eproxy
export ZPANEL_STATE_DIR=$TMP/state
PORT=$(free_port)
F=$TMP/compose.yaml
zp() { run timeout 120 "$ZPANEL" "$@"; }
teardown() {
    for p in $P $P-clash $P-other $P-squat; do cleanup_routed $p; done
    timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
    rm -rf "$TMP"
}
for p in $P $P-clash $P-other $P-squat; do cleanup_routed $p; done
timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
trap teardown EXIT

# --- usage errors and a missing image: nothing is created ---
zp proxy
expect_rc 2 "proxy without a subcommand"
zp proxy upp
expect_rc 2 "unknown subcommand"
expect_err_has "did you mean 'up'?" "subcommand suggestion"
zp proxy up --http-port 0
expect_rc 2 "--http-port 0"
expect_err_has "--http-port: '0' is not a port number" "port message"
zp proxy up --bind localhost
expect_rc 2 "--bind with a name"
zp proxy up --image zpanel-test/no-such-caddy:0 --http-port "$PORT" --https-port 0
expect_rc 1 "missing image"
expect_err_has "proxy image 'zpanel-test/no-such-caddy:0' is not on the engine" "missing image message"
[ -z "$(docker ps -aq --filter label=io.zpanel.proxy.dir="$ZPANEL_STATE_DIR/proxy")" ] && ok ||
    fail "containers exist after a failed proxy up"

# --- proxy up ---
zp proxy up --image "$PROXY_IMAGE" --http-port "$PORT" --https-port 0 --bind 127.0.0.1
expect_rc 0 "proxy up"
for c in zpanel-proxy zpanel-router; do
    [ "$(inspect_field $c '{{.State.Running}}')" = true ] && ok || fail "$c is not running"
    [ "$(inspect_field $c '{{.HostConfig.RestartPolicy.Name}}')" = unless-stopped ] && ok ||
        fail "$c restart policy"
    inspect_field $c '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' | grep -qw zpanel &&
        ok || fail "$c is not on the zpanel network"
done
[ "$(inspect_field zpanel-proxy '{{(index (index .HostConfig.PortBindings "'"$PORT"'/tcp") 0).HostIp}}')" = 127.0.0.1 ] &&
    ok || fail "edge port is not bound to 127.0.0.1"
[ "$(inspect_field zpanel-router '{{len .HostConfig.PortBindings}}')" = 0 ] && ok ||
    fail "the router publishes ports"
[ "$(stat -c %a "$ZPANEL_STATE_DIR/proxy")" = 700 ] && ok || fail "proxy dir is not 0700"
[ -S "$ZPANEL_STATE_DIR/proxy/edge.sock" ] && [ -S "$ZPANEL_STATE_DIR/proxy/router.sock" ] && ok ||
    fail "admin sockets missing"
# the admin API answers on the socket only (an empty Host header), not on the port
[ "$(curl -s -m 3 -H 'Host;' --unix-socket "$ZPANEL_STATE_DIR/proxy/router.sock" http://x/config/ | head -c 9)" = '{"admin":' ] &&
    ok || fail "router admin socket"
[ "$(proxy_status_code "$PORT" 127.0.0.1 /config/)" = 404 ] && ok || fail "admin reachable on the port"

zp proxy status
expect_rc 0 "proxy status"
expect_out_has "edge:       zpanel-proxy (running)" "status edge"
expect_out_has "router:     zpanel-router (running)" "status router"
expect_out_has "http port:  $PORT" "status port"
expect_out_has "https port: off" "status https"
zp proxy status --format json
json_check 'm["edge"]["running"] and m["router"]["running"] and m["http_port"] == '"$PORT"' and m["image"] == "'"$PROXY_IMAGE"'"' \
    "status json"

# --- a routed project ---
cat >"$F" <<YAML
name: $P
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "mkdir -p /www/api && echo web-page > /www/index.html && echo web-api > /www/api/index.html && exec httpd -f -p 8080 -h /www"]
    x-zpanel:
      routes:
        - host: Web.Proxy.Localhost
          port: 8080
      tls: "off"
      health: /index.html
  api:
    image: $TEST_IMAGE
    command: ["sh", "-c", "mkdir -p /www/api && echo api-page > /www/api/index.html && exec httpd -f -p 9000 -h /www"]
    x-zpanel:
      routes:
        - host: web.proxy.localhost
          path: /api
          port: 9000
      tls: "off"
  other:
    image: $TEST_IMAGE
    command: ["sh", "-c", "exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: traefik.proxy.localhost
          port: 8080
      proxy: traefik
YAML
zp -f "$F" config --labels traefik
expect_rc 0 "config --labels traefik"
expect_out_has 'traefik.http.routers.zpe2eproxy-web.rule: Host(`web.proxy.localhost`)' "traefik rule"
expect_out_has 'traefik.http.routers.zpe2eproxy-api.rule: Host(`web.proxy.localhost`) && PathPrefix(`/api`)' \
    "traefik path rule"
expect_out_has 'traefik.http.services.zpe2eproxy-other.loadbalancer.server.port: "8080"' "traefik port"
zp -f "$F" up -d
expect_rc 0 "up of the routed project"
wait_body 20 web-page proxy_get "$PORT" web.proxy.localhost / && ok ||
    fail "web through the proxy: '$(proxy_get "$PORT" web.proxy.localhost /)'"
wait_body 10 api-page proxy_get "$PORT" web.proxy.localhost /api/ && ok ||
    fail "/api through the proxy: '$(proxy_get "$PORT" web.proxy.localhost /api/)'"
[ "$(proxy_status_code "$PORT" unknown.proxy.localhost)" = 404 ] && ok || fail "unknown host is not 404"
[ "$(proxy_status_code "$PORT" traefik.proxy.localhost)" = 404 ] && ok ||
    fail "a traefik service is routed by caddy"
inspect_field $P-other-1 '{{index .Config.Labels "traefik.enable"}}' | grep -qx true && ok ||
    fail "traefik labels on $P-other-1"

zp proxy routes
expect_rc 0 "proxy routes"
# upstreams are dialled by their address on the project's own network
web_ip=$(inspect_field $P-web-1 "{{(index .NetworkSettings.Networks \"zpanel-$P\").IPAddress}}")
api_ip=$(inspect_field $P-api-1 "{{(index .NetworkSettings.Networks \"zpanel-$P\").IPAddress}}")
expect_out_has "web.proxy.localhost -> $P-web-1 ($web_ip:8080)" "routes lists web"
expect_out_has "web.proxy.localhost/api -> $P-api-1 ($api_ip:9000)" "routes lists api"
# (other projects on this engine may have routes too)
[ "$(grep -c 'proxy.localhost' <<<"$OUT")" = 2 ] && ok || fail "routes: want 2 lines: $OUT"
zp proxy routes --format json
json_check 'len([l for l in m if "proxy.localhost" in l]) == 2' "routes json"

# --- a host belongs to the project that claimed it first ---
# another project's claim on it (same path, a longer path prefix, any TLS mode) is refused
# before anything changes, naming the owner
F2=$(dirname "$F")/clash.yaml
clash() { # clash PATH_LINE TLS
    cat >"$F2" <<YAML
name: ${P}-clash
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "mkdir -p /www/slow /www/guest && echo clash > /www/index.html && cp /www/index.html /www/slow/ && cp /www/index.html /www/guest/ && exec httpd -f -p 8080 -h /www"]
    x-zpanel:
      routes:
        - host: web.proxy.localhost
          $1
          port: 8080
      tls: "$2"
YAML
}
for c in "path: /|off" "path: /slow|off" "path: /other|internal"; do
    clash "${c%|*}" "${c#*|}"
    zp -f "$F2" --progress plain up -d
    expect_rc 1 "up of another project claiming web.proxy.localhost (${c%|*}, tls ${c#*|})"
    expect_err_has "host 'web.proxy.localhost' belongs to project '$P' (service '" \
        "the refusal names the owner (${c%|*})"
    [ -z "$(docker ps -aq --filter label=io.zpanel.project=$P-clash)" ] && ok ||
        fail "a refused up created containers (${c%|*})"
    docker network inspect "zpanel-$P-clash" >/dev/null 2>&1 &&
        fail "a refused up created its network (${c%|*})" || ok
done
[ "$(proxy_get "$PORT" web.proxy.localhost /slow/)" != clash ] && ok || fail "/slow was taken"
[ "$(proxy_get "$PORT" web.proxy.localhost /)" = web-page ] && ok || fail "/ was taken"

# the owner allows it: the guest routes a path of its own, never one the owner routes;
# the owner's TLS mode stays
sed -i 's|      health: /index.html|      health: /index.html\n      share_hosts_with: ['"$P"'-clash]|' "$F"
zp -f "$F" --progress plain up -d web
expect_rc 0 "the owner shares its host"
clash "path: /guest" internal
zp -f "$F2" --progress plain up -d
expect_rc 0 "a guest on a shared host: $ERR"
wait_body 20 clash proxy_get "$PORT" web.proxy.localhost /guest/ && ok ||
    fail "the guest's path: '$(proxy_get "$PORT" web.proxy.localhost /guest/)'"
[ "$(proxy_get "$PORT" web.proxy.localhost /)" = web-page ] && ok || fail "the owner's / after a guest"
zp -f "$F2" down
expect_rc 0 "down of the guest"
clash "path: /" "off"
zp -f "$F2" --progress plain up -d
expect_rc 1 "a guest claiming the owner's own path"
expect_err_has "path '/' is routed by project '$P'" "the owner keeps its path"

# --- projects apart: each project's routed containers meet the router on their own
# network, never another project's containers ---
F3=$(dirname "$F")/other.yaml
cat >"$F3" <<YAML
name: ${P}-other
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo other-page > /index.html && exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: other.proxy.localhost
          port: 8080
      tls: "off"
YAML
zp -f "$F3" up -d
expect_rc 0 "up of a second routed project"
wait_body 20 other-page proxy_get "$PORT" other.proxy.localhost / && ok || fail "the second project's route"
other_nets=$(inspect_field $P-other-web-1 '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}')
[ "$(inspect_field $P-web-1 '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' | tr ' ' '\n' | grep -c '^zpanel')" = 1 ] &&
    ok || fail "$P-web-1 is on more than its own proxy network"
grep -qE '(^| )zpanel( |$)' <<<"$other_nets" && fail "$P-other-web-1 is on the shared network zpanel" || ok
# from a container of $P: its own project's routed container answers, the other's not
api_ip=$(inspect_field $P-api-1 "{{(index .NetworkSettings.Networks \"zpanel-$P\").IPAddress}}")
other_ip=$(inspect_field $P-other-web-1 "{{(index .NetworkSettings.Networks \"zpanel-$P-other\").IPAddress}}")
docker exec $P-web-1 sh -c "echo 'GET /api/index.html HTTP/1.0' | nc -w 3 $api_ip 9000" | grep -q api-page &&
    ok || fail "$P-web-1 cannot reach its own project's $P-api-1 at $api_ip:9000 (control)"
[ -n "$other_ip" ] && ! docker exec $P-web-1 sh -c "echo 'GET / HTTP/1.0' | nc -w 3 $other_ip 8080" | grep -q other-page &&
    ok || fail "$P-web-1 reaches $P-other-web-1 at '$other_ip':8080"
zp -f "$F3" down
expect_rc 0 "down of the second project"
docker network inspect "zpanel-$P-other" >/dev/null 2>&1 && fail "down left zpanel-$P-other" || ok

# --- a rollout never removes a container it did not create under its temporary name ---
F4=$(dirname "$F")/squat.yaml
cat >"$F4" <<YAML
name: ${P}-squat
services:
  data:
    image: $TEST_IMAGE
    container_name: $P-web-1-zpnew
    command: ["sleep", "3600"]
YAML
zp -f "$F4" up -d
expect_rc 0 "up of a project whose container is named $P-web-1-zpnew"
squat_id=$(docker inspect -f '{{.Id}}' $P-web-1-zpnew)
web_before=$(docker inspect -f '{{.Id}}' $P-web-1)
sed -i 's|      health: /index.html|      health: /index.html\n      drain_timeout: 2s|' "$F"
zp -f "$F" --progress plain up -d web
expect_rc 1 "a rollout whose temporary name another project holds"
expect_err_has "$P-web-1-zpnew" "the refusal names the container"
expect_err_has "project '$P-squat'" "the refusal names its owner"
[ "$(docker inspect -f '{{.Id}} {{.State.Running}}' $P-web-1-zpnew)" = "$squat_id true" ] && ok ||
    fail "the other project's $P-web-1-zpnew was touched"
[ "$(docker inspect -f '{{.Id}}' $P-web-1)" = "$web_before" ] && ok || fail "$P-web-1 was replaced"
[ "$(proxy_get "$PORT" web.proxy.localhost /)" = web-page ] && ok || fail "web after the refused rollout"
zp -f "$F4" down
expect_rc 0 "down of the squatting project"

# --- a rollout killed between the old container's removal and the rename: the
# replacement serves under its temporary name, another project's up keeps it routed, and
# the owner's next up gives it its name ---
ZP_TEST_CRASH_AT=after-retire zp -f "$F" --progress plain up -d web
[ "$RC" -ne 0 ] && ok || fail "the rollout was not killed (exit $RC)"
new_id=$(docker inspect -f '{{.Id}}' $P-web-1-zpnew 2>/dev/null)
[ -n "$new_id" ] && [ -z "$(docker ps -aq --filter name="^$P-web-1\$")" ] && ok ||
    fail "after the kill: want only $P-web-1-zpnew, have: $(docker ps -a --filter name=$P-web --format '{{.Names}}' | tr '\n' ' ')"
wait_body 10 web-page proxy_get "$PORT" web.proxy.localhost / && ok || fail "web while named $P-web-1-zpnew"
zp -f "$F3" up -d # another project's up syncs the proxy
expect_rc 0 "another project's up after the kill"
[ "$(proxy_get "$PORT" web.proxy.localhost /)" = web-page ] && ok ||
    fail "another project's up dropped the replacement: '$(proxy_get "$PORT" web.proxy.localhost /)'"
zp -f "$F3" down
zp -f "$F" --progress plain up -d web
expect_rc 0 "the owner's next up"
expect_err_has "Renamed" "the owner's up finishes the rename"
[ "$(docker inspect -f '{{.Id}}' $P-web-1 2>/dev/null)" = "$new_id" ] && ok ||
    fail "$P-web-1 is not the replacement (renamed, not replaced)"
[ "$(proxy_get "$PORT" web.proxy.localhost /)" = web-page ] && ok || fail "web after the rename"

# --- both containers restart: the routes come back (autosaved configuration) ---
docker restart zpanel-proxy zpanel-router >/dev/null
wait_body 30 web-page proxy_get "$PORT" web.proxy.localhost / && ok ||
    fail "after a restart of the proxy: '$(proxy_get "$PORT" web.proxy.localhost /)'"

# --- proxy up again: nothing changes ---
edge_id=$(docker inspect -f '{{.Id}}' zpanel-proxy)
router_id=$(docker inspect -f '{{.Id}}' zpanel-router)
zp proxy up --image "$PROXY_IMAGE" --http-port "$PORT" --https-port 0 --bind 127.0.0.1
expect_rc 0 "second proxy up"
[ "$(docker inspect -f '{{.Id}}' zpanel-proxy)" = "$edge_id" ] &&
    [ "$(docker inspect -f '{{.Id}}' zpanel-router)" = "$router_id" ] && ok ||
    fail "second proxy up recreated the containers"
[ "$(proxy_get "$PORT" web.proxy.localhost /)" = web-page ] && ok || fail "route after second up"

# --- proxy down, then up: rebuilt from the engine's labels ---
zp proxy down
expect_rc 0 "proxy down"
[ -z "$(docker ps -aq --filter name='^zpanel-(proxy|router)$')" ] && ok ||
    fail "proxy containers left after down"
zp proxy status
expect_rc 1 "status exits 1 when the proxy is not running"
expect_out_has "edge:       zpanel-proxy (not running)" "status after down"
zp proxy routes
expect_rc 1 "routes without a proxy"
expect_err_has "the proxy is not running" "routes message"
rm -rf "$ZPANEL_STATE_DIR/proxy/data" # forget the autosaved configuration too
zp proxy up --image "$PROXY_IMAGE" --http-port "$PORT" --https-port 0 --bind 127.0.0.1
expect_rc 0 "proxy up after down"
wait_body 20 web-page proxy_get "$PORT" web.proxy.localhost / && ok ||
    fail "route rebuilt from labels: '$(proxy_get "$PORT" web.proxy.localhost /)'"

# --- the project goes away: down removes its routes and its network to the router,
# proxy down the shared network ---
zp -f "$F" down
expect_rc 0 "down of the routed project"
docker network inspect "zpanel-$P" >/dev/null 2>&1 && fail "down left the network zpanel-$P" || ok
zp proxy up --image "$PROXY_IMAGE" --http-port "$PORT" --https-port 0 --bind 127.0.0.1
wait_body 20 404 proxy_status_code "$PORT" web.proxy.localhost / && ok ||
    fail "route of a removed project still served"
zp proxy down
expect_rc 0 "final proxy down"
if [ -z "$(docker ps -aq --filter network=zpanel)" ]; then
    docker network inspect zpanel >/dev/null 2>&1 && fail "network zpanel left without users" || ok
fi

finish
