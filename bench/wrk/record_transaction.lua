-- wrk script of bench/event_path.py: recordTransaction (or recordTransactions), every
-- event new.
--
--   wrk ... -s bench/wrk/record_transaction.lua URL -- \
--       PATH TOKEN FIRST_USER ACCOUNTS TAG MODE BATCH KIND
--
-- MODE "single" sends one event per request (recordTransaction), "batch" sends BATCH
-- events per request (recordTransactions), "insert" posts the single event's body to the
-- bare-insert baseline. Each event's eventId and transactionId are TAG, the thread's
-- number and the thread's own counter, so no two requests of any run collide. Accounts
-- are picked at random among ACCOUNTS seeded ones (user ids FIRST_USER ...; account
-- "10" .. the id in 8 digits); a batch takes BATCH consecutive, distinct accounts. KIND
-- "plain": a debit that raises nothing; "large": one that raises LARGE_TRANSACTION.
--
-- Every response is checked: a status other than 200, a GraphQL "errors" key or an item
-- not accepted is counted as bad. The last line, "WRK_JSON {...}", carries the figures in
-- the format of bench/wrk/request.lua, latencies in microseconds.

local threads = {}
local thread_count = 0

local ONE = 'mutation($input: TransactionEventInput!) { recordTransaction(input: $input) '
  .. '{ eventId accepted duplicate alerts { id alertType } } }'
local MANY = 'mutation($inputs: [TransactionEventInput!]!) { recordTransactions(inputs: $inputs) '
  .. '{ eventId accepted duplicate error { code message } } }'

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  path, token = args[1], args[2]
  first_user, accounts = tonumber(args[3]), tonumber(args[4])
  tag, mode, batch, kind = args[5], args[6], tonumber(args[7]), args[8]
  math.randomseed(os.time() + 7919 * (tid + 1))
  counter = 0
  responses = 0
  bad_responses = 0
  refused_items = 0
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end

local function amount()
  if kind == "large" then
    return string.format("%d.%02d", math.random(50001, 2000000), math.random(0, 99))
  end
  return string.format("%d.%02d", math.random(100, 39999), math.random(0, 99))
end

local function event(account_index, stamp)
  counter = counter + 1
  local id = tag .. "-" .. tid .. "-" .. counter
  local user = first_user + account_index % accounts
  return '{"eventId":"' .. id .. '","accountNumber":"' .. string.format("10%08d", user)
    .. '","transactionId":"TX-' .. id .. '","transactionReference":"FT'
    .. math.random(1000000000, 2000000000) .. '","transactionDescription":"Merchant payment",'
    .. '"transactionType":"DEBIT","amount":"' .. amount() .. '","currency":"MWK",'
    .. '"balanceAfter":"' .. math.random(250000, 5000000) .. '.00","ipAddress":"102.70.1.1",'
    .. '"occurredAt":"' .. stamp .. '"}'
end

function request()
  local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local start = math.random(0, accounts - 1)
  local body
  if mode == "batch" then
    local items = {}
    for i = 1, batch do
      items[i] = event(start + i - 1, stamp)
    end
    body = '{"query":"' .. MANY .. '","variables":{"inputs":[' .. table.concat(items, ",")
      .. ']}}'
  else
    body = '{"query":"' .. ONE .. '","variables":{"input":' .. event(start, stamp) .. '}}'
  end
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
