-- wrk script: POST /v1/reservations with bearer tokens read from $TOKENS_FILE (one per line).
-- Each wrk thread walks its own slice of the tokens, so every request is a distinct user when
-- the file holds enough of them (durable path), or repeats one user (TOKENS_FILE with one line).
-- DELAY_MS (optional): each connection waits that long after a response before its next request,
-- which paces the load below saturation (offered rate ~ connections * 1000 / DELAY_MS per second)
-- so that latency is measured without the queueing of a saturated closed loop.
local tokens = {}
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  function delay() return delay_ms end
end
local counter = 0
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local path = os.getenv("TOKENS_FILE")
  for line in io.lines(path) do tokens[#tokens + 1] = line end
  local threads = tonumber(os.getenv("WRK_THREADS") or "2")
  local slice = math.floor(#tokens / threads)
  if slice < 1 then slice = #tokens end
  first = (id * slice) % #tokens
  counter = 0
  body = '{"product_id":"' .. os.getenv("PRODUCT") .. '","quantity":1}'
end

function request()
  local t = tokens[((first + counter) % #tokens) + 1]
  counter = counter + 1
  return wrk.format("POST", "/v1/reservations",
                    {["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json"},
                    body)
end

status_counts = {}
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format(
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f rps=%.0f errors=%d requests=%d non2xx3xx=%d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests, summary.errors.status))
end
