#!/usr/bin/env bash
# End-to-end tests of `zpanel build` against the real engine: FROM scratch and FROM the
# local busybox image, args and a multi-stage target, .dockerignore honoured, a failing
# step, a context of 10,000 files, digest labels stable for unchanged inputs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"

P=zpe2ebuild
IMAGES="$P-fromscratch $P-inline $P-failing $P-many zpe2ebuild/multistage:1 zpe2ebuild/multistage:extra"

cleanup() {
    cleanup_project "$P"
    docker image rm -f $IMAGES >/dev/null 2>&1
    # earlier builds left untagged by rebuilds carry the project label too
    docker images -q --filter "label=io.zpanel.project=$P" | sort -u | xargs -r docker image rm -f >/dev/null 2>&1
    true
}

require_engine
test_image || {
    echo "FAIL: cannot build $TEST_IMAGE"
    exit 1
}
cleanup

# The project, with Debian's static busybox copied in (binaries are not committed).
PROJ=$TMP/project
cp -r "$ZP_SOURCE_DIR/tests/data/build/project" "$PROJ"
cp /bin/busybox "$PROJ/busybox"
# names that need pax headers: non-ASCII, and longer than ustar's 100 bytes
LONG=$(printf 'l%.0s' $(seq 1 120))
UTF8=$'h\xc3\xa9llo.txt'
echo utf8 >"$PROJ/app/$UTF8"
echo long >"$PROJ/app/$LONG"
zp() { "$ZPANEL" -p "$P" --project-directory "$PROJ" -f "$PROJ/compose.yaml" "$@"; }
label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null; }

# --- FROM scratch, tagged <project>-<service>, .dockerignore honoured below app/
run zp build fromscratch
expect_rc 0 "build FROM scratch"
expect_err_has "Step 1/5 : FROM scratch" "step lines forwarded"
expect_err_has "Step 5/5 : LABEL \"io.zpanel.build-digest\"=" "the labels: one LABEL step, the last"
expect_err_has "fromscratch | " "lines prefixed with the service"
run docker run --rm "$P-fromscratch" /bin/busybox ls -a /app /app/tmp
expect_rc 0 "scratch image runs busybox"
expect_out_has "hello.txt" "sent file present"
expect_out_has "nested.secret" "'*.secret' only matches at the top of the context"
expect_out_has "keep.txt" "exception below an ignored directory re-includes the file"
expect_out_has "$LONG" "a name longer than 100 bytes"
run docker run --rm "$P-fromscratch" /bin/busybox cat "/app/$UTF8"
expect_out_eq "utf8" "a non-ASCII name"
if grep -q "drop.txt" <<<"$OUT"; then fail "ignored file app/tmp/drop.txt in the image"; else ok; fi
D1=$(label "$P-fromscratch" io.zpanel.build-digest)
if [[ $D1 =~ ^[0-9a-f]{64}$ ]]; then ok; else fail "digest label '$D1'"; fi
expect_eq() { if [ "$1" = "$2" ]; then ok; else fail "$3: '$1', want '$2'"; fi; }
expect_eq "$(label "$P-fromscratch" io.zpanel.project)" "$P" "project label"
expect_eq "$(label "$P-fromscratch" io.zpanel.service)" "fromscratch" "service label"

# --- unchanged inputs: the same digest; a changed file: another one
run zp build --progress quiet fromscratch
expect_rc 0 "rebuild"
expect_eq "$ERR" "" "--progress quiet prints nothing"
expect_eq "$(label "$P-fromscratch" io.zpanel.build-digest)" "$D1" "same inputs, same digest"
echo "ignored change" >"$PROJ/top.secret"
run zp build -q fromscratch
expect_eq "$(label "$P-fromscratch" io.zpanel.build-digest)" "$D1" "an ignored file changed: same digest"
echo "changed" >>"$PROJ/app/hello.txt"
run zp build -q fromscratch
D2=$(label "$P-fromscratch" io.zpanel.build-digest)
if [ -n "$D2" ] && [ "$D2" != "$D1" ]; then ok; else fail "a changed file must change the digest ($D2)"; fi

# --- FROM the local busybox image: args (model, environment, --build-arg), target, labels, tags
run env FROM_ENV=from-env "$ZPANEL" -p "$P" --project-directory "$PROJ" -f "$PROJ/compose.yaml" \
    build multistage
expect_rc 0 "multi-stage build with a target"
run docker run --rm zpe2ebuild/multistage:1 cat /greeting
expect_out_eq "hello-from-model from-env" "args from the model and from the environment"
expect_eq "$(label zpe2ebuild/multistage:1 org.example.kind)" "e2e" "build.labels"
run docker image inspect zpe2ebuild/multistage:extra
expect_rc 0 "build.tags applied"
run docker run --rm zpe2ebuild/multistage:1 ls -a /ctx /ctx/app
expect_out_has "hello.txt" "COPY . copies the context"
if grep -q "top.secret" <<<"$OUT"; then fail "ignored top.secret in the image"; else ok; fi
run env -u FROM_ENV "$ZPANEL" -p "$P" --project-directory "$PROJ" -f "$PROJ/compose.yaml" \
    build --build-arg GREETING=overridden multistage
