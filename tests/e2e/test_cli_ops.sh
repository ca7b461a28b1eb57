#!/usr/bin/env bash
# End-to-end tests of the lifecycle commands on a real engine: up, ps, stop, start,
# restart, kill, pause, unpause, rm, top, port, images, down; global --progress/--ansi;
# usage errors (exit 2, naming the flag) and invalid files (exit 3, engine untouched).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"
require_engine
test_image || { echo "FAIL: cannot build $TEST_IMAGE"; exit 1; }
P=zpcliops
cleanup_project $P
trap 'cleanup_project $P; rm -rf "$TMP"' EXIT
cd "$TMP"
mkdir proj && cd proj
cat >compose.yaml <<YAML
name: $P
services:
  web:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; echo web-started; while true; do sleep 1 & wait; done"]
    ports: ["127.0.0.1:18091:80", "127.0.0.1:18092:53/udp"]
    depends_on: [db]
  db:
    image: $TEST_IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; echo db-ready; while true; do sleep 1 & wait; done"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      timeout: 1s
      retries: 3
YAML
Z=$ZPANEL
state() { inspect_field "$1" '{{.State.Status}}'; }

# --- usage errors: exit 2, the flag named, nothing touches the engine
for args in "up --bogus" "up --force-recreate --no-recreate" "up --build --no-build" \
    "up -d --abort-on-container-exit" "up --scale web" "up --scale web=x" "up --pull always" \
    "up --wait-timeout soon" "down --rmi some" "down -t x" "ps --format yaml" "stop -t x" \
    "restart --timeout -1" "kill -s" "rm --bogus" "logs --tail x" "logs --since yesterday" \
    "port web" "port --protocol icmp web 80" "port web 80/xyz" "port --index 0 web 80" \
    "images --format xml" "exec web" "exec -e NOEQUALS web true" "run" "run --rm -d web" \
    "top --bogus" "pause -x" "unpause --bogus" "start --bogus"; do
    # shellcheck disable=SC2086
    run "$Z" $args
    expect_rc 2 "usage error: $args"
    expect_err_has "usage: zpanel" "usage printed: $args"
done
run "$Z" up --bogus
expect_err_has "'--bogus'" "unknown flag named"
run "$Z" up --pull always
expect_err_has "--pull: 'always'" "bad value named with its flag"
run "$Z" --progress fancy ps
expect_rc 2 "bad --progress"
expect_err_has "--progress: 'fancy'" "--progress named"
run "$Z" --ansi sometimes ps
expect_rc 2 "bad --ansi"
expect_err_has "--ansi: 'sometimes'" "--ansi named"
run "$Z" ps nosuch
expect_rc 2 "unknown service"
expect_err_has "no such service 'nosuch'" "unknown service named"
run "$Z" up -d --scale nosuch=2
expect_rc 2 "unknown --scale service"
expect_err_has "--scale: no such service 'nosuch'" "--scale service named"
run docker ps -aq --filter label=io.zpanel.project=$P
expect_out_eq "" "usage errors touched nothing"

# --- invalid files: exit 3 before anything touches the engine (unreachable -H proves it)
mkdir ../bad && cat >../bad/compose.yaml <<YAML
name: ${P}bad
services:
  web:
    image: $TEST_IMAGE
    ports: ["80a"]
YAML
for cmd in "up -d" "down" "ps" "logs" "stop" "start" "rm -f" "images" "top" "exec web true" "run web true"; do
    # shellcheck disable=SC2086
    run "$Z" -H unix:///nonexistent/docker.sock -f ../bad/compose.yaml $cmd
    expect_rc 3 "invalid file: $cmd"
    expect_err_has "compose.yaml:5" "invalid file position: $cmd"
done
run docker ps -aq --filter label=io.zpanel.project=${P}bad
expect_out_eq "" "invalid file touched nothing"
# an unreachable engine is a runtime error
run "$Z" -H unix:///nonexistent/docker.sock ps
expect_rc 1 "unreachable engine"
expect_err_has "zpanel: " "engine error printed"

# --- up -d with plain progress
run "$Z" --progress plain up -d
expect_rc 0 "up -d"
expect_err_has "Container $P-db-1  Started" "plain progress line for db"
expect_err_has "Container $P-web-1  Started" "plain progress line for web"
expect_out_eq "" "up -d prints nothing on stdout"
check_running() {
    if [ "$(state "$1")" = "$2" ]; then ok; else fail "$3: $1 is $(state "$1"), want $2"; fi
}
check_running $P-web-1 running "up -d web"
check_running $P-db-1 running "up -d db"

