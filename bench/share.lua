-- wrk script of the share bench: every request comes from another client address (X-Forwarded-For,
-- read behind TRUSTED_PROXY_COUNT=1), so the limiter does its real work and lets everything in.
-- Usage: wrk -s bench/share.lua URL -- PATH OFFSET   (OFFSET: where this run starts in 10.0.0.0/8)
-- Prints one line: BENCH {json} with requests, errors and latency percentiles (microseconds).

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/"
  offset = tonumber(args[2] or "0")
  counter = 0
end

function request()
  counter = counter + 1
  local n = (offset + thread_index * 2097152 + counter) % 16777216
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536), math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", path, {["Accept"] = "application/json", ["X-Forwarded-For"] = ip})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
