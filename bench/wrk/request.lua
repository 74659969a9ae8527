-- wrk script shared by every target of bench/query_alerts.py.
--
--   wrk ... -s bench/wrk/request.lua URL -- METHOD PATH BODY_FILE TOKENS_FILE
--
-- BODY_FILE is sent as a JSON body ("-" for none). TOKENS_FILE holds one bearer token a
-- line ("-" for none); each connection's requests rotate through them. Every response is
-- checked: a status other than 200, or a body with a GraphQL "errors" key, is counted as
-- bad. At the end one line "WRK_JSON {...}" carries the figures, latencies in
-- microseconds.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

function init(args)
  local method, path, body_file, tokens_file = args[1], args[2], args[3], args[4]
  local headers = {}
  local body = nil
  if body_file ~= nil and body_file ~= "-" then
    body = read_file(body_file)
    headers["Content-Type"] = "application/json"
  end
  prepared = {}
  if tokens_file ~= nil and tokens_file ~= "-" then
    for token in io.lines(tokens_file) do
      if token ~= "" then
        headers["Authorization"] = "Bearer " .. token
        table.insert(prepared, wrk.format(method, path, headers, body))
      end
    end
  else
    table.insert(prepared, wrk.format(method, path, headers, body))
  end
  counter = math.random(#prepared)
  responses = 0
  bad_responses = 0
end

function request()
  counter = counter + 1
  return prepared[(counter % #prepared) + 1]
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad_responses = bad_responses + 1
  end
end

function done(summary, latency, requests)
  local checked, bad = 0, 0
  for _, thread in ipairs(threads) do
    checked = checked + thread:get("responses")
    bad = bad + thread:get("bad_responses")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"checked_responses": %d, "bad_responses": %d, '
      .. '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "p50": %d, "p75": %d, '
      .. '"p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    checked, bad,
    latency.min, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max
  ))
end