# a second up changes nothing; json progress, one object per line
run "$Z" --progress json up -d
expect_rc 0 "up -d again"
if python3 -c '
import json,sys
lines=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines, "no lines"
for l in lines:
    assert set(["time","object","name","state","text"]) <= set(l), l
assert any(l["name"]=="'$P'-web-1" and l["object"]=="container" for l in lines)
' "$TMP/err"; then ok; else fail "json progress: $ERR"; fi
run "$Z" --progress quiet up -d
expect_rc 0 "up -d quiet"
expect_err_empty "quiet progress prints nothing"

# the live view on a terminal: one line per object, redrawn in place
if command -v script >/dev/null; then
    out=$(script -qec "$Z --progress tty --ansi never up -d" /dev/null </dev/null)
    grep -q "✔ Container $P-web-1  Running" <<<"$out" && ok || fail "tty progress line: $out"
    grep -q $'\033\[[0-9]*A' <<<"$out" && ok || fail "tty progress redraws in place: $out"
    grep -q "\[+\] Running 2/2" <<<"$out" && ok || fail "tty progress header: $out"
    out=$(script -qec "$Z up -d" /dev/null </dev/null)
    grep -q $'\033\[32m✔' <<<"$out" && ok || fail "auto progress on a terminal is the coloured view: $out"
else
    skip "no 'script' command (util-linux): the live progress view on a terminal (4 checks) was not tested"
fi

# --- ps: table, json, -q, --services, a service filter
for i in $(seq 1 20); do
    [ "$(inspect_field $P-db-1 '{{.State.Health.Status}}')" = healthy ] && break
    sleep 0.5
done
run "$Z" ps
expect_rc 0 "ps"
expect_out_has "NAME" "ps header NAME"
expect_out_has "SERVICE" "ps header SERVICE"
expect_out_has "STATUS" "ps header STATUS"
expect_out_has "PORTS" "ps header PORTS"
expect_out_has "127.0.0.1:18091->80/tcp" "ps port mapping"
expect_out_has "127.0.0.1:18092->53/udp" "ps udp port mapping"
expect_out_has "(healthy)" "ps health"
if grep -E "^$P-web-1 +$TEST_IMAGE +web +Up " <<<"$OUT" >/dev/null; then ok; else fail "ps row of web: $OUT"; fi
run "$Z" ps --format json
expect_rc 0 "ps json"
json_check 'sorted(c["Name"] for c in m) == ["'$P'-db-1", "'$P'-web-1"]' "ps json names"
json_check '[c["Service"] for c in m if c["Name"] == "'$P'-web-1"] == ["web"]' "ps json service"
json_check 'all(c["State"] == "running" for c in m)' "ps json state"
json_check '[c["Health"] for c in m if c["Service"] == "db"] == ["healthy"]' "ps json health"
json_check 'any(p["URL"] == "127.0.0.1" and p["PublishedPort"] == 18091 and p["TargetPort"] == 80 and p["Protocol"] == "tcp" for c in m for p in c["Publishers"])' "ps json publishers"
run "$Z" ps -q
expect_out_has "$(docker inspect -f '{{.Id}}' $P-web-1)" "ps -q id of web"
[ "$(wc -l <<<"$OUT")" -eq 2 ] && ok || fail "ps -q lines: $OUT"
run "$Z" ps --services
expect_out_eq "$(printf 'db\nweb')" "ps --services"
run "$Z" ps --format json web
json_check '[c["Name"] for c in m] == ["'$P'-web-1"]' "ps SERVICE filter"

# --- port
run "$Z" port web 80
expect_rc 0 "port"
expect_out_eq "127.0.0.1:18091" "port web 80"
run "$Z" port --protocol udp web 53
expect_out_eq "127.0.0.1:18092" "port --protocol udp"
run "$Z" port web 53/udp
expect_out_eq "127.0.0.1:18092" "port 53/udp"
run "$Z" port web 81
expect_rc 1 "unpublished port"
expect_err_has "81/tcp is not published" "unpublished port message"
run "$Z" port --index 2 web 80
expect_rc 1 "no such index"

# --- images
run "$Z" images
expect_rc 0 "images"
expect_out_has "CONTAINER" "images header"
id=$(docker image inspect -f '{{.Id}}' "$TEST_IMAGE" | cut -d: -f2 | cut -c1-12)
if grep -E "^$P-web-1 +zpanel-test/busybox +1 +$id +[0-9.]+[kMG]?B$" <<<"$OUT" >/dev/null; then ok; else fail "images row: $OUT"; fi
run "$Z" images -q
expect_out_eq "$id$(docker image inspect -f '{{.Id}}' "$TEST_IMAGE" | cut -d: -f2 | cut -c13-)" "images -q"
run "$Z" images --format json
json_check 'sorted(c["ContainerName"] for c in m) == ["'$P'-db-1", "'$P'-web-1"] and all(c["Repository"] == "zpanel-test/busybox" and c["Tag"] == "1" and c["Size"] > 0 for c in m)' "images json"

