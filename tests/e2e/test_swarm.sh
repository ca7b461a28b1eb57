#!/usr/bin/env bash
# End-to-end: `zpanel up` on a single-node Docker Swarm (x-zpanel.swarm). The engine is
# made a swarm (`docker swarm init --advertise-addr 127.0.0.1`) when it is not one, and
# left again at the end whatever happens, so the engine is left as the test found it; a
# swarm that already exists is used as is. Checks: replicas 2 with overlay network,
# config and secret, warnings naming what Swarm cannot do, a no-op second up, scaling to
# 3 without restarting tasks, a config change rolling the service, a failing update
# (bad health check) rolled back by Swarm and reported as a failure, ps/status on tasks,
# down removing everything. Also: logs (the services logs endpoint) and health of a Swarm
# project; a routed service (x-zpanel routes) served through zpanel's proxy, whose
# start-first `zpanel update` under wrk loses no request (the proxy follows the tasks).
# Release records: up/update record the model applied (--scale folded in), a failed up is
# recorded FAILED, `zpanel rollback 1` converges the services to release 1 exactly
# (replicas, config, environment) without reading the files. Multi-node, when the test
# makes the swarm: a second dockerd in a network namespace made here (own data-root,
# exec-root, socket; a veth pair to the host, the swarm advertised on its host end) joins
# as a worker; a built service constrained to node.role==worker is pushed to the local
# registry and pulled by the worker (the registry relayed into the namespace by socat, so
# that 127.0.0.1:PORT is the registry there too); the same service without
# x-zpanel.registry is refused on the two-node swarm. `zpanel serve` follows the tasks:
# both tasks of the routed service killed with `docker kill`, Swarm replaces them and the
# route serves again without any zpanel command. Uses the proxy: run under
# `flock /tmp/zp-proxy.lock` (ctest's RESOURCE_LOCK zpanel-proxy).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"
source "$(dirname "$0")/lib-webver.sh"
source "$(dirname "$0")/lib-proxy.sh"
require_engine
for tool in wrk curl docker-registry socat ip nsenter dockerd; do
    command -v $tool >/dev/null || {
        fail "$tool is not installed"
        finish
        exit
    }
done

P=swarm-e2e-$$
export ZPANEL_STATE_DIR=$TMP/state
DIR=$TMP/proj
mkdir -p "$DIR"
created_swarm=0

