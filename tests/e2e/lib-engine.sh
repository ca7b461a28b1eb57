# lib-engine.sh: helpers for end-to-end tests against the real Docker engine. Source after
# lib.sh. Builds the test image from Debian's static busybox (no registry, no pull) and
# removes everything a test project left behind.
TEST_IMAGE=${TEST_IMAGE:-zpanel-test/busybox:1}

engine_up() {
    curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

# require_engine: without an engine nothing of an engine test can run: skip it (exit 77).
require_engine() {
    engine_up || skip_test "no Docker engine answers on /var/run/docker.sock (start dockerd, or run scripts/setup.sh as root)"
}

# test_image: make sure $TEST_IMAGE exists (FROM scratch + /bin/busybox with its applets).
test_image() {
    docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 && return 0
    local ctx
    ctx=$(mktemp -d)
    cp /bin/busybox "$ctx/busybox"
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sh"]
DOCKERFILE
    DOCKER_BUILDKIT=0 docker build -q -t "$TEST_IMAGE" "$ctx" >/dev/null
    local rc=$?
    rm -rf "$ctx"
    return $rc
}

# cleanup_project NAME: remove every container, network and volume labelled for project NAME.
cleanup_project() {
    local p=$1
    docker ps -aq --filter "label=io.zpanel.project=$p" | xargs -r docker rm -f >/dev/null 2>&1
    docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null 2>&1
    docker network ls -q --filter "label=io.zpanel.project=$p" | xargs -r docker network rm >/dev/null 2>&1
    docker volume ls -q --filter "label=io.zpanel.project=$p" | xargs -r docker volume rm >/dev/null 2>&1
    true
}

# inspect_field CONTAINER GO_TEMPLATE: print one field of `docker inspect`.
inspect_field() {
    docker inspect -f "$2" "$1" 2>/dev/null
}
