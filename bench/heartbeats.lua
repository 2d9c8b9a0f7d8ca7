-- wrk script for bench/heartbeats.py: honest viewers' heartbeats at their interval.
--
--   wrk -t T -c C -d D -s bench/heartbeats.lua http://127.0.0.1:PORT \
--       -- SESSIONS_FILE SEQ_BASE EPOCH INTERVAL_S FIRST_EVENT DURATION_S THREADS [ROUNDS]
--
-- SESSIONS_FILE has one "session_id token" per line. Thread k of T takes the
-- lines i with i % T == k and cycles through them: each request is the next
-- session's heartbeat with the next seq (SEQ_BASE + n, so a later run never
-- replays an earlier run's seq) and a position that advances with the wall
-- clock since EPOCH, as a viewer playing at 1x would report. A session is
-- never sent a heartbeat sooner than INTERVAL_S after its previous one
-- (wrk's delay() hook), so with enough sessions the load is thousands of
-- viewers ticking at their interval; with too few it is capped at
-- sessions / interval, which bench/heartbeats.py reports. With ROUNDS, a
-- thread stops once each of its sessions has been sent that many heartbeats
-- (the warm-up) and says so on stderr; wrk itself runs until D or SIGINT.
-- The last line printed is one JSON object with wrk's figures.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } xs_timeval;
int gettimeofday(xs_timeval *tv, void *tz);
]]
local tv = ffi.new("xs_timeval")
local function now_s()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

-- wrk runs setup() then init() for each thread in turn, so a thread cannot
-- learn the thread count from setup(): it comes as an argument.
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

-- Per-thread state (each wrk thread has its own Lua state).
local paths, auths, seqs, due = {}, {}, {}, {}
local n, cursor = 0, 0
local seq_base, epoch, interval, first_event = 0, 0, 15, "play"
local duration_cap = 1e9
local sent = 0
local rounds = 0

function init(args)
  local file = args[1]
  seq_base = tonumber(args[2]) or 0
  epoch = tonumber(args[3]) or now_s()
  interval = tonumber(args[4]) or 15
  first_event = args[5] or "play"
  duration_cap = tonumber(args[6]) or 1e9
  local total = tonumber(args[7]) or 1
  rounds = tonumber(args[8]) or 0
  local me = tonumber(wrk.thread:get("thread_index")) or 0
  local i = 0
  for line in io.lines(file) do
    local sid, token = line:match("^(%S+)%s+(%S+)")
    if sid then
      if i % total == me then
        n = n + 1
        paths[n] = "/api/v1/playback/sessions/" .. sid .. "/heartbeats"
        auths[n] = "Bearer " .. token
        seqs[n] = 0
        due[n] = 0
      end
      i = i + 1
    end
  end
  if n == 0 then error("no sessions for thread " .. me) end
end

-- Wait until the next session in the cycle is due (milliseconds).
function delay()
  local nxt = cursor % n + 1
  local wait = due[nxt] - now_s()
  if wait <= 0 then return 0 end
  return math.floor(wait * 1000)
end

local headers = {}

function request()
  if rounds > 0 and sent >= rounds * n then
    if sent == rounds * n then  -- wrk's main thread sleeps until D: tell bench/heartbeats.py to end it
      io.stderr:write("rounds done\n")
      io.stderr:flush()
    end
    wrk.thread:stop()
  end
  cursor = cursor % n + 1
  local i = cursor
  local t = now_s()
  due[i] = t + interval
  local s = seqs[i] + 1
  seqs[i] = s
  local position = t - epoch
  if position < 0 then position = 0 end
  if position > duration_cap then position = duration_cap end
  local event = (s == 1) and first_event or "tick"
  local body = string.format(
    '{"seq":%d,"position_s":%.3f,"playing":true,"visible":true,"rate":1.0,"event":"%s"}',
    seq_base + s, position, event)
  headers["Authorization"] = auths[i]
  headers["Content-Type"] = "application/json"
  sent = sent + 1
  return wrk.format("POST", paths[i], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
