-- wrk script: the requests of bench/wrk_post.lua (POST /v1/reservations, one bearer token per
-- request from $TOKENS_FILE, each wrk thread walking its own slice), formatted once in init()
-- instead of per request, and no response() callback (wrk then parses no headers into Lua).
-- Per request, wrk's Lua allocates nothing, so its garbage collector does not run during the
-- measurement: with 400,000 tokens, wrk_post.lua's collector pauses (it walks the token table)
-- and per-request formatting cost wrk more CPU than the server under test and show up in every
-- latency percentile. Costs ~70 MB per thread for 200,000 requests. Same env: TOKENS_FILE,
-- PRODUCT, WRK_THREADS, DELAY_MS; same done() line.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  function delay() return delay_ms end
end
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

local requests = {}
local count = 0
local next_index = 0

function init(args)
  local tokens = {}
  for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
  local threads = tonumber(os.getenv("WRK_THREADS") or "2")
  local slice = math.floor(#tokens / threads)
  if slice < 1 then slice = #tokens end
  local first = (id * slice) % #tokens
  local body = '{"product_id":"' .. os.getenv("PRODUCT") .. '","quantity":1}'
  for k = 0, slice - 1 do
    local t = tokens[((first + k) % #tokens) + 1]
    requests[k + 1] = wrk.format("POST", "/v1/reservations",
                                 {["Authorization"] = "Bearer " .. t,
                                  ["Content-Type"] = "application/json"}, body)
  end
  count = #requests
  tokens = nil
  collectgarbage()
end

function request()
  next_index = next_index + 1
  if next_index > count then next_index = 1 end
  return requests[next_index]
end

function done(summary, latency, requests_done)
  io.write(string.format(
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f rps=%.0f errors=%d requests=%d non2xx3xx=%d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests, summary.errors.status))
end
