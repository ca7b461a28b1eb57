#!/usr/bin/env bash
# e2e: up, update, releases and rollback against the real engine: a service built from a
# local Dockerfile serves its version; up records v1 (a no-op up records nothing), update
# v1 -> v2 records the next release; an update whose health check fails is rolled back to
# v2 with its original config hash; rollback redeploys older releases exactly (their kept
# images and their recorded definitions: environment and env_file values); --keep prunes
# old keep tags; the deployment lock keeps up, update and cleanup apart; a project deployed
# before releases were recorded gets an "observed" release; nothing is ever pulled.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"

P=zpe2eupdate
PORT=18391
require_engine
test_image || { echo "cannot build $TEST_IMAGE"; exit 1; }

cleanup_images() {
    docker image ls -q "zpanel-release/$P-web" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    docker image ls -q "$P-web" | xargs -r docker rmi -f >/dev/null 2>&1
    true
}
cleanup_project "$P"
cleanup_images
trap 'cleanup_project "$P"; cleanup_images; rm -rf "$TMP"' EXIT
START=$(date +%s)

export ZPANEL_STATE_DIR=$TMP/state
unset ZPANEL_KEEP_RELEASES
D=$TMP/proj
mkdir -p "$D"
cat >"$D/Dockerfile" <<EOF
FROM $TEST_IMAGE
COPY version /www/version
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
EOF
# write_compose HEALTH_FILE (FLAVOUR: the environment's value, the env file's too)
FLAVOUR=one
write_compose() {
    echo "FROM_FILE=file-$FLAVOUR" >"$D/web.env"
    cat >"$D/compose.yaml" <<EOF
name: $P
services:
  web:
    build: .
    ports: ["127.0.0.1:$PORT:8080"]
    stop_grace_period: 1s
    env_file: web.env
    environment:
      FLAVOUR: $FLAVOUR
    healthcheck:
      test: ["CMD", "cat", "$1"]
      interval: 1s
      timeout: 2s
      retries: 2
EOF
}
Z() { "$ZPANEL" --progress plain --project-directory "$D" "$@"; }
served() { curl -s --max-time 3 "http://127.0.0.1:$PORT/version"; }
label_hash() { docker inspect -f '{{index .Config.Labels "io.zpanel.config-hash"}}' "$P-web-1" 2>/dev/null; }
# env_of NAME: the value of NAME in the running container's environment
env_of() { docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$P-web-1" 2>/dev/null | sed -n "s/^$1=//p"; }
# release_field ID PYTHON_EXPR_ON_r: a field of a release from `releases --format json`
release_field() {
    Z releases --format json | python3 -c 'import json,sys
rs={r["id"]:r for r in json.load(sys.stdin)}
r=rs.get(int(sys.argv[1]))
print(eval(sys.argv[2]) if r else "none")' "$1" "$2"
}

# --- usage errors touch nothing ---
write_compose /www/version
echo v1 >"$D/version"
run Z update --keep 0
expect_rc 2 "update --keep 0 is a usage error"
expect_err_has "--keep: '0'" "the error names the flag"
run env ZPANEL_KEEP_RELEASES=x "$ZPANEL" --project-directory "$D" update
expect_rc 2 "a bad ZPANEL_KEEP_RELEASES is a usage error"
expect_err_has "ZPANEL_KEEP_RELEASES" "the error names the variable"
run Z rollback abc
expect_rc 2 "rollback abc is a usage error"
run Z releases
expect_rc 0 "releases of a project never updated"
expect_out_eq "ID    CREATED              KIND            STATUS      IMAGES                          NOTE" "no release yet"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$P")" ] && ok || fail "usage errors created containers"

# --- v1 runs (deployed by up, which records it), then update to v2 ---
run Z up -d --wait
expect_rc 0 "up v1"
expect_err_has "Recorded as release 1" "up says which release it recorded"
[ "$(served)" = v1 ] && ok || fail "v1 is served after up (got '$(served)')"
H1=$(label_hash)
[ "$(env_of FLAVOUR) $(env_of FROM_FILE)" = "one file-one" ] && ok || fail "v1's environment"
run Z up -d --wait
expect_rc 0 "a second up with nothing changed"
run Z releases -q
expect_out_eq "1" "a no-op up records nothing"
echo v2 >"$D/version"
FLAVOUR=two
write_compose /www/version
rm -f "$D/web.env" # the record stands alone: v1's env file is gone
write_compose /www/version
run Z update
expect_rc 0 "update to v2"
expect_out_has "Release 2 deployed" "update says which release it deployed"
[ "$(served)" = v2 ] && ok || fail "v2 is served after update (got '$(served)')"
H2=$(label_hash)
[ -n "$H2" ] && [ "$H2" != "$H1" ] && ok || fail "the config hash changed with the image ($H1 -> $H2)"
run Z releases -q
expect_out_eq "$(printf '2\n1')" "releases lists 2 releases, newest first"
[ "$(env_of FLAVOUR) $(env_of FROM_FILE)" = "two file-two" ] && ok || fail "v2's environment"
[ "$(release_field 1 'r["kind"]+" "+r["status"]')" = "up superseded" ] && ok ||
    fail "release 1 records what up deployed"
