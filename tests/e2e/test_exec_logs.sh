#!/usr/bin/env bash
# End-to-end tests of the streaming commands on a real engine: logs (prefixes, --tail,
# --no-log-prefix, -t, --since, -f), exec (exit codes, -e, -w, -u, -d, -T, --index), run
# (exit codes, --rm, -d, --name, --entrypoint, -e), and an attached `up` (output,
# --abort-on-container-exit, Ctrl-C stops the project).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"
require_engine
test_image || { echo "FAIL: cannot build $TEST_IMAGE"; exit 1; }
P=zpcliexec
cleanup_project $P
trap 'cleanup_project $P; cleanup_project ${P}att; cleanup_project ${P}run; rm -rf "$TMP"' EXIT
cd "$TMP"
mkdir proj && cd proj
cat >compose.yaml <<YAML
name: $P
services:
  app:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; echo app-err >&2; for i in 1 2 3 4 5; do echo app-line-\$\$i; done; while true; do sleep 1 & wait; done"]
    environment:
      FROM_FILE: yes
  worker:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; for i in 1 2 3; do echo worker-line-\$\$i; done; while true; do sleep 1 & wait; done"]
YAML
Z=$ZPANEL
run "$Z" --progress quiet up -d
expect_rc 0 "up -d"
# wait until both have printed their first lines
for i in $(seq 1 40); do
    docker logs $P-app-1 2>&1 | grep -q app-line-5 && docker logs $P-worker-1 2>&1 | grep -q worker-line-3 && break
    sleep 0.25
done

