#!/usr/bin/env bash
# End-to-end check of the container create bodies: the golden files of the mapping's unit
# tests (tests/data/orchestrator/mapping/*.json, reviewed by hand) are POSTed as they are to
# the real engine's /v1.41/containers/create, and `docker inspect` must show every field
# kept as sent. This proves the bodies the unit tests pin down are valid for the engine.
# extras.extras.json is not sent: it asks for a runtime option, storage quotas, realtime
# CPU and block I/O devices this test host does not have.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-engine.sh"

P=zpmap # the project name inside the golden files
GOLD=$ZP_SOURCE_DIR/tests/data/orchestrator/mapping
HOSTDIR=/tmp/zpmap-e2e # bind sources named in the golden files
SOCK=/var/run/docker.sock
NETWORKS="zeta-net"

cleanup() {
    # -v: the anonymous volumes of the bodies go with their containers
    docker ps -aq --filter "label=io.zpanel.project=$P" | xargs -r docker rm -f -v >/dev/null 2>&1
    cleanup_project "$P"
    docker network rm $NETWORKS >/dev/null 2>&1
    docker volume rm -f "${P}_named" >/dev/null 2>&1
    rm -rf "$HOSTDIR"
    true
}

require_engine
test_image || {
    echo "FAIL: cannot build $TEST_IMAGE"
    exit 1
}
cleanup
trap 'cleanup; rm -rf "$TMP"' EXIT

VERSION=$(sed -n 's/^#define ZP_VERSION "\(.*\)"$/\1/p' "$ZP_SOURCE_DIR/src/util/util.h")
mkdir -p "$HOSTDIR/data" "$HOSTDIR/shared"
echo token >"$HOSTDIR/token.txt"
echo cert >"$HOSTDIR/cert.pem"
echo conf >"$HOSTDIR/app.conf"

# The networks the bodies name (up would create them from the model).
net() { docker network create --label "io.zpanel.project=$P" "$@" >/dev/null; }
net "${P}_default"
net --subnet 10.231.1.0/24 "${P}_front"
net --subnet 10.231.2.0/24 "${P}_back"
net "${P}_alpha"
net zeta-net

# create GOLDEN NAME: POST the golden body (version filled in) as container NAME.
create() {
    sed "s/@ZP_VERSION@/$VERSION/" "$GOLD/$1" >"$TMP/body.json"
    local code
    code=$(curl -s --max-time 30 --unix-socket "$SOCK" -o "$TMP/create.out" -w '%{http_code}' \
        -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/body.json" \
        "http://localhost/v1.41/containers/create?name=$2")
    if [ "$code" = 201 ]; then ok; else fail "create $2 from $1: HTTP $code: $(cat "$TMP/create.out")"; fi
}

# The field-by-field comparison of a body with `docker inspect`: prints "ok FIELD" or
# "FAIL FIELD: ..." per line. Config fields are compared with .Config, HostConfig with
# .HostConfig, endpoints with .NetworkSettings.Networks. Lists and maps the engine extends
# (Env and Labels from the image, Aliases with the short ID) must contain what was sent.
cat >"$TMP/compare.py" <<'PY'
import json, subprocess, sys
body = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))[0]
SUPERSET = {"Env", "Labels", "Aliases"}
def check(path, want, have, key):
    if key in SUPERSET:
        if isinstance(want, dict):
            good = isinstance(have, dict) and all(have.get(k) == v for k, v in want.items())
        else:
            good = isinstance(have, list) and all(x in have for x in want)
    elif key == "ExposedPorts":
        good = isinstance(have, dict) and sorted(have) == sorted(want)
    elif isinstance(want, str) and want.startswith("container:"):
        # the engine stores the container's ID in place of its name
        ref = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", want[10:]],
                             capture_output=True, text=True).stdout.strip()
        good = have == want or (ref != "" and have == "container:" + ref)
    else:
        good = have == want
    print(("ok " if good else "FAIL ") + path + ("" if good else ": sent %r, engine has %r" % (want, have)))