[ "$(release_field 1 'r["services"][0]["config_hash"]')" = "$H1" ] && ok ||
    fail "release 1 recorded v1's config hash"
[ "$(release_field 2 'r["kind"]+" "+r["status"]')" = "update deployed" ] && ok ||
    fail "release 2 is the deployed update"
[ "$(release_field 2 'r["services"][0]["config_hash"]')" = "$H2" ] && ok ||
    fail "release 2 recorded the config hash its containers carry"
for id in 1 2; do
    kid=$(docker image inspect -f '{{.Id}}' "zpanel-release/$P-web:$id" 2>/dev/null)
    [ -n "$kid" ] && [ "$kid" = "$(release_field $id 'r["services"][0]["image_id"]')" ] && ok ||
        fail "keep tag $id names release $id's image"
done
run Z releases
expect_out_has "update" "the table shows the kind"
expect_out_has "deployed" "the table shows the status"

# --- an update with nothing new records nothing ---
run Z update
expect_rc 0 "update without changes"
expect_out_has "Release 2 is up to date" "nothing new is recorded"
run Z releases -q
expect_out_eq "$(printf '2\n1')" "still 2 releases"

# --- v3's health check fails: rolled back to v2 automatically ---
echo v3 >"$D/version"
write_compose /www/missing
run Z update --wait-timeout 30
expect_rc 1 "update to an unhealthy v3 fails"
expect_err_has "release 3 failed" "the failure names the release"
expect_err_has "service 'web'" "the failure names the service"
expect_err_has "rolled back to release 2" "the failure says where it went back"
# the verdict came from the health check's "unhealthy", not from the 30 s running out (the
# time itself is not asserted: a loaded machine stretches it)
if grep -q "timed out after" <<<"$ERR"; then
    fail "the unhealthy update waited for the timeout: $ERR"
else
    ok
fi
[ "$(served)" = v2 ] && ok || fail "v2 is served again (got '$(served)')"
# (the config hash may differ from H2: the record holds env_file's values, not the file)
[ "$(env_of FLAVOUR) $(env_of FROM_FILE)" = "two file-two" ] && ok || fail "v2's environment runs again"
[ "$(docker image inspect -f '{{.Id}}' "$P-web")" = "$(release_field 2 'r["services"][0]["image_id"]')" ] &&
    ok || fail "$P-web points at v2's image again"
[ "$(release_field 3 'r["status"]')" = failed ] && ok || fail "release 3 is failed"
note=$(release_field 3 'r["note"]')
grep -q "web" <<<"$note" && grep -q "probe" <<<"$note" && ok ||
    fail "release 3's note names the service and its probe: $note"
[ "$(release_field 2 'r["status"]')" = deployed ] && ok || fail "release 2 is still the deployed one"

# --- rollback 1: v1 from its kept image, with the recorded config hash ---
run Z rollback 1 --wait-timeout 30
expect_rc 0 "rollback 1"
expect_out_has "Release 4 deployed (rollback to release 1)" "rollback says what it recorded"
[ "$(served)" = v1 ] && ok || fail "v1 is served after rollback 1 (got '$(served)')"
# v1's definition, not the files' (v3's): its environment and its env file's values
[ "$(env_of FLAVOUR) $(env_of FROM_FILE)" = "one file-one" ] && ok ||
    fail "v1's environment runs after rollback 1 (got '$(env_of FLAVOUR) $(env_of FROM_FILE)')"
[ "$(label_hash)" = "$(release_field 4 'r["services"][0]["config_hash"]')" ] && ok ||
    fail "the container carries release 4's recorded config hash"
[ "$(docker inspect -f '{{.Image}}' "$P-web-1")" = "$(release_field 1 'r["services"][0]["image_id"]')" ] &&
    ok || fail "v1's image runs after rollback 1"
