-- wrk script for bench/media.py: random 1 MiB byte ranges of one file.
--
--   wrk -t T -c C -d D -s bench/media_range.lua URL -- FILE_SIZE [RANGE_BYTES]
--
-- Every request asks for RANGE_BYTES (default 1 MiB) starting at a random
-- offset in [0, FILE_SIZE - RANGE_BYTES], the way a player fetches a video
-- (the URL's query string, e.g. a signature, is kept). No response() hook:
-- it would copy every body into Lua and make wrk the bottleneck; media.py
-- checks the answers itself before the run, and wrk counts non-2xx/3xx.
-- The last line printed is one JSON object with wrk's figures.

local threads = {}
local file_size = 0
local range_bytes = 1048576

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  file_size = tonumber(args[1])
  if args[2] then range_bytes = tonumber(args[2]) end
  if not file_size or file_size < range_bytes then
    error("usage: -- FILE_SIZE [RANGE_BYTES] with FILE_SIZE >= RANGE_BYTES")
  end
  math.randomseed(os.time() * 1000 + id * 7919)
end

function request()
  local start = math.random(0, file_size - range_bytes)
  return wrk.format("GET", wrk.path, { ["Range"] = "bytes=" .. start .. "-" .. (start + range_bytes - 1) })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "bytes": %d, "duration_us": %d, "latency_p50_us": %d, "latency_p99_us": %d, '
      .. '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
