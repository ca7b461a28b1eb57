#!/usr/bin/env bash
# bench/s3.sh [SIZE_MB] [RUNS]: a backup of SIZE_MB (default 1024) of random data straight
# to S3-compatible storage (`zpanel backup --to s3://`: the archive is produced and uploaded
# as it comes, multipart, parts in parallel) against `aws s3 cp` (Debian's awscli) of the
# same archive, already on disk, to the same s3rver (.deps/s3rver, from scripts/setup.sh)
# on 127.0.0.1. `zpanel backup -o FILE` (no upload) is timed beside them. Prints the best
# wall time of RUNS for each, the ratio, and each one's peak RSS (the goal for zpanel: under
# 64 MiB whatever the size). Needs the engine (a project of bind data only: nothing is
# deployed) and GNU time.
set -euo pipefail
SIZE_MB=${1:-1024}
RUNS=${2:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZPANEL=${ZPANEL:-$ROOT/build/zpanel}
S3RVER=${ZP_S3RVER:-$ROOT/.deps/s3rver/node_modules/.bin/s3rver}
AWS=${ZP_AWSCLI:-/usr/bin/aws}
[ -x "$S3RVER" ] || { echo "bench/s3.sh: no s3rver at $S3RVER (run scripts/setup.sh)" >&2; exit 2; }
[ -x "$AWS" ] || { echo "bench/s3.sh: no awscli at $AWS (run scripts/setup.sh)" >&2; exit 2; }
W=$(mktemp -d /var/tmp/zpbench-s3.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$S3RVER" -d "$W/s3data" -a 127.0.0.1 -p "$PORT" --silent --configure-bucket zps3-bench \
    >"$W/s3rver.log" 2>&1 &
S3PID=$!
cleanup() { kill "$S3PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true ZPANEL_STATE_DIR=$W/state
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

mkdir -p "$W/p/data"
printf 'services:\n  app:\n    image: zps3-bench:1\n    volumes: [./data:/data]\n' >"$W/p/compose.yaml"
for i in 0 1 2 3 4 5 6 7; do
    head -c $((SIZE_MB * 1024 * 1024 / 8)) /dev/urandom >"$W/p/data/big$i"
done
Z=("$ZPANEL" -p zps3-bench --project-directory "$W/p" -f "$W/p/compose.yaml" --progress quiet)
EP="http://127.0.0.1:$PORT"

# measure NAME KEY CMD...: best wall seconds (into T_KEY) and the peak RSS over RUNS
measure() {
    local name=$1 key=$2 best="" rss=0 t m
    shift 2
    for _ in $(seq 1 "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null
        read -r t m <"$W/time"
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
        [ "$m" -gt "$rss" ] && rss=$m
    done
    printf '%-34s %8.2f s   peak RSS %6d MiB\n' "$name" "$best" $((rss / 1024))
    eval "T_$key=$best"
}

echo "bench/s3.sh: $SIZE_MB MiB of random data, best of $RUNS, s3rver on 127.0.0.1 (load: $(cut -d' ' -f1-3 /proc/loadavg))"
measure "zpanel backup -o FILE (no upload)" local "${Z[@]}" backup -o "$W/a.tar.zst"
measure "zpanel backup --to s3:// (streamed)" zp "${Z[@]}" backup --to "s3://zps3-bench/zp/" \
    --s3-endpoint "$EP" --s3-path-style
measure "aws s3 cp of the same archive" aws "$AWS" --endpoint-url "$EP" s3 cp --quiet \
    "$W/a.tar.zst" "s3://zps3-bench/aws/a.tar.zst"
awk -v z="$T_zp" -v a="$T_aws" 'BEGIN { printf "zpanel (archive + upload) / aws s3 cp (upload only): %.2fx\n", z / a }'
