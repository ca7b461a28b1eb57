#!/usr/bin/env bash
# End-to-end tests of the Compose runtime fields on a real engine: post_start / pre_stop
# lifecycle hooks (user, environment, working_dir, a failing hook fails `up` with its
# output; pre_stop before stop and down), `attach: false` (attached up and logs leave the
# service out unless named), gpus reaching the engine as DeviceRequests (no GPU here: the
# engine must refuse the request, which shows it was sent), and `zpanel watch` (sync of
# new, changed and deleted files with ignore rules, rebuild: new image, recreated
# container). Every wait is bounded; watch is stopped with SIGINT and must exit 130.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"
if ! engine_up; then
    echo "FAIL: no Docker engine"
    exit 1
fi
test_image || { echo "FAIL: cannot build $TEST_IMAGE"; exit 1; }
P=zpruntime
WATCH_PID=
cleanup() {
    [ -n "$WATCH_PID" ] && kill -KILL "$WATCH_PID" 2>/dev/null
    for p in $P ${P}att ${P}gpu ${P}w; do cleanup_project $p; done
    docker image rm -f $P-w/app:dev >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
for p in $P ${P}att ${P}gpu ${P}w; do cleanup_project $p; done
export ZPANEL_STATE_DIR=$TMP/state
Z=$ZPANEL

# wait_for SECONDS COMMAND...: run COMMAND every 0.25 s until it succeeds (bounded)
wait_for() {
    local n=$(($1 * 4))
    shift
    for _ in $(seq 1 $n); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}

# --- lifecycle hooks
mkdir -p "$TMP/hooks/data" && cd "$TMP/hooks"
cat >compose.yaml <<YAML
name: $P
services:
  app:
    image: $TEST_IMAGE
    user: "1000"
    init: true
    command: ["sleep", "300"]
    volumes: ["$TMP/hooks/data:/data"]
    post_start:
      - command: sh -c 'echo "\$\$HOOK_VAR \$\$(id -u) \$\$(pwd)" > /data/post; echo post-out'
        user: "0"
        working_dir: /data
        environment:
          HOOK_VAR: from-hook
    pre_stop:
      - command: ["sh", "-c", "echo stopping >> /data/pre"]
        user: "0"
YAML
run "$Z" --progress plain up -d
expect_rc 0 "up with a post_start hook"
expect_err_has "hook: post-out" "the hook's output is reported"
if [ "$(cat data/post 2>/dev/null)" = "from-hook 0 /data" ]; then ok; else
    fail "post_start ran with its environment, user and working_dir: '$(cat data/post 2>/dev/null)'"
fi
[ ! -e data/pre ] && ok || fail "pre_stop ran before any stop"
run "$Z" --progress quiet stop
expect_rc 0 "stop"
[ "$(cat data/pre 2>/dev/null)" = "stopping" ] && ok || fail "pre_stop before stop: '$(cat data/pre 2>/dev/null)'"
run "$Z" --progress quiet start
expect_rc 0 "start runs post_start again"
# a one-off container of the service runs the hooks too (attached and detached)
rm -f data/post
run "$Z" --progress quiet run --rm -T app sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /data/post ] && break; sleep 0.2; done; cat /data/post'
expect_rc 0 "run with a post_start hook"
expect_out_has "from-hook 0 /data" "run's container ran post_start before its command ended"
rm -f data/post
run "$Z" --progress quiet run -d app
expect_rc 0 "run -d with a post_start hook"
[ "$(cat data/post 2>/dev/null)" = "from-hook 0 /data" ] && ok || fail "run -d ran post_start: '$(cat data/post 2>/dev/null)'"
docker rm -f "$(tail -1 <<<"$OUT")" >/dev/null 2>&1 # without its pre_stop: data/pre counts app's
run "$Z" --progress quiet down
expect_rc 0 "down"
[ "$(wc -l <data/pre)" -eq 2 ] && ok || fail "pre_stop before down: $(wc -l <data/pre) runs"

# a failing hook fails up, with its output
cat >compose.yaml <<YAML
name: $P
services:
  app:
    image: $TEST_IMAGE
    init: true
    command: ["sleep", "300"]
    post_start:
      - command: ["sh", "-c", "echo hook-said-no >&2; exit 3"]
YAML
run "$Z" --progress quiet up -d
expect_rc 1 "up with a failing post_start hook"
expect_err_has "service 'app': post_start hook [0] exited with status 3" "the failure names the hook"
expect_err_has "hook-said-no" "the failure carries the hook's output"
"$Z" --progress quiet down >/dev/null 2>&1

# --- attach: false
mkdir -p "$TMP/att" && cd "$TMP/att"
cat >compose.yaml <<YAML
name: ${P}att
services:
  shown:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo from-shown; sleep 1"]
  hidden:
    image: $TEST_IMAGE
    attach: false
    command: ["sh", "-c", "echo from-hidden; sleep 1"]
