#!/usr/bin/env bash
# bench/apps.sh: apps from git, time from a signed push webhook to the new version serving
# (zpanel serve: fetch with libgit2, build with the cached layers, release), against the
# same change done by hand: `docker build` of the checkout, then Docker Compose v2's
# `up -d --wait` of a compose file naming the new image (the peer, side by side in the same
# run). A small Dockerfile app (FROM the local busybox image, httpd on $PORT); each round
# commits a new index.html. The by-hand side builds its own copy of the work tree with its
# own new index.html ("hand vN"): built from the same files, it would find every layer in
# the engine's cache (zpanel has just built them) and skip the build zpanel did, as an
# earlier version of this bench let it. Prints each round and the medians with their ratio (the
# issue's goal: within 1.2x).
#   bench/apps.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
zpanel=${ZPANEL:-$root/build/zpanel}
rounds=${1:-5}
[ -x "$zpanel" ] || { echo "bench: build zpanel first" >&2; exit 2; }
compose=${COMPOSE:-/usr/local/bin/docker-compose-v2}
[ -x "$compose" ] || { echo "bench: Docker Compose v2 missing ($compose)" >&2; exit 2; }
for t in git curl python3; do command -v $t >/dev/null || { echo "bench: $t missing" >&2; exit 2; }; done
ZPANEL=$zpanel
. tests/e2e/lib-engine.sh
test_image

A=zpbenchapps
H=zpbenchappshand
dir=$(mktemp -d)
export ZPANEL_STATE_DIR=$dir/state
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    "$compose" -p "$H" -f "$dir/hand/compose.yaml" down >/dev/null 2>&1 || true
    cleanup_project "$A"
    docker images -q "zpanel-app-$A" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
    docker images -q "$H" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { python3 -c 'import time; print(time.monotonic())'; }
wait_page() { # PORT WANT: poll until the page is WANT (bounded: 120 s)
    for _ in $(seq 1 1200); do
        [ "$(curl -s --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.05
    done
    echo "bench: port $1 never served '$2'" >&2
    exit 1
}

w=$dir/work
git init -q -b main "$w"
cat >"$w/Dockerfile" <<DOCKERFILE
FROM $TEST_IMAGE
COPY index.html /www/index.html
EXPOSE 8080
CMD ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p \$PORT -h /www & wait"]
DOCKERFILE
echo "v0" >"$w/index.html"
g() { git -C "$w" -c user.name=b -c user.email=b@example.invalid "$@"; }
g add -A && g commit -qm v0
git clone -q --bare "$w" "$dir/repo.git"
g remote add origin "$dir/repo.git"

zport=$(free_port)
hport=$(free_port)
secret=bench-webhook-secret-0123456789
"$zpanel" app create "$A" --git "file://$dir/repo.git" --publish "127.0.0.1:$zport" --secret "$secret" >/dev/null
"$zpanel" --progress quiet app deploy "$A" >/dev/null
wait_page "$zport" v0

mkdir -p "$dir/hand"
hand_up() { # TAG: the by-hand deploy of a copy of the work tree serving "hand TAG"
    rm -rf "$dir/hand/src"
    mkdir -p "$dir/hand/src"
    cp "$w/Dockerfile" "$dir/hand/src/"
    echo "hand $1" >"$dir/hand/src/index.html"
    docker build -q -t "$H:$1" "$dir/hand/src" >/dev/null 2>&1
    cat >"$dir/hand/compose.yaml" <<YAML
services:
  web:
    image: $H:$1
    environment: {PORT: "8080"}
    ports: ["127.0.0.1:$hport:8080"]
YAML
    "$compose" -p "$H" -f "$dir/hand/compose.yaml" up -d --wait >/dev/null 2>&1
}
hand_up v0
wait_page "$hport" "hand v0"

sport=$(free_port)
"$zpanel" serve --listen "127.0.0.1:$sport" --state-dir "$ZPANEL_STATE_DIR" --quiet 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$sport/healthz" && break; sleep 0.1; done

zt=()
ht=()
for i in $(seq 1 "$rounds"); do
    echo "v$i" >"$w/index.html"
    g commit -qam "v$i" && g push -q origin main
    body=$(printf '{"ref":"refs/heads/main","after":"%s"}' "$(g rev-parse HEAD)")
    sig=$(printf '%s' "$body" | python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' "$secret")
    t0=$(now)
    curl -s -o /dev/null -X POST "http://127.0.0.1:$sport/api/v1/webhooks/github/$A" \
        -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: bench-$i" \
        -H "X-Hub-Signature-256: sha256=$sig" --data-binary "$body"
    wait_page "$zport" "v$i"
    t1=$(now)
    hand_up "v$i"
    wait_page "$hport" "hand v$i"
    t2=$(now)
    z=$(python3 -c "print(round($t1 - $t0, 2))")
    h=$(python3 -c "print(round($t2 - $t1, 2))")
    zt+=("$z")
    ht+=("$h")
    echo "round $i: zpanel webhook-to-live ${z}s, docker build + compose up ${h}s"
done
python3 - "${zt[*]}" "${ht[*]}" <<'PY'
import statistics, sys
z = [float(x) for x in sys.argv[1].split()]
h = [float(x) for x in sys.argv[2].split()]
mz, mh = statistics.median(z), statistics.median(h)
print(f"median: zpanel {mz:.2f}s, by hand {mh:.2f}s, ratio {mz / mh:.2f}x (goal <= 1.2x)")
PY
