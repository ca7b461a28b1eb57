# lib-proxy.sh: helpers for end-to-end tests of zpanel's reverse proxy. Source after lib.sh
# and lib-engine.sh. The proxy image is packed from Debian's caddy binary (no registry):
# FROM scratch with /bin/caddy, the shared libraries ldd names and the CA bundle, and
# nothing else: no shell, no busybox (zpanel runs nothing inside the proxy; the tests
# check that). scripts/caddy-image.sh does the packing.
PROXY_IMAGE=${PROXY_IMAGE:-zpanel-test/caddy:2-only}

# proxy_image: make sure $PROXY_IMAGE exists (built once, then reused).
proxy_image() {
    if ! docker image inspect "$PROXY_IMAGE" >/dev/null 2>&1; then
        command -v caddy >/dev/null || {
            echo "lib-proxy.sh: Debian's caddy is not installed (scripts/setup.sh installs it)" >&2
            return 1
        }
        DOCKER_BUILDKIT=0 bash "$ZP_SOURCE_DIR/scripts/caddy-image.sh" "$PROXY_IMAGE" >/dev/null 2>&1 ||
            return 1
    fi
    # the image must hold caddy and its libraries only
    local probe=zpanel-test-caddy-files-$$ extra
    docker create --name $probe "$PROXY_IMAGE" >/dev/null 2>&1 || return 1
    extra=$(docker export $probe | tar -t | grep -E '(^|/)(busybox|sh|wget)$')
    docker rm -f $probe >/dev/null 2>&1
    [ -z "$extra" ] || { echo "lib-proxy.sh: $PROXY_IMAGE holds $extra" >&2; return 1; }
}
# the name other tests use
caddy_image() { proxy_image; }

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# proxy_get PORT HOST [PATH]: GET through the proxy on 127.0.0.1:PORT with a Host header;
# prints the body (nothing on failure).
proxy_get() {
    curl -s -m 5 -H "Host: $2" "http://127.0.0.1:$1${3:-/}"
}

# proxy_status_code PORT HOST [PATH]: the HTTP status of the same request.
proxy_status_code() {
    curl -s -o /dev/null -w '%{http_code}' -m 5 -H "Host: $2" "http://127.0.0.1:$1${3:-/}"
}

# wait_body SECONDS WANT CMD...: retry CMD (5 times a second) until it prints WANT.
wait_body() {
    local t=$1 want=$2 i
    shift 2
    for ((i = 0; i < t * 5; i++)); do
        [ "$("$@")" = "$want" ] && return 0
        sleep 0.2
    done
    return 1
}

# cleanup_routed NAME: cleanup_project NAME, and the project's network to the router
# (zpanel-NAME, which carries no io.zpanel.project label).
cleanup_routed() {
    cleanup_project "$1"
    docker network disconnect -f "zpanel-$1" zpanel-router >/dev/null 2>&1
    docker network rm "zpanel-$1" >/dev/null 2>&1
    true
}
