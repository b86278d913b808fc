-- wrk script: POST /v1/reservations with bearer tokens read from $TOKENS_FILE (one per line).
-- Each wrk thread walks its own slice of the tokens, so every request is a distinct user when
-- the file holds enough of them (durable path), or repeats one user (TOKENS_FILE with one line).
-- The requests are formatted once, in init() (~70 MB per thread for 200,000 tokens), and there is
-- no response() callback (wrk counts non-2xx itself): per request wrk's Lua allocates nothing,
-- so its garbage collector, which walks the token table, does not pause the client mid-run.
-- WRK_PER_REQUEST=1 formats each request in request() and keeps a response() callback, as the
-- runs before 2026-12-02 20:00 UTC did (a heavier client: see docs/benchmarks.md, "The client").
-- DELAY_MS (optional): each connection waits a random time, exponentially distributed with mean
-- DELAY_MS, after a response before its next request, which paces the load below saturation
-- (offered rate ~ connections * 1000 / DELAY_MS per second) so that latency is measured without
-- the queueing of a saturated closed loop. The connections' requests then arrive about as a
-- Poisson stream, as independent buyers' (and pgbench -R's) do. DELAY_DIST=fixed waits exactly
-- DELAY_MS, as runs before 2026-12-04 19:00 UTC did: the connections start together and stay in
-- step, so their requests arrive in waves (docs/benchmarks.md, round (11)).
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms and os.getenv("DELAY_DIST") == "fixed" then
  function delay() return delay_ms end
elseif delay_ms then
  function delay() return math.floor(-math.log(1 - math.random()) * delay_ms + 0.5) end
end
local per_request = os.getenv("WRK_PER_REQUEST") == "1"
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

local tokens = {}
local prebuilt = {}
local limit  -- set when only the first PREBUILT requests of the slice are prebuilt
local counter = 0
local body

local function format(token)
  return wrk.format("POST", "/v1/reservations",
                    {["Authorization"] = "Bearer " .. token,
                     ["Content-Type"] = "application/json"}, body)
end

function init(args)
  math.randomseed(os.time() + 1000 * id)
  for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
  local threads = tonumber(os.getenv("WRK_THREADS") or "2")
  local slice = math.floor(#tokens / threads)
  if slice < 1 then slice = #tokens end
  first = (id * slice) % #tokens
  body = '{"product_id":"' .. os.getenv("PRODUCT") .. '","quantity":1}'
  if per_request then return end
  -- wrk runs each thread's init() on its main thread just before starting that thread, so the
  -- first threads send while the later ones are still formatting: PREBUILT (requests per thread)
  -- keeps that short for a paced run, which needs far fewer requests than the slice holds; the
  -- requests beyond it are formatted as they go, from the same slice of tokens.
  local n = math.min(slice, tonumber(os.getenv("PREBUILT") or "") or slice)
  for k = 0, n - 1 do prebuilt[k + 1] = format(tokens[((first + k) % #tokens) + 1]) end
  if n < slice then
    limit = slice
  else
    tokens = nil
  end
  collectgarbage()
end

function request()
  counter = counter + 1
  if per_request then return format(tokens[((first + counter - 1) % #tokens) + 1]) end
  if limit and counter > #prebuilt then
    return format(tokens[((first + (counter - 1) % limit) % #tokens) + 1])
  end
  return prebuilt[((counter - 1) % #prebuilt) + 1]
end

if per_request then
  local status_counts = {}
  function response(status, headers, body)
    status_counts[status] = (status_counts[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f rps=%.0f errors=%d requests=%d non2xx3xx=%d\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests, summary.errors.status))
end
