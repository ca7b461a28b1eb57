-- wrk-count.lua: wrk script for the rollout test and bench: counts responses by status and
-- by body (the first word: webver's version), and prints, in done(), one line per count
-- plus the summary's errors and latency percentiles (microseconds):
--   status 200 12345
--   body v3 6000
--   errors connect=0 read=0 write=0 timeout=0 status=0
--   requests 12345 duration_us 10000000 p50 350 p99 1200 max 5000
--
-- ZP_WRK_PACE_MS=N (the e2e tests set 20 in lib.sh): each connection waits N ms between
-- its requests, so the load is steady (8 connections: at most 400 requests a second, one
-- every 2.5 ms) without taking every CPU cycle from the deploy it watches and from the
-- tests running beside it (the latency wrk reports then includes the wait). Unset (the
-- benchmarks), wrk sends as fast as it is answered.
local threads = {}
local pace = tonumber(os.getenv("ZP_WRK_PACE_MS") or "")
if pace and pace > 0 then
    function delay()
        return pace
    end
end

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
    bodies = {}
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    local v = body and body:match("^(%S+)") or "-"
    bodies[v] = (bodies[v] or 0) + 1
end

function done(summary, latency, requests)
    local st, bd = {}, {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
        for k, v in pairs(t:get("bodies")) do bd[k] = (bd[k] or 0) + v end
    end
    for k, v in pairs(st) do io.write(string.format("status %s %d\n", k, v)) end
    for k, v in pairs(bd) do io.write(string.format("body %s %d\n", k, v)) end
    local e = summary.errors
    io.write(string.format("errors connect=%d read=%d write=%d timeout=%d status=%d\n",
        e.connect, e.read, e.write, e.timeout, e.status))
    io.write(string.format("requests %d duration_us %d p50 %d p99 %d max %d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        latency.max))
end
