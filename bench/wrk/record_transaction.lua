-- wrk script of the event-path benchmarks: POSTs request bodies built by
-- bench/event_mix.py (recordTransaction, recordLogin, recordTransactions), every event new.
--
--   wrk ... -s bench/wrk/record_transaction.lua URL -- PATH TOKEN BODIES_FILE TAG
--
-- BODIES_FILE holds one JSON request body a line, templates with two marks: each "@ID@"
-- becomes TAG, the thread's number and the thread's own counter (so no two events,
-- transactions or new devices of any run collide), "@AT@" the time the request is built
-- (UTC, to the second, with the counter as microseconds so that one thread's event times
-- increase). Each thread starts at its own place in the file and goes round it. The same
-- bodies can be posted to the bare-insert baseline (PATH /insert).
--
-- TOKEN and BODIES_FILE may each be a comma-separated list: thread n then sends the n-th
-- (counting round), so that with one connection a thread each, each connection is a
-- caller of its own with customers of its own.
--
-- Every response is checked: a status other than 200, a GraphQL "errors" key or an item
-- not accepted is counted as bad. The last line, "WRK_JSON {...}", carries the figures in
-- the format of bench/wrk/request.lua, latencies in microseconds.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function nth(list, n)
  local items = {}
  for item in string.gmatch(list, "[^,]+") do
    table.insert(items, item)
  end
  return items[n % #items + 1]
end

function init(args)
  path, tag = args[1], args[4]
  token, bodies_file = nth(args[2], tid), nth(args[3], tid)
  bodies = {}
  for line in io.lines(bodies_file) do
    if line ~= "" then
      table.insert(bodies, line)
    end
  end
  position = (tid * 7919) % #bodies
  counter = 0
  responses = 0
  bad_responses = 0
  refused_items = 0
  prefix = tag .. "-" .. tid .. "-"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end

local function new_id()
  counter = counter + 1
  return prefix .. counter
end

function request()
  position = position % #bodies + 1
  local stamp = os.date("!%Y-%m-%dT%H:%M:%S") .. string.format(".%06dZ", counter % 1000000)
  local body = string.gsub(string.gsub(bodies[position], "@AT@", stamp), "@ID@", new_id)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad_responses = bad_responses + 1
    return
  end
  local _, refused = string.gsub(body, '"accepted":false', "")
  if refused > 0 then
    bad_responses = bad_responses + 1
    refused_items = refused_items + refused
  end
end

function done(summary, latency, requests)
  local checked, bad, refused = 0, 0, 0
  for _, thread in ipairs(threads) do
    checked = checked + thread:get("responses")
    bad = bad + thread:get("bad_responses")
    refused = refused + thread:get("refused_items")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"checked_responses": %d, "bad_responses": %d, "refused_items": %d, '
      .. '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "p50": %d, "p75": %d, '
      .. '"p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    checked, bad, refused,
    latency.min, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max
  ))
end