expect_rc 0 "build with --build-arg"
run docker run --rm zpe2ebuild/multistage:1 cat /greeting
expect_out_eq "overridden unset" "--build-arg overrides; an unset variable keeps the ARG default"

# --- dockerfile_inline: the generated Dockerfile is not copied by COPY .
run zp build inline
expect_rc 0 "dockerfile_inline"
run docker run --rm "$P-inline" ls -a /ctx /ctx/app
expect_out_has "hello.txt" "inline build context"
if grep -q "zpanel.Dockerfile" <<<"$OUT"; then fail "generated Dockerfile copied into the image"; else ok; fi

# --- a failing step: exit 1, the step and its output named (the labels are step 3)
run zp build failing
expect_rc 1 "failing build"
expect_err_has "service 'failing': building image '$P-failing': step 2/3 failed:" "failed step named"
expect_err_has "returned a non-zero code: 3" "the engine's error"
expect_err_has "last-words" "the step's last output lines"

# --- remote contexts are refused
run zp build remote
expect_rc 1 "remote context"
expect_err_has "remote build contexts are not supported yet" "remote context message"

# --- usage errors
run zp build --progress fancy
expect_rc 2 "bad --progress"
run zp build nosuch
expect_rc 2 "unknown service"

# --- every service (profiles off): independent builds in parallel
run zp build
expect_rc 0 "build all"
expect_err_has "built image '$P-fromscratch'" "fromscratch built"
expect_err_has "built image 'zpe2ebuild/multistage:1'" "multistage built"
expect_err_has "built image '$P-inline'" "inline built"

# --- a context of 10,000 small files generated now
MANY=$TMP/many
mkdir -p "$MANY"
(
    cd "$MANY" || exit 1
    for d in $(seq 1 100); do
        mkdir "d$d"
        for f in $(seq 1 100); do echo "$d-$f" >"d$d/f$f"; done
    done
    printf 'FROM zpanel-test/busybox:1\nCOPY . /files/\n' >Dockerfile
    printf 'services:\n  many:\n    build: .\n' >compose.yaml
)
start=$(date +%s.%N)
run "$ZPANEL" -p "$P" --project-directory "$MANY" -f "$MANY/compose.yaml" build -q
end=$(date +%s.%N)
expect_rc 0 "10,000-file context"
run docker run --rm "$P-many" sh -c 'find /files/d* -type f | wc -l; cat /files/d57/f42'
expect_out_eq "$(printf '10000\n57-42')" "all 10,000 files sent"
echo "10,000-file context built in $(echo "$end - $start" | bc) s"

# --- up --build: builds what is missing; with unchanged inputs it neither rebuilds nor
# recreates; a changed input rebuilds the image and recreates only that service's container
U=$TMP/upbuild
mkdir -p "$U/svc"
cp /bin/busybox "$U/svc/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY version /version\nCMD ["/bin/busybox", "sleep", "600"]\n' >"$U/svc/Dockerfile"
echo v1 >"$U/svc/version"
printf 'services:\n  app:\n    build: ./svc\n    init: true\n  other:\n    image: %s\n    command: ["sleep", "600"]\n    init: true\n' "$TEST_IMAGE" >"$U/compose.yaml"
zu() { run "$ZPANEL" -p "$P" -f "$U/compose.yaml" --progress plain "$@"; }
zu up -d
expect_rc 0 "up builds the missing image"
expect_err_has "Built" "the image was built by up"
app1=$(docker inspect -f '{{.Id}}' "$P-app-1" 2>/dev/null)
other1=$(docker inspect -f '{{.Id}}' "$P-other-1" 2>/dev/null)
img1=$(docker image inspect -f '{{.Id}}' "$P-app" 2>/dev/null)
zu up -d --build
expect_rc 0 "up --build with unchanged inputs"
if grep -q "Building" <<<"$ERR"; then fail "unchanged inputs were rebuilt: $ERR"; else ok; fi
expect_eq "$(docker image inspect -f '{{.Id}}' "$P-app")" "$img1" "unchanged inputs keep the image"
expect_eq "$(docker inspect -f '{{.Id}}' "$P-app-1")" "$app1" "unchanged inputs keep the container"
echo v2 >"$U/svc/version"
zu up -d --build
expect_rc 0 "up --build with a changed file"
expect_err_has "Built" "a changed input is rebuilt"
if [ "$(docker image inspect -f '{{.Id}}' "$P-app")" != "$img1" ]; then ok; else fail "image not rebuilt"; fi
if [ "$(docker inspect -f '{{.Id}}' "$P-app-1")" != "$app1" ]; then ok; else fail "app not recreated"; fi
expect_eq "$(docker inspect -f '{{.Id}}' "$P-other-1")" "$other1" "the other service is not recreated"
run docker exec "$P-app-1" /bin/busybox cat /version
expect_out_eq "v2" "the new container runs the new image"
zu down
expect_rc 0 "down"

cleanup
finish