for k, v in body.items():
    if k == "HostConfig":
        for hk, hv in v.items():
            check("HostConfig." + hk, hv, got["HostConfig"].get(hk), hk)
    elif k == "NetworkingConfig":
        for net, ep in v["EndpointsConfig"].items():
            have = got["NetworkSettings"]["Networks"].get(net)
            if have is None:
                print("FAIL NetworkingConfig.%s: not connected" % net)
                continue
            for ek, evv in ep.items():
                check("Networks.%s.%s" % (net, ek), evv, have.get(ek), ek)
    else:
        check("Config." + k, v, got["Config"].get(k), k)
PY

# compare NAME: every field of the last body sent to NAME, as the engine keeps it.
compare() {
    docker inspect "$1" >"$TMP/inspect.json" 2>/dev/null || {
        fail "inspect $1"
        return
    }
    local line
    while IFS= read -r line; do
        case $line in
        ok\ *) ok ;;
        *) fail "$1: ${line#FAIL }" ;;
        esac
    done < <(python3 "$TMP/compare.py" "$TMP/body.json" "$TMP/inspect.json" 2>&1)
}

# A few fields spelled out, so a broken comparison cannot hide them.
field() { # field CONTAINER TEMPLATE WANT
    local have
    have=$(inspect_field "$1" "$2")
    if [ "$have" = "$3" ]; then ok; else fail "$1 $2: '$have', want '$3'"; fi
}

# mounts CONTAINER TEMPLATE WANT...: the container's mount points (any order) as TEMPLATE.
mounts() {
    local c=$1 t=$2
    shift 2
    local have want
    have=$(inspect_field "$c" "{{range .Mounts}}$t{{\"\\n\"}}{{end}}" | sed '/^$/d' | sort)
    want=$(printf '%s\n' "$@" | sort)
    if [ "$have" = "$want" ]; then ok; else fail "$c mounts: '$have', want '$want'"; fi
}

create basic.web.json "$P-web-1"
compare "$P-web-1"
field "$P-web-1" '{{index .Config.Labels "io.zpanel.service"}}' web

create full.full.json "$P-full-1"
compare "$P-full-1"
field "$P-full-1" '{{.HostConfig.CpuQuota}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' \
    '50000 268435456 100'
field "$P-full-1" '{{(index (index .HostConfig.PortBindings "443/tcp") 0).HostPort}}' 8443-8444
field "$P-full-1" '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' \
    on-failure:3
field "$P-full-1" '{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}/{{.Hard}} {{end}}' \
    'nofile=1024/2048 nproc=512/512 '
field "$P-full-1" '{{.Config.Healthcheck.Interval}} {{.Config.StopTimeout}}' '1m30s 2'
mounts "$P-full-1" '{{.Type}}:{{.Destination}}:{{.RW}}' bind:/data:false bind:/shared:true \
    volume:/named:true volume:/anon:true tmpfs:/scratch:true
field "$P-full-1" '{{index .Config.Labels "io.zpanel.version"}}' "$VERSION"

for s in limits always plain; do
    create "resources.$s.json" "$P-$s-1"
    compare "$P-$s-1"
done

create networks.app.json "$P-app-1"
compare "$P-app-1"
field "$P-app-1" '{{.Config.MacAddress}}' 02:42:0a:e7:01:0a
field "$P-app-1" '{{(index .NetworkSettings.Networks "zpmap_front").IPAMConfig.IPv4Address}}' \
    10.231.1.10

create modes.app.json "$P-modes-1"
compare "$P-modes-1"
field "$P-modes-1" '{{.HostConfig.NetworkMode}}' "container:$(inspect_field "$P-web-1" '{{.Id}}')"
create modes.lone.json "$P-lone-1"
compare "$P-lone-1"

create secrets.s.json "$P-s-1"
compare "$P-s-1"
mounts "$P-s-1" '{{.Source}}>{{.Destination}}:{{.RW}}' \
    "$HOSTDIR/token.txt>/run/secrets/token:false" "$HOSTDIR/cert.pem>/etc/ssl/cert.pem:false" \
    "$HOSTDIR/token.txt>/run/secrets/other:false" "$HOSTDIR/app.conf>/app_conf:false" \
    "$HOSTDIR/app.conf>/etc/app.conf:false" "$HOSTDIR/app.conf>/rel.conf:false"

finish