# --- logs
run "$Z" logs
expect_rc 0 "logs"
# the prefix is the name padded to the longest name plus one, then " | "
w=$(( ${#P} + 10 )) # len("$P-worker-1") + 1
pre_app=$(printf '%-*s | ' "$w" "$P-app-1")
pre_worker=$(printf '%-*s | ' "$w" "$P-worker-1")
expect_out_has "${pre_app}app-line-1" "app prefix padded"
expect_out_has "${pre_app}app-line-5" "app last line"
expect_out_has "${pre_app}app-err" "stderr lines too"
expect_out_has "${pre_worker}worker-line-1" "worker prefix"
if grep -q $'\033' <<<"$OUT"; then fail "colours when stdout is not a terminal"; else ok; fi
run "$Z" --ansi always logs app
expect_out_has $'\033[' "--ansi always colours the prefixes"
run "$Z" logs app
if grep -q worker <<<"$OUT"; then fail "logs SERVICE shows other services"; else ok; fi
[ "$(grep -c app-line <<<"$OUT")" -eq 5 ] && ok || fail "logs app: $OUT"
run "$Z" logs --tail 2 worker
expect_rc 0 "logs --tail"
pre=$(printf '%-*s | ' $((${#P} + 10)) "$P-worker-1")
expect_out_eq "$(printf '%sworker-line-2\n%sworker-line-3' "$pre" "$pre")" "logs --tail 2"
run "$Z" logs --tail 0 app
expect_out_eq "" "logs --tail 0"
run "$Z" logs --no-log-prefix app
expect_out_has $'app-line-1\napp-line-2' "--no-log-prefix"
if grep -q '|' <<<"$OUT"; then fail "--no-log-prefix printed a prefix"; else ok; fi
run "$Z" logs -t --no-log-prefix worker
if grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z worker-line-3$' <<<"$OUT"; then ok; else fail "logs -t: $OUT"; fi
run "$Z" logs --since 1h --no-log-prefix worker
expect_out_eq "$(printf 'worker-line-1\nworker-line-2\nworker-line-3')" "--since 1h"
run "$Z" logs --since 2099-01-01T00:00:00Z worker
expect_out_eq "" "--since in the future"
run "$Z" logs --until 2000-01-01T00:00:00+01:00 worker
expect_out_eq "" "--until in the past"
# -f follows new lines until Ctrl-C
"$Z" logs -f --no-log-prefix worker >"$TMP/follow" 2>&1 &
fpid=$!
sleep 1
docker exec $P-worker-1 sh -c 'echo followed-line >/proc/1/fd/1'
for i in $(seq 1 20); do grep -q followed-line "$TMP/follow" && break; sleep 0.25; done
grep -q followed-line "$TMP/follow" && ok || fail "logs -f did not follow: $(cat "$TMP/follow")"
kill -INT $fpid
frc=0
for i in $(seq 1 20); do kill -0 $fpid 2>/dev/null || break; sleep 0.25; done
if kill -0 $fpid 2>/dev/null; then fail "logs -f ignored Ctrl-C"; kill -9 $fpid; else ok; fi
wait $fpid; frc=$?
[ $frc -eq 130 ] && ok || fail "logs -f after Ctrl-C: exit $frc, want 130"

# --- exec
run "$Z" exec -T app sh -c 'exit 7' </dev/null
expect_rc 7 "exec exit code"
run "$Z" exec -T app echo hello </dev/null
expect_rc 0 "exec echo"
expect_out_eq "hello" "exec output"
run "$Z" exec -T app sh -c 'echo out; echo err >&2' </dev/null
expect_out_eq "out" "exec stdout"
expect_err_has "err" "exec stderr on stderr"
run "$Z" exec -T -e GREETING=hi -e OTHER=x app sh -c 'echo $GREETING-$OTHER-$FROM_FILE' </dev/null
expect_out_eq "hi-x-yes" "exec -e (and the service environment)"
run "$Z" exec -T -w /bin app pwd </dev/null
expect_out_eq "/bin" "exec -w"
run "$Z" exec -T -u 1234:5678 app id </dev/null
expect_out_has "uid=1234" "exec -u uid"
expect_out_has "gid=5678" "exec -u gid"
run "$Z" exec -T app sh -c 'read x; echo got-$x' <<<"piped"
expect_out_eq "got-piped" "exec reads stdin"
run "$Z" exec -d app sh -c 'echo detached >/detached-marker'
expect_rc 0 "exec -d"
for i in $(seq 1 20); do docker exec $P-app-1 cat /detached-marker >/dev/null 2>&1 && break; sleep 0.25; done
[ "$(docker exec $P-app-1 cat /detached-marker 2>/dev/null)" = detached ] && ok || fail "exec -d did not run"
run "$Z" exec -T app nosuchcommand </dev/null
if [ "$RC" -ne 0 ]; then ok; else fail "exec of a missing command succeeded"; fi
run "$Z" exec -T --index 2 app true </dev/null
expect_rc 1 "exec --index 2 of a single container"
expect_err_has "not running" "exec names the problem"
run "$Z" exec -T nosuch true </dev/null
expect_rc 2 "exec unknown service"

# a terminal on stdin: exec and run get a TTY of the terminal's size, and the exit code
if command -v script >/dev/null; then
    out=$(sleep 3 | script -qec "stty cols 91 rows 27; $Z exec app sh -c 'tty; sleep 1; stty size; exit 6'" /dev/null)
    src=$?
    [ $src -eq 6 ] && ok || fail "exec with a TTY: exit $src, want 6 ($out)"
    grep -q '/dev/pts/' <<<"$out" && ok || fail "exec with a TTY has no TTY: $out"
    grep -q '27 91' <<<"$out" && ok || fail "exec TTY size: $out"
    out=$(sleep 3 | script -qec "stty cols 93 rows 25; $Z --progress quiet run --rm app sh -c 'tty; sleep 1; stty size; exit 5'" /dev/null)
    src=$?
    [ $src -eq 5 ] && ok || fail "run with a TTY: exit $src, want 5 ($out)"
    grep -q '/dev/pts/' <<<"$out" && ok || fail "run with a TTY has no TTY: $out"
    grep -q '25 93' <<<"$out" && ok || fail "run TTY size: $out"
else
    skip "no 'script' command (util-linux): exec and run on a terminal (6 checks) were not tested"
fi

# --- run
before=$(docker ps -aq --filter label=io.zpanel.project=$P | sort)
run "$Z" --progress quiet run --rm -T app sh -c 'echo run-out; exit 3' </dev/null
expect_rc 3 "run exit code"
expect_out_eq "run-out" "run output"
after=$(docker ps -aq --filter label=io.zpanel.project=$P | sort)
[ "$before" = "$after" ] && ok || fail "run --rm left a container"
run "$Z" --progress quiet run --rm -T -e RUNVAR=v -w /etc -u 42 app sh -c 'echo $RUNVAR $(pwd) $(id -u) $FROM_FILE' </dev/null
expect_rc 0 "run with -e -w -u"
expect_out_eq "v /etc 42 yes" "run -e -w -u and the service environment"
# piped input reaches the one-off command, and its exit code comes back
run sh -c "printf 'one two\\n' | $Z --progress quiet run --rm -T app sh -c 'read a b; echo got \$b; exit 6'"
expect_rc 6 "run with piped stdin: exit code"
expect_out_eq "got two" "run with piped stdin: the input reaches the command"
run "$Z" --progress quiet run --rm -T --entrypoint echo app entry-args </dev/null
expect_out_eq "entry-args" "run --entrypoint"
run "$Z" --progress quiet run -T --name $P-named app true </dev/null
expect_rc 0 "run --name without --rm"
[ "$(inspect_field $P-named '{{.State.Status}}')" = exited ] && ok || fail "run without --rm keeps the container"
[ "$(inspect_field $P-named '{{index .Config.Labels "io.zpanel.oneoff"}}')" = true ] && ok || fail "run container is labelled one-off"
docker rm -f $P-named >/dev/null 2>&1
run "$Z" --progress quiet run -d app sleep 30
expect_rc 0 "run -d"
name=$OUT
[ "$(inspect_field "$name" '{{.State.Status}}')" = running ] && ok || fail "run -d: '$name' not running"
docker rm -f "$name" >/dev/null 2>&1
run "$Z" run nosuch true
expect_rc 2 "run unknown service"
run "$Z" ps -a --format json
json_check 'not any(c["OneOff"] for c in m)' "no one-off containers left"

run "$Z" --progress quiet down -t 2
expect_rc 0 "down"

# --- attached up: output prefixed, --abort-on-container-exit returns the exit code
mkdir ../att && cd ../att
cat >compose.yaml <<YAML
name: ${P}att
services:
  long:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; echo long-started; while true; do sleep 1 & wait; done"]
  short:
    image: $TEST_IMAGE
    command: ["sh", "-c", "sleep 1; echo short-done; exit 4"]
  stubborn:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo stubborn-up; while true; do sleep 1; done"]
    profiles: [stubborn]
YAML
cleanup_project ${P}att

# run on a project that was never up: its network is created first
R=$TMP/runonly
mkdir -p "$R"
printf 'services:\n  solo:\n    image: %s\n' "$TEST_IMAGE" >"$R/compose.yaml"
run "$ZPANEL" -p ${P}run -f "$R/compose.yaml" --progress quiet run --rm -T solo echo first-run </dev/null
expect_rc 0 "run before any up"
expect_out_eq "first-run" "run before any up: output"
docker network inspect ${P}run_default >/dev/null 2>&1 && ok || fail "run did not create the project network"
"$ZPANEL" -p ${P}run -f "$R/compose.yaml" down >/dev/null 2>&1
run timeout 60 "$Z" --progress plain up --abort-on-container-exit -t 2
expect_rc 4 "up --abort-on-container-exit exit code"
expect_out_has "${P}att-short-1  | short-done" "attached output prefixed"
expect_out_has "${P}att-long-1   | long-started" "attached output of the other service"
expect_err_has "Aborting on container exit" "abort note"
[ "$(inspect_field ${P}att-long-1 '{{.State.Status}}')" = exited ] && ok || fail "abort did not stop long"

# Ctrl-C stops the project gracefully
timeout 60 "$Z" --progress plain up long >"$TMP/up.out" 2>"$TMP/up.err" &
upid=$!
for i in $(seq 1 40); do grep -q long-started "$TMP/up.out" && break; sleep 0.25; done
grep -q long-started "$TMP/up.out" && ok || fail "attached up shows output: $(cat "$TMP/up.out" "$TMP/up.err")"
kill -INT $upid
wait $upid; urc=$?
[ $urc -eq 130 ] && ok || fail "up after Ctrl-C: exit $urc, want 130"
grep -q "Gracefully stopping" "$TMP/up.err" && ok || fail "no 'Gracefully stopping': $(cat "$TMP/up.err")"
[ "$(inspect_field ${P}att-long-1 '{{.State.Status}}')" = exited ] && ok || fail "Ctrl-C did not stop long"

# a second Ctrl-C kills what ignores SIGTERM (a shell as PID 1) instead of waiting 10 s
# (not under timeout(1): it would take the signals itself)
"$Z" --progress plain up stubborn >"$TMP/up.out" 2>"$TMP/up.err" &
upid=$!
for i in $(seq 1 40); do grep -q stubborn-up "$TMP/up.out" && break; sleep 0.25; done
kill -INT $upid
for i in $(seq 1 20); do grep -q "Stopping" "$TMP/up.err" && break; sleep 0.25; done
start=$SECONDS
kill -INT $upid
for i in $(seq 1 60); do kill -0 $upid 2>/dev/null || break; sleep 0.25; done
kill -9 $upid 2>/dev/null
wait $upid; urc=$?
[ $urc -eq 130 ] && ok || fail "up after two Ctrl-C: exit $urc, want 130"
[ $((SECONDS - start)) -lt 5 ] && ok || fail "the second Ctrl-C did not kill at once"
[ "$(inspect_field ${P}att-stubborn-1 '{{.State.ExitCode}}')" = 137 ] && ok || fail "stubborn was not killed"
"$Z" --progress quiet down -t 1 >/dev/null 2>&1

finish
