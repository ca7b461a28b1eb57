# lib-webver.sh: the rollout tests' web server image. Source after lib.sh.
# webver_image [TAG]: build zpanel-test/webver:TAG (default 1) FROM scratch with one static
# binary compiled from tests/e2e/images/webver.c (GET / answers $VERSION, /up answers 200
# or 500 with FAIL_HEALTH=1, /slow?s=N answers after N seconds, SIGTERM drains). Kept when
# it already exists and is newer than the source. Sets WEBVER_IMAGE.
webver_image() {
    local tag=${1:-1} src=$ZP_SOURCE_DIR/tests/e2e/images/webver.c
    WEBVER_IMAGE=zpanel-test/webver:$tag
    local created
    created=$(docker image inspect -f '{{.Created}}' "$WEBVER_IMAGE" 2>/dev/null) &&
        [ "$(date -d "$created" +%s)" -ge "$(stat -c %Y "$src")" ] && return 0
    local ctx rc
    ctx=$(mktemp -d)
    if ! cc -static -O2 -o "$ctx/webver" "$src" -lpthread; then
        rm -rf "$ctx"
        return 1
    fi
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY webver /webver
EXPOSE 8080
ENTRYPOINT ["/webver"]
DOCKERFILE
    DOCKER_BUILDKIT=0 docker build -q -t "$WEBVER_IMAGE" "$ctx" >/dev/null 2>"$ctx/err"
    rc=$?
    [ $rc -eq 0 ] || cat "$ctx/err" >&2
    rm -rf "$ctx"
    return $rc
}
