-- wrk script for bench/gateway_layers.sh: POST /v1/reservations as browser-like humans, each
-- request from its own client IP (X-Forwarded-For, the server trusts loopback) and its own user
-- (tokens from $TOKENS_FILE), so that the gateway layers are all crossed and none refuses.
local tokens = {}
local counter = 0
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
  counter = id * 7919
  body = '{"product_id":"' .. os.getenv("PRODUCT") .. '","quantity":1}'
  signals = os.getenv("SIGNALS")
end

function request()
  counter = counter + 1
  local t = tokens[(counter % #tokens) + 1]
  local n = counter % 4000000
  local ip = string.format("11.%d.%d.%d", math.floor(n / 62500) % 250 + 1,
                           math.floor(n / 250) % 250 + 1, n % 250 + 1)
  return wrk.format("POST", "/v1/reservations",
                    {["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json",
                     ["X-Forwarded-For"] = ip, ["X-Client-Signals"] = signals,
                     ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"},
                    body)
end

status_counts = {}
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("p50_ms=%.3f p99_ms=%.3f rps=%.0f errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