WRK_PID=
stop_wrk() { [ -n "$WRK_PID" ] && kill -INT "$WRK_PID" 2>/dev/null && wait "$WRK_PID" 2>/dev/null; WRK_PID=; }
REG_PID=
SERVE_PID=
# the second node: a dockerd in network namespace $NS, joined as a worker
NS=zpsw-$$
WDIR=/tmp/zpsw-$$ # short: containerd's socket paths live under it
VETH_HOST=10.231.77.1
WD="docker -H unix://$WDIR/docker.sock"
WORKER_PID=
RELAY_PIDS=
worker_stop() {
    if [ -n "$WORKER_PID" ]; then
        local id
        id=$($WD info --format '{{.Swarm.NodeID}}' 2>/dev/null)
        kill "$WORKER_PID" 2>/dev/null
        for _ in $(seq 40); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$WORKER_PID" 2>/dev/null
        [ -n "$id" ] && docker node rm --force "$id" >/dev/null 2>&1
        WORKER_PID=
    fi
    for pid in $RELAY_PIDS; do kill "$pid" 2>/dev/null; done
    RELAY_PIDS=
    grep " $WDIR/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null
    rm -rf "$WDIR"
    for d in /sys/fs/cgroup/*/zpsw-$$; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
    ip link del "zpsw$$h" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
}
cleanup() {
    stop_wrk
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    docker service ls -q --filter "label=io.zpanel.project=$P-mn" | xargs -r docker service rm >/dev/null 2>&1
    worker_stop
    (cd "$DIR" && "$ZPANEL" --progress quiet down >/dev/null 2>&1)
    docker service ls -q --filter "label=io.zpanel.project=$P" | xargs -r docker service rm >/dev/null 2>&1
    docker config ls -q --filter "label=io.zpanel.project=$P" | xargs -r docker config rm >/dev/null 2>&1
    docker secret ls -q --filter "label=io.zpanel.project=$P" | xargs -r docker secret rm >/dev/null 2>&1
    if [ "$created_swarm" = 1 ]; then
        docker swarm leave --force >/dev/null 2>&1
    fi
    cleanup_routed "$P"
    timeout 60 "$ZPANEL" proxy down >/dev/null 2>&1
    [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
    docker image ls -q --filter "reference=127.0.0.1:$REG_PORT/*" --filter "reference=$P-built" --filter "reference=$P-mn-app" |
        sort -u | xargs -r docker rmi -f >/dev/null 2>&1
    # the keep tags of the releases (tags only: they may name the shared test image)
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^zpanel-release/$P-" |
        xargs -r docker rmi >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT

test_image || skip_test "cannot build $TEST_IMAGE"
webver_image 1 || fail "building the webver image"
proxy_image || fail "building $PROXY_IMAGE"
HTTP_PORT=$(free_port)
# a local registry (Debian's docker-registry) for the built image; the engine trusts
# 127.0.0.0/8 registries over plain HTTP
REG_PORT=$(free_port)
cat >"$TMP/registry.yml" <<EOF
version: 0.1
storage:
  filesystem: {rootdirectory: $TMP/registry}
http: {addr: 127.0.0.1:$REG_PORT}
EOF
docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
REG_PID=$!

cd "$DIR" || exit 1
mkdir -p built
printf 'built\n' >built/marker
printf 'FROM %s\nCOPY marker /marker\n' "$TEST_IMAGE" >built/Dockerfile
printf 'config v1\n' >app.conf
printf 's3cret\n' >pw.txt
# write_compose HEALTH_TEST: the project, with web's health check command
write_compose() {
    cat >compose.yaml <<EOF
name: $P
x-zpanel:
  swarm: true
  registry: 127.0.0.1:$REG_PORT
services:
  built:
    build: ./built
    command: ["sleep", "3600"]
    stop_grace_period: 1s
  web:
    image: $TEST_IMAGE
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    depends_on: [worker]
    healthcheck:
      test: ["CMD", "$1"]
      interval: 1s
      timeout: 5s
      retries: 3
    deploy:
      replicas: 2
      labels: {tier: front}
      resources:
        limits: {cpus: "0.5", memory: 64M}
      restart_policy: {condition: on-failure, delay: 1s}
      update_config: {parallelism: 0, delay: 0s, failure_action: rollback, monitor: 1s, order: start-first}
      rollback_config: {parallelism: 0, monitor: 1s, order: stop-first}
    configs:
      - source: app
        target: /etc/app.conf
    secrets: [pw]
  worker:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo swarm-log-line; exec sleep 3600"]
    stop_grace_period: 1s
    container_name: not-on-swarm
    deploy: {mode: global}
  api:
    image: $WEBVER_IMAGE
    environment:
      VERSION: \${API_VERSION:-v1}
    stop_grace_period: 5s
    healthcheck:
      test: ["CMD", "/webver", "-probe", "/up"]
      interval: 500ms
      timeout: 5s
      retries: 10
    deploy:
      replicas: 2
      update_config: {parallelism: 0, delay: 0s, monitor: 1s, order: start-first}
      rollback_config: {parallelism: 0, delay: 0s, monitor: 1s, order: start-first}
    x-zpanel:
      routes:
        - host: api.$P.localhost
          port: 8080
      tls: "off"
configs:
  app: {file: ./app.conf}
secrets:
  pw: {file: ./pw.txt}
EOF
}
# step NAME: say where the time goes
step() { echo "# ${SECONDS}s: $*"; }

state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
case "$state" in
inactive)
    # outside a swarm, up is refused before anything changes, with what to do
    write_compose true
    run "$ZPANEL" --progress plain up -d
    expect_rc 1 "up outside a swarm"
    expect_err_has "is not a Swarm manager (Swarm state: inactive): run \`zpanel swarm init\`" "the refusal says what to do"
    [ -z "$(docker network ls -q --filter "label=io.zpanel.project=$P")" ] && ok || fail "a refused up created networks"
    # a veth pair to the second node's namespace: the swarm is advertised on its host end,
    # which the worker reaches (127.0.0.1 would be its own loopback)
    step "netns, swarm init"
    ADDR=127.0.0.1
    if ip netns add "$NS" && ip link add "zpsw$$h" type veth peer name "zpsw$$n" &&
        ip link set "zpsw$$n" netns "$NS" && ip addr add "$VETH_HOST/30" dev "zpsw$$h" &&
        ip link set "zpsw$$h" up && ip netns exec "$NS" ip addr add 10.231.77.2/30 dev "zpsw$$n" &&
        ip netns exec "$NS" ip link set "zpsw$$n" up && ip netns exec "$NS" ip link set lo up; then
        ADDR=$VETH_HOST
    else
        fail "cannot make the second node's network namespace and veth pair"
    fi
    if docker swarm init --advertise-addr "$ADDR" --listen-addr "$ADDR:2377" >/dev/null 2>"$TMP/init.err"; then
        created_swarm=1
    else
        fail "docker swarm init: $(cat "$TMP/init.err")"
        finish
        exit $?
    fi
    ;;
active) ;; # a swarm already: used, not left
*)
    fail "the engine's Swarm state is '$state': neither inactive nor active"
    finish
    exit $?
    ;;
esac
step "proxy up"
run timeout 120 "$ZPANEL" proxy up --image "$PROXY_IMAGE" --http-port "$HTTP_PORT" --https-port 0 --bind 127.0.0.1
expect_rc 0 "proxy up"
write_compose true
run "$ZPANEL" --progress plain up --no-start
expect_rc 2 "up --no-start on a Swarm project"
expect_err_has "--no-start: not supported for a Swarm deploy" "container-only flags are refused"

# running_tasks SERVICE: IDs of the service's running tasks, sorted
running_tasks() {
    docker service ps -q --filter desired-state=running "${P}_$1" 2>/dev/null | sort
}
# a running (healthy: not one of a failing update) task container of web
web_container() {
    docker ps -q --filter "label=com.docker.swarm.service.name=${P}_web" --filter health=healthy | head -1
}

# ---- the swarm helpers ----
step "swarm nodes"
run "$ZPANEL" swarm nodes --format json
expect_rc 0 "swarm nodes"
json_check 'len(m) >= 1 and any(n["Role"] == "manager" for n in m)' "swarm nodes lists a manager"

# ---- first up: replicas 2, overlay network, config and secret ----
step "first up"
run "$ZPANEL" --progress plain up -d
expect_rc 0 "up on the swarm"
expect_err_has "services.web.depends_on: Swarm starts services in no particular order" "depends_on warned about"
expect_err_has "services.worker.container_name" "container_name warned about"
[ "$(running_tasks web | wc -l)" -eq 2 ] && ok || fail "web runs $(running_tasks web | wc -l) tasks, want 2"
[ "$(running_tasks worker | wc -l)" -eq 1 ] && ok || fail "worker (global) does not run one task"
[ "$(docker service inspect -f '{{index .Spec.Labels "io.zpanel.project"}} {{index .Spec.Labels "tier"}}' "${P}_web")" = "$P front" ] &&
    ok || fail "web lacks the project label or deploy.labels"
[ "$(docker network inspect -f '{{.Driver}} {{.Attachable}}' "${P}_default" 2>/dev/null)" = "overlay true" ] &&
    ok || fail "the default network is not an attachable overlay"
[ "$(docker service inspect -f '{{.Spec.TaskTemplate.Resources.Limits.NanoCPUs}} {{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}' "${P}_web")" = "500000000 start-first rollback" ] &&
    ok || fail "deploy.resources / update_config not in the service's spec"
c=$(web_container)
[ "$(docker exec "$c" cat /etc/app.conf 2>/dev/null)" = "config v1" ] && ok || fail "the config is not in the task"
[ "$(docker exec "$c" cat /run/secrets/pw 2>/dev/null)" = "s3cret" ] && ok || fail "the secret is not in the task"
config1=$(docker config ls -q --filter "label=io.zpanel.project=$P" | wc -l)
[ "$config1" -eq 1 ] && ok || fail "$config1 configs for the project, want 1"

# the built image was pushed to x-zpanel.registry, tagged with its ID, and runs from there
img=$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${P}_built")
[[ "$img" =~ ^127\.0\.0\.1:$REG_PORT/$P-built:[0-9a-f]{12}$ ]] && ok || fail "the built service runs '$img', not the pushed image"
curl -s "http://127.0.0.1:$REG_PORT/v2/$P-built/tags/list" | grep -q "\"${img##*:}\"" && ok ||
    fail "the registry lacks the pushed tag: $(curl -s "http://127.0.0.1:$REG_PORT/v2/$P-built/tags/list")"
expect_err_has "Pushed" "the push is reported"
# the up was recorded as release 1: the model applied (x-zpanel.swarm set), the built image kept
run "$ZPANEL" releases --format json
expect_rc 0 "releases of a Swarm project"
json_check 'len(m) == 1 and m[0]["id"] == 1 and m[0]["kind"] == "up" and m[0]["status"] == "deployed" and any(s["service"] == "built" and s["keep_tag"] == "zpanel-release/'$P'-built:1" for s in m[0]["services"])' "the first up is release 1, its built image kept"
run "$ZPANEL" ps --format json
expect_rc 0 "ps on a swarm project"
json_check 'sorted(t["Name"] for t in m if t["Service"] == "web") == ["'$P'_web.1", "'$P'_web.2"] and all(t["State"] == "running" for t in m)' "ps lists the tasks"

# ---- logs and health ----
step "logs, health"
run "$ZPANEL" logs --tail 5 --no-color worker
expect_rc 0 "logs of a Swarm service"
expect_out_has "swarm-log-line" "logs come from the services logs endpoint"
run "$ZPANEL" logs --until 1m worker
expect_rc 1 "logs --until on a Swarm project"
expect_err_has "--until: not supported for the logs of a Swarm service" "--until refused with the reason"
run "$ZPANEL" health
expect_rc 0 "health of the Swarm project"
expect_out_has "all 4 services healthy" "health counts the services"

# ---- routes: the proxy follows the tasks; start-first update and rollback lose nothing ----
step "routes"
get_api() { curl -s -m 5 -H "Host: api.$P.localhost" "http://127.0.0.1:$HTTP_PORT/"; }
[ "$(get_api)" = "v1" ] && ok || fail "the proxy does not route to the Swarm service: '$(get_api)' ($(docker ps -a --filter name=zpanel- --format '{{.Names}} {{.Status}}' | tr '\n' ' '))"
run "$ZPANEL" proxy routes
expect_out_has "api.$P.localhost" "proxy routes lists the Swarm service's host"
# wrk_phase NAME CMD...: CMD under continuous load through the proxy; no error, no non-200
wrk_phase() {
    local name=$1 w=$TMP/wrk-$1
    shift
    wrk -t2 -c8 -d300s -s "$ZP_SOURCE_DIR/tests/e2e/wrk-count.lua" -H "Host: api.$P.localhost" \
        "http://127.0.0.1:$HTTP_PORT/" >"$w" 2>&1 &
    WRK_PID=$!
    sleep 0.5
    run "$@"
    stop_wrk
    if grep -q '^errors ' "$w"; then
        grep -q "^errors connect=0 read=0 write=0 timeout=0 status=0" "$w" && ok ||
            fail "$name under wrk: $(grep '^errors ' "$w")"
        [ "$(awk '$1 == "status" && $2 != "200"' "$w")" = "" ] && ok || fail "$name: non-200 answers: $(grep '^status' "$w" | tr '\n' ' ')"
        echo "# $name: $(grep -E '^(status|body|requests)' "$w" | tr '\n' ' ')"
    else
        fail "$name: wrk printed no counts: $(cat "$w")"
    fi
}
# ---- zpanel serve follows the tasks: Swarm replaces killed tasks, routed again ----
step "serve follows tasks"
SERVE_PORT=$(free_port)
"$ZPANEL" serve --listen "127.0.0.1:$SERVE_PORT" --state-dir "$ZPANEL_STATE_DIR" --workers 1 >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SERVE_PORT/" && break; sleep 0.2; done
# task_addrs: the running api tasks' addresses on every network, sorted
task_addrs() {
    for t in $(running_tasks api); do
        docker inspect -f '{{range .NetworksAttachments}}{{range .Addresses}}{{println .}}{{end}}{{end}}' "$t"
    done | grep . | sort
}
old_tasks=$(running_tasks api)
old_addrs=$(task_addrs)
docker ps -q --filter "label=com.docker.swarm.service.name=${P}_api" | xargs -r docker kill >/dev/null
served=
for _ in $(seq 60); do
    [ "$(get_api)" = "v1" ] && [ -z "$(comm -12 <(echo "$old_tasks") <(running_tasks api))" ] && { served=1; break; }
    sleep 0.5
done
[ -n "$served" ] && ok || fail "after both api tasks were killed the proxy serves '$(get_api)' (no zpanel command ran; serve log: $(tail -3 "$TMP/serve.log"))"
# the replacements have new addresses: only a resync routes them
[ -z "$(comm -12 <(echo "$old_addrs") <(task_addrs))" ] && ok || fail "the replacement tasks reuse addresses ($(task_addrs | tr '\n' ' ')): the check proves nothing"
kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
SERVE_PID=

# ---- a second up changes nothing ----
step "no-op up"
v1=$(docker service inspect -f '{{.Version.Index}}' "${P}_web")
run "$ZPANEL" --progress plain up -d
expect_rc 0 "second up"
if grep -qE "Updating|Creating" <<<"$ERR"; then fail "a no-op up changed something: $ERR"; else ok; fi
[ "$(docker service inspect -f '{{.Version.Index}}' "${P}_web")" = "$v1" ] && ok || fail "a no-op up updated the service"

# the same project without x-zpanel.swarm would run twice: refused
grep -v -e '^x-zpanel:' -e '^  swarm: true' -e '^  registry: ' compose.yaml >plain.yaml
run "$ZPANEL" -f plain.yaml --progress plain up -d
expect_rc 1 "a container up of a project deployed on the swarm"
expect_err_has "runs as Swarm services on this engine" "the refusal names the reason"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$P" --filter "label=io.zpanel.number")" ] && ok || fail "containers were created beside the services"

# ---- scale to 3: one more task, none restarted ----
step "scale"
before=$(running_tasks web)
run "$ZPANEL" --progress plain up -d --scale web=3
expect_rc 0 "up --scale web=3"
after=$(running_tasks web)
[ "$(wc -l <<<"$after")" -eq 3 ] && ok || fail "web runs $(wc -l <<<"$after") tasks after scaling, want 3"
[ -z "$(comm -23 <(echo "$before") <(echo "$after"))" ] && ok || fail "scaling restarted tasks"

# ---- a config change rolls the service ----
step "config change"
printf 'config v2\n' >app.conf
run "$ZPANEL" --progress plain up -d --scale web=3
expect_rc 0 "up after a config change"
expect_err_has "Updated" "the service was updated"
rolled=$(running_tasks web)
[ -z "$(comm -12 <(echo "$after") <(echo "$rolled"))" ] && ok || fail "the config change did not roll every task"
c=$(web_container)
[ "$(docker exec "$c" cat /etc/app.conf 2>/dev/null)" = "config v2" ] && ok || fail "the new config is not in the task"
# the previous config stays while the previous spec (a rollback's target) uses it
[ "$(docker config ls -q --filter "label=io.zpanel.project=$P" | wc -l)" -eq 2 ] && ok || fail "not 2 configs (current, previous)"

# ---- zpanel swarm rollback: back to the previous spec (config v1) ----
step "swarm rollback"
run "$ZPANEL" --progress plain swarm rollback web
expect_rc 0 "swarm rollback web"
c=$(web_container)
[ "$(docker exec "$c" cat /etc/app.conf 2>/dev/null)" = "config v1" ] && ok || fail "swarm rollback did not bring config v1 back"
[ "$(running_tasks web | wc -l)" -eq 3 ] && ok || fail "web does not run 3 tasks after swarm rollback"

# ---- a failing update (health check fails) is rolled back and reported ----
step "failing update"
write_compose false
run "$ZPANEL" --progress plain up -d --scale web=3
expect_rc 1 "up with a failing health check"
expect_err_has "the update failed and Swarm rolled it back" "the rollback is reported"
[ "$(docker service inspect -f '{{.UpdateStatus.State}}' "${P}_web")" = "rollback_completed" ] &&
    ok || fail "the service was not rolled back"
[ "$(running_tasks web | wc -l)" -eq 3 ] && ok || fail "web does not run 3 tasks after the rollback"
c=$(web_container)
[ "$(docker exec "$c" cat /etc/app.conf 2>/dev/null)" = "config v1" ] && ok || fail "the rolled back tasks lost their config"

run "$ZPANEL" status --format json
expect_rc 0 "status on a swarm project"
json_check 'any(s["Service"] == "web" and s["Desired"] == 3 and s["UpdateState"] == "rollback_completed" for s in m)' "status shows the rollback"

# ---- a start-first update of the routed service under wrk loses no request ----
step "update under wrk"
wrk_phase update env API_VERSION=v2 "$ZPANEL" --progress plain update api
expect_rc 0 "update (start-first) of the routed Swarm service"
expect_out_has "Release 5 deployed" "update records release 5 (2: scale, 3: config, 4: the failed up)"
[ "$(get_api)" = "v2" ] && ok || fail "after the update the proxy serves '$(get_api)', want v2"
grep -q '^body v2 ' "$TMP/wrk-update" && ok || fail "wrk never saw v2 during the update"
# ---- releases: the failed up recorded, rollback N converges to release 1 exactly ----
step "rollback 1"
run "$ZPANEL" releases --format json
json_check '[(r["id"], r["kind"], r["status"]) for r in m] == [(5, "update", "deployed"), (4, "up", "failed"), (3, "up", "superseded"), (2, "up", "superseded"), (1, "up", "superseded")]' "up, scale, config change, failed up and update recorded"
# the files still give web a failing health check: the rollback takes the recorded model
run "$ZPANEL" --progress plain rollback 1
expect_rc 0 "rollback 1 of the Swarm project"
expect_out_has "Release 6 deployed (rollback to release 1)" "rollback says which release it redeployed"
[ "$(running_tasks web | wc -l)" -eq 2 ] && ok || fail "web runs $(running_tasks web | wc -l) tasks after rollback 1, want release 1's 2"
c=$(web_container)
[ "$(docker exec "$c" cat /etc/app.conf 2>/dev/null)" = "config v1" ] && ok ||
    fail "rollback 1 did not bring config v1 back (container '$c'): $(tail -5 <<<"$ERR"; docker service ps --no-trunc "${P}_web" | head -8)"
[ "$(get_api)" = "v1" ] && ok || fail "after rollback 1 the proxy serves '$(get_api)', want v1"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$P" --filter "label=io.zpanel.number")" ] && ok || fail "the rollback started containers beside the services"

# ---- down removes everything ----
step "down"
write_compose true
run "$ZPANEL" --progress plain down
expect_rc 0 "down"
[ -z "$(docker service ls -q --filter "label=io.zpanel.project=$P")" ] && ok || fail "services left after down"
[ -z "$(docker network ls -q --filter "label=io.zpanel.project=$P")" ] && ok || fail "networks left after down"
[ -z "$(docker config ls -q --filter "label=io.zpanel.project=$P")$(docker secret ls -q --filter "label=io.zpanel.project=$P")" ] &&
    ok || fail "configs or secrets left after down"
[ -z "$(docker ps -aq --filter "label=io.zpanel.project=$P")" ] && ok || fail "task containers left after down"
[ -z "$(docker network ls -q --filter "name=^zpanel-$P\$")" ] && ok || fail "the project's proxy network is left after down"
[ "$(proxy_status_code "$HTTP_PORT" "api.$P.localhost")" != 200 ] && ok || fail "the proxy still routes after down"

# ---- multi-node: a worker in a network namespace pulls a built image from the registry ----
if [ "$created_swarm" = 1 ] && [ "$ADDR" = "$VETH_HOST" ]; then
    step "worker node"
    mkdir -p "$WDIR/data" "$WDIR/exec"
    # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroups dockerd needs
    nsenter --net="/run/netns/$NS" dockerd --data-root "$WDIR/data" --exec-root "$WDIR/exec" \
        --pidfile "$WDIR/docker.pid" -H "unix://$WDIR/docker.sock" --bridge=none --iptables=false \
        --ip-masq=false --cgroup-parent="/zpsw-$$" --containerd-namespace "zpsw-$$" \
        --containerd-plugins-namespace "zpsw-$$-plugins" >"$WDIR/dockerd.log" 2>&1 &
    WORKER_PID=$!
    # the registry at 127.0.0.1:REG_PORT inside the namespace too (the engine trusts it)
    socat "TCP-LISTEN:$REG_PORT,bind=$VETH_HOST,fork,reuseaddr" "TCP:127.0.0.1:$REG_PORT" >/dev/null 2>&1 &
    RELAY_PIDS="$!"
    nsenter --net="/run/netns/$NS" socat "TCP-LISTEN:$REG_PORT,bind=127.0.0.1,fork,reuseaddr" \
        "TCP:$VETH_HOST:$REG_PORT" >/dev/null 2>&1 &
    RELAY_PIDS="$RELAY_PIDS $!"
    for _ in $(seq 60); do $WD info >/dev/null 2>&1 && break; sleep 0.5; done
    if timeout 60 $WD swarm join --token "$(docker swarm join-token -q worker)" "$VETH_HOST:2377" >"$TMP/join.out" 2>&1; then
        ok
    else
        fail "the second dockerd did not join: $(cat "$TMP/join.out"; tail -3 "$WDIR/dockerd.log")"
    fi
    run "$ZPANEL" swarm nodes --format json
    json_check 'len(m) == 2 and any(n["Role"] == "worker" and n["State"] == "ready" for n in m)' "swarm nodes lists the worker, ready"
    mkdir -p "$TMP/mn" && cp -r built "$TMP/mn/" && cd "$TMP/mn" || exit 1
    # mn_compose [REGISTRY]: a built service that only the worker may run
    mn_compose() {
        printf 'name: %s\nx-zpanel:\n  swarm: true\n%s\nservices:\n  app:\n    build: ./built\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n    deploy:\n      placement:\n        constraints: [node.role == worker]\n' \
            "$P-mn" "${1:+  registry: $1}" >compose.yaml
    }
    mn_compose
    run "$ZPANEL" --progress plain up -d
    [ "$RC" -ne 0 ] && ok || fail "a built service without a registry was deployed on a two-node swarm"
    expect_err_has "this swarm has 2 nodes, and an image built here exists only on this node" "the refusal says why"
    [ -z "$(docker service ls -q --filter "label=io.zpanel.project=$P-mn")" ] && ok || fail "the refused up created a service"
    mn_compose "127.0.0.1:$REG_PORT"
    run "$ZPANEL" --progress plain up -d --wait-timeout 60
    expect_rc 0 "up of a service placed on the worker"
    expect_err_has "Pushed" "the built image was pushed"
    wid=$($WD info --format '{{.Swarm.NodeID}}')
    [ "$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$P-mn_app" | cut -d' ' -f1)" = Running ] && ok ||
        fail "the task does not run: $(docker service ps --no-trunc "$P-mn_app" | head -3)"
    [ "$(docker inspect -f '{{.NodeID}}' "$(docker service ps -q --filter desired-state=running "$P-mn_app" | head -1)")" = "$wid" ] && ok ||
        fail "the task is not on the worker"
    img=$($WD ps --filter "label=com.docker.swarm.service.name=$P-mn_app" --format '{{.Image}}')
    [[ "$img" =~ ^127\.0\.0\.1:$REG_PORT/$P-mn-app:[0-9a-f]{12}$ ]] && ok || fail "the worker runs '$img', not the image pulled from the registry"
    run "$ZPANEL" --progress plain down
    expect_rc 0 "down of the multi-node project"
    cd "$DIR" || exit 1
    worker_stop
fi

step "end"
finish
