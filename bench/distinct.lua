-- wrk script for bench/memory.py: POST /v1/chat/completions with prompts of random words, every one distinct
-- (tier 1 misses; tier 2 searches, finds nothing close and stores the answer).
--   BENCH_KEY    bearer token for the gateway
--   BENCH_WORDS  a file with one word a line to draw prompts from
--   BENCH_NONCE  a number unique to this run (seeds the draws and makes every prompt unique)
-- done() prints one line "BENCH_JSON {...}" with requests/s, latency percentiles (ms) and error counts.

local key = os.getenv("BENCH_KEY") or ""
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())

local threads = {}
local tid = 0
local words = {}
local counter = 0

function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   tid = thread_id or 0
   for line in io.lines(os.getenv("BENCH_WORDS")) do
      words[#words + 1] = line
   end
   math.randomseed(tonumber(string.sub(nonce, -9)) + tid)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
   counter = counter + 1
   local picked = {}
   for i = 1, math.random(8, 20) do
      picked[i] = words[math.random(#words)]
   end
   local question = table.concat(picked, " ") .. " (" .. nonce .. "-" .. tid .. "-" .. counter .. ")?"
   return wrk.format(nil, "/v1/chat/completions", nil,
      '{"model":"gpt-4o-mini","max_tokens":32,"messages":['
      .. '{"role":"system","content":"You are a terse assistant."},'
      .. '{"role":"user","content":"' .. question .. '"}]}')
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