YAML
run timeout 60 "$Z" --progress plain up
expect_rc 0 "attached up ends when the attached service exits"
expect_out_has "from-shown" "attached up shows the attached service"
if grep -qF from-hidden <<<"$OUT"; then fail "attached up showed an attach: false service"; else ok; fi
expect_err_has "Attaching to ${P}att-shown-1" "only the attached container is named"
wait_for 20 sh -c "docker logs ${P}att-hidden-1 2>&1 | grep -q from-hidden"
run "$Z" logs
expect_out_has "from-shown" "logs shows the attached service"
if grep -qF from-hidden <<<"$OUT"; then fail "logs without names showed an attach: false service"; else ok; fi
run "$Z" logs hidden
expect_out_has "from-hidden" "logs names the attach: false service"
"$Z" --progress quiet down >/dev/null 2>&1

# --- gpus: the request reaches the engine (which has no GPU driver here)
mkdir -p "$TMP/gpu" && cd "$TMP/gpu"
cat >compose.yaml <<YAML
name: ${P}gpu
services:
  g:
    image: $TEST_IMAGE
    command: ["sleep", "300"]
    gpus: all
YAML
run "$Z" --progress quiet up -d
expect_rc 1 "up with gpus on an engine without a GPU driver"
expect_err_has "could not select device driver" "the engine received the device request"
"$Z" --progress quiet down >/dev/null 2>&1

# --- watch: sync and rebuild
mkdir -p "$TMP/w/src" "$TMP/w/ctx" && cd "$TMP/w"
cat >ctx/Dockerfile <<DOCKERFILE
FROM $TEST_IMAGE
COPY version.txt /version.txt
DOCKERFILE
echo v1 >ctx/version.txt
echo one >src/a.txt
echo old >src/gone.txt
echo c1 >conf.txt
cat >compose.yaml <<YAML
name: ${P}w
services:
  app:
    build: ./ctx
    image: $P-w/app:dev
    init: true
    command: ["sleep", "300"]
    develop:
      watch:
        - path: ./src
          target: /app
          action: sync
          initial_sync: true
          ignore: ["*.log"]
        - path: ./ctx
          action: rebuild
        - path: ./conf.txt
          target: /etc/conf.txt
          action: sync+exec
          exec:
            command: ["sh", "-c", "cp /etc/conf.txt /etc/conf.seen"]
YAML
"$Z" --progress plain watch >"$TMP/w/watch.out" 2>&1 &
WATCH_PID=$!
if wait_for 120 grep -q "Watching 3 paths" "$TMP/w/watch.out"; then ok; else
    fail "watch did not start: $(cat "$TMP/w/watch.out")"
fi
in_ctr() { docker exec ${P}w-app-1 "$@"; }
if wait_for 20 sh -c "[ \"\$(docker exec ${P}w-app-1 cat /app/gone.txt)\" = old ]"; then ok; else
    fail "initial_sync copied the files"
fi
echo two >src/a.txt
mkdir -p src/sub/deeper
echo new >src/sub/deeper/b.txt
echo noise >src/skip.log
rm src/gone.txt
if wait_for 20 sh -c "[ \"\$(docker exec ${P}w-app-1 cat /app/a.txt)\" = two ]"; then ok; else
    fail "a changed file is synced: $(in_ctr cat /app/a.txt 2>&1)"
fi
if wait_for 20 sh -c "[ \"\$(docker exec ${P}w-app-1 cat /app/sub/deeper/b.txt)\" = new ]"; then ok; else
    fail "a file in new directories is synced"
fi
if wait_for 20 sh -c "! docker exec ${P}w-app-1 test -e /app/gone.txt"; then ok; else
    fail "a deleted file is removed in the container"
fi
in_ctr test -e /app/skip.log && fail "an ignored file was synced" || ok
echo c2 >conf.txt
if wait_for 20 sh -c "[ \"\$(docker exec ${P}w-app-1 cat /etc/conf.seen)\" = c2 ]"; then ok; else
    fail "sync+exec of a file rule: the file is synced, then exec runs"
fi
in_ctr test -e /etc/src && fail "a file rule synced more than its file" || ok
old_id=$(inspect_field ${P}w-app-1 '{{.Id}}')
old_image=$(inspect_field ${P}w-app-1 '{{.Image}}')
echo v2 >ctx/version.txt
if wait_for 120 sh -c "[ \"\$(docker exec ${P}w-app-1 cat /version.txt)\" = v2 ]"; then ok; else
    fail "rebuild: the new image runs: $(tail -5 "$TMP/w/watch.out")"
fi
new_id=$(inspect_field ${P}w-app-1 '{{.Id}}')
new_image=$(inspect_field ${P}w-app-1 '{{.Image}}')
[ -n "$new_id" ] && [ "$new_id" != "$old_id" ] && ok || fail "rebuild recreated the container"
[ -n "$new_image" ] && [ "$new_image" != "$old_image" ] && ok || fail "rebuild built a new image"
kill -INT $WATCH_PID
wait_rc=0
for _ in $(seq 1 80); do kill -0 $WATCH_PID 2>/dev/null || break; sleep 0.25; done
if kill -0 $WATCH_PID 2>/dev/null; then
    fail "watch did not stop on SIGINT"
else
    wait $WATCH_PID
    wait_rc=$?
    WATCH_PID=
    [ $wait_rc -eq 130 ] && ok || fail "watch exit code $wait_rc after SIGINT, want 130"
fi
grep -q "Synced" "$TMP/w/watch.out" && ok || fail "watch reported its syncs"

finish