# --- top
run "$Z" top web
expect_rc 0 "top"
expect_out_has "$P-web-1" "top names the container"
expect_out_has "PID" "top titles"
expect_out_has "sleep" "top lists the processes"

# --- stop / start / restart
run "$Z" stop -t 5 web
expect_rc 0 "stop web"
check_running $P-web-1 exited "stop web"
check_running $P-db-1 running "stop web leaves db"
run "$Z" ps
if grep -q "$P-web-1" <<<"$OUT"; then fail "ps without -a lists a stopped container"; else ok; fi
run "$Z" ps -a --format json
json_check '[c["State"] for c in m if c["Service"] == "web"] == ["exited"]' "ps -a shows the stopped container"
run "$Z" ps -a
expect_out_has "Exited (0)" "ps status of a stopped container"
run "$Z" start web
expect_rc 0 "start web"
check_running $P-web-1 running "start web"
before=$(inspect_field $P-db-1 '{{.State.StartedAt}}')
run "$Z" restart -t 3 db
expect_rc 0 "restart db"
after=$(inspect_field $P-db-1 '{{.State.StartedAt}}')
[ "$before" != "$after" ] && ok || fail "restart did not restart db"
check_running $P-db-1 running "restart db"

# --- pause / unpause
run "$Z" pause web
expect_rc 0 "pause"
check_running $P-web-1 paused "pause web"
run "$Z" ps
expect_out_has "(Paused)" "ps shows paused"
run "$Z" unpause web
expect_rc 0 "unpause"
check_running $P-web-1 running "unpause web"

# --- kill
run "$Z" kill -s SIGTERM web
expect_rc 0 "kill -s SIGTERM"
for i in $(seq 1 20); do [ "$(state $P-web-1)" = exited ] && break; sleep 0.25; done
check_running $P-web-1 exited "kill -s SIGTERM"
[ "$(inspect_field $P-web-1 '{{.State.ExitCode}}')" = 0 ] && ok || fail "SIGTERM trap exit code"
run "$Z" start web
run "$Z" kill
expect_rc 0 "kill"
for i in $(seq 1 20); do [ "$(state $P-db-1)" = exited ] && break; sleep 0.25; done
check_running $P-web-1 exited "kill all: web"
check_running $P-db-1 exited "kill all: db"
[ "$(inspect_field $P-db-1 '{{.State.ExitCode}}')" = 137 ] && ok || fail "SIGKILL exit code"

# --- rm (stopped ones), rm -s -f
run "$Z" rm web
expect_rc 0 "rm web"
if docker inspect $P-web-1 >/dev/null 2>&1; then fail "rm left web"; else ok; fi
check_running $P-db-1 exited "rm web left db"
run "$Z" up -d
expect_rc 0 "up -d again after rm"
check_running $P-web-1 running "up recreated web"
run "$Z" rm -s -f -v db
expect_rc 0 "rm -s -f"
if docker inspect $P-db-1 >/dev/null 2>&1; then fail "rm -s -f left db"; else ok; fi

# --- up --scale, --no-start, --force-recreate
# (db: web publishes a fixed host port, so only one of it can run)
run "$Z" up -d --scale db=2 db
expect_rc 0 "up --scale db=2"
check_running $P-db-2 running "scaled db-2"
run "$Z" ps --format json db
json_check 'sorted(c["Number"] for c in m) == [1, 2]' "scale numbers"
old=$(inspect_field $P-web-1 '{{.Id}}')
run "$Z" up -d --force-recreate --no-deps web
expect_rc 0 "up --force-recreate"
[ "$(inspect_field $P-web-1 '{{.Id}}')" != "$old" ] && ok || fail "--force-recreate kept the container"
run "$Z" down
expect_rc 0 "down before --no-start"
run "$Z" up --no-start
expect_rc 0 "up --no-start"
check_running $P-web-1 created "--no-start web"
run "$Z" up -d --wait --wait-timeout 30
expect_rc 0 "up --wait"
check_running $P-db-1 running "--wait db"
[ "$(inspect_field $P-db-1 '{{.State.Health.Status}}')" = healthy ] && ok || fail "--wait returned before db was healthy"

# --- down: containers and network gone
run "$Z" down -t 2
expect_rc 0 "down"
run docker ps -aq --filter label=io.zpanel.project=$P
expect_out_eq "" "down removed the containers"
run docker network ls -q --filter label=io.zpanel.project=$P
expect_out_eq "" "down removed the network"
run "$Z" down
expect_rc 0 "down on nothing"

finish
