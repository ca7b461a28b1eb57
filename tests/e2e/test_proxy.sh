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
    cleanup_project $P
    cleanup_project $P-clash
    timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
    rm -rf "$TMP"
}
cleanup_project $P
cleanup_project $P-clash
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
web_id=$(docker inspect -f '{{.Id}}' $P-web-1 | cut -c1-12)
api_id=$(docker inspect -f '{{.Id}}' $P-api-1 | cut -c1-12)
expect_out_has "web.proxy.localhost -> $P-web-1 ($web_id:8080)" "routes lists web"
expect_out_has "web.proxy.localhost/api -> $P-api-1 ($api_id:9000)" "routes lists api"
# (other projects on this engine may have routes too)
[ "$(grep -c 'proxy.localhost' <<<"$OUT")" = 2 ] && ok || fail "routes: want 2 lines: $OUT"
zp proxy routes --format json
json_check 'len([l for l in m if "proxy.localhost" in l]) == 2' "routes json"

# --- another project claiming the same host: up says so ---
F2=$(dirname "$F")/clash.yaml
cat >"$F2" <<YAML
name: ${P}-clash
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "exec httpd -f -p 8080 -h /"]
    x-zpanel:
      routes:
        - host: web.proxy.localhost
          port: 8080
      tls: "off"
YAML
zp -f "$F2" --progress plain up -d
expect_rc 0 "up of a project claiming a taken host"
expect_err_has "host 'web.proxy.localhost' path '/' is routed by both" "the host clash is named"
zp -f "$F2" down
expect_rc 0 "down of the clashing project"

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

# --- the project goes away: down removes its routes, proxy down the network ---
zp -f "$F" down
expect_rc 0 "down of the routed project"
zp proxy up --image "$PROXY_IMAGE" --http-port "$PORT" --https-port 0 --bind 127.0.0.1
wait_body 20 404 proxy_status_code "$PORT" web.proxy.localhost / && ok ||
    fail "route of a removed project still served"
zp proxy down
expect_rc 0 "final proxy down"
if [ -z "$(docker ps -aq --filter network=zpanel)" ]; then
    docker network inspect zpanel >/dev/null 2>&1 && fail "network zpanel left without users" || ok
fi

finish
