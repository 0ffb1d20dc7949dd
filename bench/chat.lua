-- wrk script for the gateway benchmark: POST /v1/chat/completions with an OpenAI body.
-- Settings come from the environment so one script serves every scenario:
--   BENCH_MODE   "miss": every body is unique (run nonce + thread id + counter in the user message),
--                "hit": one fixed body
--   BENCH_NONCE  a value unique to this run, so a miss run never repeats an earlier run's bodies
--   BENCH_STREAM "1" asks for SSE with stream_options.include_usage
--   BENCH_KEY    bearer token for the gateway ("" sends no Authorization header)
--   BENCH_HEADERS extra headers, "name: value" pairs separated by ";" (e.g. "x-asahi-cache: no-cache")
--   BENCH_MODEL  model name (default gpt-4o-mini)
-- done() prints one line "BENCH_JSON {...}" with requests/s, latency percentiles (ms) and error counts.

local mode = os.getenv("BENCH_MODE") or "miss"
local stream = os.getenv("BENCH_STREAM") == "1"
local key = os.getenv("BENCH_KEY") or ""
local extra = os.getenv("BENCH_HEADERS") or ""
local model = os.getenv("BENCH_MODEL") or "gpt-4o-mini"
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())

local threads = {}
local tid = 0 -- this thread's number, from the global that setup() sets in the thread's Lua state
local counter = 0
local fixed_request = nil

function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

local function body_for(question)
   local tail = ""
   if stream then
      tail = ',"stream":true,"stream_options":{"include_usage":true}'
   end
   return '{"model":"' .. model .. '","max_tokens":32,"messages":['
      .. '{"role":"system","content":"You are a terse assistant."},'
      .. '{"role":"user","content":"' .. question .. '"}]' .. tail .. '}'
end

function init(args)
   tid = thread_id or 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if key ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. key
   end
   for pair in string.gmatch(extra, "[^;]+") do
      local name, value = string.match(pair, "^%s*([^:]+):%s*(.-)%s*$")
      if name then
         wrk.headers[name] = value
      end
   end
   wrk.body = body_for("What is the capital of France? Answer in one word.")
   fixed_request = wrk.format(nil, "/v1/chat/completions")
end

function request()
   if mode == "hit" then
      return fixed_request
   end
   counter = counter + 1
   local question = "Benchmark question " .. nonce .. "-" .. tid .. "-" .. counter
      .. ": what is " .. counter .. " plus " .. tid .. "?"
   return wrk.format(nil, "/v1/chat/completions", nil, body_for(question))
end

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,'
      .. '"max_ms":%.3f,"mean_ms":%.3f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, latency.mean / 1000,
      e.connect, e.read, e.write, e.status, e.timeout))
end