[ "$(release_field 4 'r["kind"]+" "+str(r["source"])+" "+r["status"]')" = "rollback 1 deployed" ] &&
    ok || fail "release 4 records the rollback to 1"
[ "$(release_field 2 'r["status"]')" = superseded ] && ok || fail "release 2 is superseded"

# --- rollback without a release: back to the one before the running one (2) ---
run Z rollback
expect_rc 0 "rollback to the previous release"
[ "$(served)" = v2 ] && ok || fail "v2 is served after rollback (got '$(served)')"
[ "$(env_of FLAVOUR)" = "two" ] && ok || fail "v2's environment runs after rollback"
[ "$(release_field 5 'str(r["source"])')" = 2 ] && ok || fail "release 5 redeployed release 2"

run Z rollback 99
expect_rc 1 "rollback to a release that does not exist"
expect_err_has "no release 99" "the error names the release"

# --- retention: --keep 2 leaves two releases and their keep tags ---
run Z rollback 1 --keep 2
expect_rc 0 "rollback 1 keeping 2 releases"
[ "$(served)" = v1 ] && ok || fail "v1 is served again"
run Z releases -q
expect_out_eq "$(printf '6\n5')" "only the newest 2 releases are kept"
tags=$(docker image ls --format '{{.Tag}}' "zpanel-release/$P-web" | sort -n | tr '\n' ' ')
[ "$tags" = "5 6 " ] && ok || fail "only keep tags 5 and 6 remain (got '$tags')"
# v2's image is kept by release 5 while v1's runs
[ -n "$(docker image inspect -f '{{.Id}}' "zpanel-release/$P-web:5")" ] && ok || fail "release 5's image stays"

# --- a crash loop (restart: always, no health check) is not healthy: rolled back to 6 ---
# the engine reports a container waiting to be restarted as Running (and Restarting)
cat >"$D/compose.yaml" <<EOF
name: $P
services:
  web:
    build: .
    ports: ["127.0.0.1:$PORT:8080"]
    stop_grace_period: 1s
    restart: always
    command: ["sh", "-c", "exit 3"]
EOF
run Z update --wait-timeout 30
expect_rc 1 "update to a crash-looping web fails"
# depending on the moment it is seen, the container is restarting or has just exited
# with 3: either way the failure names it
grep -qE "restarting \(exit code 3\)|exited \(3\)" <<<"$ERR" && ok ||
    fail "the failure names the crash loop's exit code 3 (stderr: $ERR)"
expect_err_has "rolled back to release 6" "the crash loop is rolled back"
[ "$(served)" = v1 ] && ok || fail "v1 is served again after the crash loop (got '$(served)')"
[ "$(release_field 7 'r["status"]')" = failed ] && ok || fail "release 7 is failed"

# --- the deployment lock: up, update and a real cleanup wait for nobody, they refuse ---
LOCK=$ZPANEL_STATE_DIR/projects/$P.lock
flock -n "$LOCK" sleep 60 &
LOCKER=$!
sleep 0.5
run Z update
expect_rc 1 "update while another deployment holds the lock"
expect_err_has "another deployment" "the error says why"
run Z cleanup
expect_rc 1 "cleanup while another deployment holds the lock"
expect_err_has "another deployment" "cleanup names the lock"
run Z cleanup --dry-run
expect_rc 0 "cleanup --dry-run takes no lock"
echo v9 >"$D/version"
run Z up -d
expect_rc 1 "up while another deployment holds the lock"
[ "$(served)" = v1 ] && ok || fail "the refused up changed nothing"
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null

# --- a project deployed before releases were recorded: its first update records it ---
echo v1 >"$D/version"
FLAVOUR=one
write_compose /www/version
run env ZPANEL_STATE_DIR="$TMP/elsewhere" "$ZPANEL" --project-directory "$D" up -d --wait
expect_rc 0 "up with another state directory"
export ZPANEL_STATE_DIR=$TMP/state2
run Z update
expect_rc 0 "the first update of a project with no release"
expect_out_has "Release 1 is up to date" "what runs is what the files say"
[ "$(release_field 1 'r["kind"]+" "+r["status"]')" = "observed deployed" ] && ok ||
    fail "release 1 records what ran"
export ZPANEL_STATE_DIR=$TMP/state

# --- nothing was pulled ---
pulls=$(docker events --since "$START" --until "$(date +%s)" --filter type=image --filter event=pull --format '{{.ID}}' | wc -l)
[ "$pulls" -eq 0 ] && ok || fail "images were pulled ($pulls)"

finish
