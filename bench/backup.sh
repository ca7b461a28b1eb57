#!/usr/bin/env bash
# bench/backup.sh [SIZE_MB] [RUNS]: backup and restore throughput of one volume holding
# SIZE_MB of random data (a few large files and 1,000 small ones), against GNU tar of the
# same directory on the host (the volume's Mountpoint): `tar -cf` for backup, `tar -xf`
# into an empty directory for restore. zpanel reads and writes a local volume at its
# mountpoint; `--engine-api` shows the engine's archive API path (remote engines, other
# drivers) beside it. Prints the best of RUNS for each and the ratios.
# Needs root (the Mountpoint) and the engine; builds zpanel-test/busybox:1 if missing.
set -euo pipefail
SIZE_MB=${1:-1024}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZPANEL=${ZPANEL:-$ROOT/build/zpanel}
source "$ROOT/tests/e2e/lib-engine.sh"
P1=zpbench-backup-a
P2=zpbench-backup-b
W=$(mktemp -d /var/tmp/zpbench.XXXXXX)
export ZPANEL_STATE_DIR=$W/state
cleanup() { cleanup_project $P1; cleanup_project $P2; rm -rf "$W"; }
trap cleanup EXIT
cleanup_project $P1
cleanup_project $P2
test_image
mkdir -p "$W/p"
cat >"$W/p/compose.yaml" <<YAML
services:
  app:
    image: $TEST_IMAGE
    command: ["sleep", "3600"]
    volumes: [data:/data]
volumes:
  data: {}
YAML
Z1=("$ZPANEL" -p $P1 -f "$W/p/compose.yaml" --progress quiet)
Z2=("$ZPANEL" -p $P2 -f "$W/p/compose.yaml" --progress quiet)
"${Z1[@]}" up -d >/dev/null
big=$((SIZE_MB / 8))
docker exec $P1-app-1 sh -c "
    i=0; while [ \$i -lt 8 ]; do head -c ${big}m /dev/urandom >/data/big\$i; i=\$((i+1)); done
    mkdir -p /data/small; i=0; while [ \$i -lt 1000 ]; do head -c 1000 /dev/urandom >/data/small/f\$i; i=\$((i+1)); done"
MP=$(docker volume inspect -f '{{.Mountpoint}}' ${P1}_data)
bytes=$(du -sb "$MP" | cut -f1)
now() { date +%s.%N; }
best() { sort -g | head -1; }
cat "$MP"/big* >/dev/null # warm the page cache for everyone

# the floor under any client of the Engine API: the engine's own archive endpoint, GET
# into /dev/null and PUT of the same tar, through curl on the engine's socket, with a
# created (never started) container that mounts the volume, as zpanel's helper does
api=http://localhost/v1.41
hid=$(docker create -v ${P1}_data:/data "$TEST_IMAGE" true)
t_api_get=$(for r in $(seq "$RUNS"); do
    s=$(now); curl -sf --unix-socket /var/run/docker.sock -o /dev/null "$api/containers/$hid/archive?path=/data"; e=$(now); echo "$e - $s" | bc; done | best)
curl -sf --unix-socket /var/run/docker.sock -o "$W/api.tar" "$api/containers/$hid/archive?path=/data"
docker rm -f "$hid" >/dev/null
docker volume create zpbench-backup-put >/dev/null
hid=$(docker create -v zpbench-backup-put:/data "$TEST_IMAGE" true)
t_api_put=$(for r in $(seq "$RUNS"); do
    s=$(now); curl -sf --unix-socket /var/run/docker.sock -X PUT -H 'Content-Type: application/x-tar' \
        -T "$W/api.tar" "$api/containers/$hid/archive?path=/"; e=$(now); echo "$e - $s" | bc; done | best)
docker rm -f "$hid" >/dev/null
docker volume rm zpbench-backup-put >/dev/null
rm -f "$W/api.tar"

t_tar_c=$(for r in $(seq "$RUNS"); do
    rm -f "$W/t.tar"; s=$(now); tar -C "$MP" -cf "$W/t.tar" .; e=$(now); echo "$e - $s" | bc; done | best)
