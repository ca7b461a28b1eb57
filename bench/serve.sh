#!/usr/bin/env bash
# bench/serve.sh: the control plane's footprint and latency.
#  1. idle RSS of `zpanel serve` with 100 registered projects, 5 of them deployed (goal
#     < 16 MB; anchors from the issue: Coolify 2 GB minimum, Dokploy 464 MiB idle), next to
#     the RSS of Docker Compose v2 printing `ps` of one of those projects (the side-by-side
#     peer: it is a client, not a daemon; there is no Compose daemon to compare with);
#  2. wrk on GET /api/v1/projects over loopback: paced at ~1000 requests/s (wrk has no rate
#     flag: a Lua delay() per connection; the achieved rate is printed), p50/p99/max and
#     errors; then unpaced, for the maximum rate;
#  3. time from POST deploy to the first SSE line of the job's log (median of 10).
#   bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
zpanel=${ZPANEL:-$root/build/zpanel}
[ -x "$zpanel" ] || { echo "bench: build zpanel first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench: wrk missing (scripts/setup.sh)" >&2; exit 2; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
ZPANEL=$zpanel
. tests/e2e/lib-engine.sh
test_image

dir=$(mktemp -d)
st=$dir/state
pid=
deployed="zpsrvbench-0 zpsrvbench-1 zpsrvbench-2 zpsrvbench-3 zpsrvbench-4"
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    for p in $deployed; do cleanup_project "$p"; done
    rm -rf "$dir"
}
trap cleanup EXIT

echo 'bench-password' | "$zpanel" user add bench --role admin --password-stdin --state-dir "$st" >/dev/null
tok=$("$zpanel" token create --user bench --scope admin --state-dir "$st" | tail -1)
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$zpanel" serve --listen "127.0.0.1:$port" --state-dir "$st" --quiet 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "$url/healthz" && break; sleep 0.1; done

$PY - "$url" "$tok" "$TEST_IMAGE" <<'PY'
import json, sys, time, urllib.request
url, tok, img = sys.argv[1:4]
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + tok})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
compose = f"services:\n  web:\n    image: {img}\n    command: [\"sleep\", \"100000\"]\n    init: true\n    stop_grace_period: 1s\n"
for i in range(100):
    call("POST", "/api/v1/projects", {"name": f"zpsrvbench-{i}", "compose": compose, "env": {"N": str(i)}})
jobs = [call("POST", f"/api/v1/projects/zpsrvbench-{i}/deploy")["job"]["id"] for i in range(5)]
for j in jobs:
    for _ in range(1200):
        s = call("GET", f"/api/v1/jobs/{j}")["status"]
        if s not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert s == "succeeded", (j, s)
PY
sleep 3
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$pid/status")
echo "idle: 100 projects registered, 5 deployed: zpanel serve RSS $((rss_kb / 1024)).$(((rss_kb % 1024) * 10 / 1024)) MiB, $threads threads (goal < 16 MiB)"
mkdir -p "$dir/p0"
curl -sf -H "Authorization: Bearer $tok" "$url/api/v1/projects/zpsrvbench-0" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["compose"], end="")' >"$dir/p0/compose.yaml"
if [ -x /usr/local/bin/docker-compose-v2 ]; then
    dc_kb=$(/usr/bin/time -f '%M' /usr/local/bin/docker-compose-v2 -p zpsrvbench-0 -f "$dir/p0/compose.yaml" ps 2>&1 >/dev/null | tail -1)
    echo "peer: docker compose v2 ps (one project, a client run) max RSS $((dc_kb / 1024)) MiB; ratio serve/compose $($PY -c "print(round($rss_kb/$dc_kb, 2))")"
fi
echo "anchors (from the issue, not measured here): Coolify 2 GB minimum, Dokploy 464 MiB idle, Coolify #9489 306 MiB"

cat >"$dir/paced.lua" <<'LUA'
-- ~1000 requests/s over 10 connections: each waits 10 ms between its requests
local token = os.getenv("ZP_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
function delay() return 10 end
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("requests %d in %.1f s (%.0f/s), p50 %.2f ms, p99 %.2f ms, max %.2f ms, errors connect=%d read=%d write=%d timeout=%d status=%d\n",
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        e.connect, e.read, e.write, e.timeout, e.status))
end
LUA
sed '/^function delay/d; s/^-- ~1000.*/-- unpaced/' "$dir/paced.lua" >"$dir/unpaced.lua"
echo -n "wrk GET /api/v1/projects (100 projects), paced: "
ZP_TOKEN=$tok wrk -t2 -c10 -d10s -s "$dir/paced.lua" "$url/api/v1/projects" | tail -1
echo -n "wrk GET /api/v1/projects, unpaced (2 threads, 10 connections): "
ZP_TOKEN=$tok wrk -t2 -c10 -d10s -s "$dir/unpaced.lua" "$url/api/v1/projects" | tail -1

$PY - "$url" "$tok" <<'PY'
import http.client, json, statistics, sys, time
url, tok = sys.argv[1:3]
host, port = url[len("http://"):].split(":")
h = {"Authorization": "Bearer " + tok}
times = []
for i in range(10):
    c = http.client.HTTPConnection(host, int(port))
    t0 = time.monotonic()
    c.request("POST", "/api/v1/projects/zpsrvbench-1/deploy", headers=h)
    job = json.load(c.getresponse())["job"]["id"]
    c.request("GET", f"/api/v1/jobs/{job}/log", headers=dict(h, Accept="text/event-stream"))
    r = c.getresponse()
    while True:
        line = r.fp.readline()
        if not line or line.startswith(b"data: "):
            break
    times.append((time.monotonic() - t0) * 1000)
    while line and not line.startswith(b"event: end"):
        line = r.fp.readline()
    c.close()
print(f"POST deploy -> first SSE line: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)} deploys (goal < 50 ms)")
PY
