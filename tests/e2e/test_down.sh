#!/usr/bin/env bash
# test_down.sh: `zpanel down` against the real engine: reverse dependency order (from the
# engine's die events), containers and networks removed, external networks and volumes
# kept, -v removes the declared named and anonymous volumes (never external or undeclared
# ones), --rmi local removes built images only,
# --remove-orphans.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-engine.sh"

P=zpe2edown
EXT=${P}_ext
require_engine
if ! grep -qE '^ +down ' <<<"$("$ZPANEL" --help 2>&1)"; then
    fail "zpanel has no 'down' command"
    finish
    exit
fi
test_image || fail "building $TEST_IMAGE"
cleanup_project $P
docker network rm $EXT >/dev/null 2>&1
docker image rm -f $P-app >/dev/null 2>&1
trap 'cleanup_project $P; docker network rm $EXT >/dev/null 2>&1; docker image rm -f $P-app >/dev/null 2>&1; rm -rf "$TMP"' EXIT
docker network create $EXT >/dev/null || fail "creating the external network"

mkdir -p "$TMP/app"
cat >"$TMP/app/Dockerfile" <<DOCKERFILE
FROM $TEST_IMAGE
CMD ["sleep", "600"]
DOCKERFILE
F=$TMP/compose.yaml
cat >"$F" <<YAML
name: $P
services:
  db:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    volumes: [data:/data, /anon]
    networks: [default, back]
    stop_grace_period: 1s
  web:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    depends_on: [db]
    networks: [default, ext]
    stop_grace_period: 1s
  app:
    build: ./app
    depends_on: [web]
    stop_grace_period: 1s
networks:
  back: {}
  ext:
    name: $EXT
    external: true
volumes:
  data: {}
YAML
zp() { run "$ZPANEL" -f "$F" "$@"; }
nproj() { docker ps -aq --filter "label=io.zpanel.project=$P" | wc -l; }
net_exists() { docker network inspect "$1" >/dev/null 2>&1; }
vol_exists() { docker volume inspect "$1" >/dev/null 2>&1; }

zp up -d
expect_rc 0 "up -d"
[ "$(nproj)" -eq 3 ] && ok || fail "up made $(nproj) containers, want 3"
anon=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}' $P-db-1)
[ -n "$anon" ] && ok || fail "db has no anonymous volume"

# --- down: reverse order, containers and project networks gone, the rest kept ---
since=$(date +%s)
zp down
expect_rc 0 "down"
[ "$(nproj)" -eq 0 ] && ok || fail "down left $(nproj) containers"
order=$(docker events --since "$since" --until "$(($(date +%s) + 1))" --filter "label=io.zpanel.project=$P" \
    --filter event=die --format '{{.Actor.Attributes.name}}' | tr '\n' ' ')
[ "$order" = "$P-app-1 $P-web-1 $P-db-1 " ] && ok || fail "stop order '$order', want app, web, db"
net_exists ${P}_default && fail "network ${P}_default still exists" || ok
net_exists ${P}_back && fail "network ${P}_back still exists" || ok
net_exists $EXT && ok || fail "down removed the external network"
vol_exists ${P}_data && ok || fail "down without -v removed the named volume"
docker image inspect $P-app >/dev/null 2>&1 && ok || fail "down without --rmi removed the built image"

# --- down -v --rmi local ---
zp up -d
expect_rc 0 "up again"
anon=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}' $P-db-1)
zp down -v --rmi local
expect_rc 0 "down -v --rmi local"
vol_exists ${P}_data && fail "down -v kept the named volume" || ok
[ -n "$anon" ] && vol_exists "$anon" && fail "down -v kept the anonymous volume $anon" || ok
docker image inspect $P-app >/dev/null 2>&1 && fail "--rmi local kept $P-app" || ok
docker image inspect $TEST_IMAGE >/dev/null 2>&1 && ok || fail "--rmi local removed $TEST_IMAGE"
net_exists $EXT && ok || fail "down -v removed the external network"

# --- orphans: kept (with a warning) unless --remove-orphans ---
zp up -d
expect_rc 0 "up for orphans"
python3 - "$F" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
i = s.index('  app:'); j = s.index('networks:\n  back')
open(p, 'w').write(s[:i] + s[j:])
PY
zp down
expect_rc 0 "down with an orphan"
expect_err_has "orphan" "orphan warning"
[ "$(nproj)" -eq 1 ] && ok || fail "down left $(nproj) containers, want the orphan only"
zp down --remove-orphans
expect_rc 0 "down --remove-orphans"
[ "$(nproj)" -eq 0 ] && ok || fail "down --remove-orphans left $(nproj) containers"

# --- down on nothing is fine ---
zp down
expect_rc 0 "down with nothing deployed"

# --- down -v keeps what the files do not declare as their own (issue 19, item 1): the
# usual way to protect a volume is to mark it external; a labelled volume made by hand or
# left by an older version of the files stays too, named in the output ---
cleanup_project $P
docker volume rm ${P}_data ${P}_stray >/dev/null 2>&1
F2=$TMP/protect.yaml
cat >"$F2" <<YAML
name: $P
services:
  db:
    image: $TEST_IMAGE
    command: ["sh", "-c", "echo precious > /data/file; exec sleep 600"]
    volumes: [data:/data]
    stop_grace_period: 1s
volumes:
  data: {}
YAML
run "$ZPANEL" -f "$F2" up -d --wait
expect_rc 0 "up with a project volume"
docker volume create --label io.zpanel.project=$P ${P}_stray >/dev/null
cat >"$F2" <<YAML
name: $P
services:
  db:
    image: $TEST_IMAGE
    command: ["sleep", "600"]
    volumes: [data:/data]
    stop_grace_period: 1s
volumes:
  data:
    external: true
    name: ${P}_data
YAML
run "$ZPANEL" -f "$F2" up -d
expect_rc 0 "up with the volume now external"
run "$ZPANEL" -f "$F2" down -v
expect_rc 0 "down -v with an external volume"
vol_exists ${P}_data && ok || fail "down -v removed the volume declared external"
vol_exists ${P}_stray && ok || fail "down -v removed a labelled volume the files do not declare"
expect_err_has "${P}_data" "down -v names the external volume it keeps"
expect_err_has "${P}_stray" "down -v names the labelled volume it keeps"
run docker run --rm -v ${P}_data:/data $TEST_IMAGE cat /data/file
expect_out_eq "precious" "the external volume's data survived down -v"
docker volume rm ${P}_data ${P}_stray >/dev/null 2>&1

cleanup_project $P
docker volume rm ${P}_data >/dev/null 2>&1
finish