# zpanel fsyncs the archive before renaming it into place (a backup that reports success
# is on disk); the same for tar, for a like-for-like figure
t_tar_cs=$(for r in $(seq "$RUNS"); do
    rm -f "$W/t.tar"; s=$(now); tar -C "$MP" -cf "$W/t.tar" . && sync "$W/t.tar"; e=$(now); echo "$e - $s" | bc; done | best)
t_tar_x=$(for r in $(seq "$RUNS"); do
    rm -rf "$W/x"; mkdir "$W/x"; s=$(now); tar -C "$W/x" -xf "$W/t.tar"; e=$(now); echo "$e - $s" | bc; done | best)
rm -rf "$W/x" "$W/t.tar"
t_zp_c=$(for r in $(seq "$RUNS"); do
    rm -f "$W/z.tar"; s=$(now); "${Z1[@]}" backup -o "$W/z.tar" >/dev/null; e=$(now); echo "$e - $s" | bc; done | best)
t_zp_x=$(for r in $(seq "$RUNS"); do
    s=$(now); "${Z2[@]}" restore --yes --volume data "$W/z.tar" >/dev/null; e=$(now); echo "$e - $s" | bc; done | best)
t_zp_ca=$(for r in $(seq "$RUNS"); do
    rm -f "$W/za.tar"; s=$(now); "${Z1[@]}" backup --engine-api -o "$W/za.tar" >/dev/null; e=$(now); echo "$e - $s" | bc; done | best)
rm -f "$W/za.tar"
t_zp_xa=$(for r in $(seq "$RUNS"); do
    s=$(now); "${Z2[@]}" restore --yes --engine-api --volume data "$W/z.tar" >/dev/null; e=$(now); echo "$e - $s" | bc; done | best)
t_zp_v=$(for r in $(seq "$RUNS"); do
    s=$(now); "$ZPANEL" backup verify "$W/z.tar" >/dev/null; e=$(now); echo "$e - $s" | bc; done | best)
mbps() { echo "scale=0; $bytes / 1048576 / $1" | bc; }
printf '%-22s %8s %10s\n' "" "seconds" "MiB/s"
printf '%-22s %8.2f %10s\n' "tar -cf (host)" "$t_tar_c" "$(mbps "$t_tar_c")"
printf '%-22s %8.2f %10s\n' "tar -cf + sync (host)" "$t_tar_cs" "$(mbps "$t_tar_cs")"
printf '%-22s %8.2f %10s\n' "engine GET archive" "$t_api_get" "$(mbps "$t_api_get")"
printf '%-22s %8.2f %10s\n' "zpanel backup" "$t_zp_c" "$(mbps "$t_zp_c")"
printf '%-22s %8.2f %10s\n' "zpanel backup (API)" "$t_zp_ca" "$(mbps "$t_zp_ca")"
printf '%-22s %8.2f %10s\n' "tar -xf (host)" "$t_tar_x" "$(mbps "$t_tar_x")"
printf '%-22s %8.2f %10s\n' "engine PUT archive" "$t_api_put" "$(mbps "$t_api_put")"
printf '%-22s %8.2f %10s\n' "zpanel restore" "$t_zp_x" "$(mbps "$t_zp_x")"
printf '%-22s %8.2f %10s\n' "zpanel restore (API)" "$t_zp_xa" "$(mbps "$t_zp_xa")"
printf '%-22s %8.2f %10s\n' "zpanel backup verify" "$t_zp_v" "$(mbps "$t_zp_v")"
echo "data: $bytes bytes; backup/tar ratio $(echo "scale=2; $t_zp_c / $t_tar_c" | bc)" \
    "(against tar + sync: $(echo "scale=2; $t_zp_c / $t_tar_cs" | bc))," \
    "restore/tar ratio $(echo "scale=2; $t_zp_x / $t_tar_x" | bc) (goal: within 1.5)"
echo "through the engine's archive API (--engine-api): backup/tar $(echo "scale=2; $t_zp_ca / $t_tar_c" | bc)," \
    "restore/tar $(echo "scale=2; $t_zp_xa / $t_tar_x" | bc); against the API alone: backup" \
    "$(echo "scale=2; $t_zp_ca / $t_api_get" | bc), restore $(echo "scale=2; $t_zp_xa / $t_api_put" | bc)"
