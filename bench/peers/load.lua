-- wrk script for bench/peers/run.py: the same requests as bench/load.mjs, from a C client so the
-- client costs the shared cores little. Each connection sends its next request when the previous
-- one is answered (closed loop).
--   wrk -t T -c C -d S -s bench/peers/load.lua URL -- WORKLOAD ACCOUNTS
-- WORKLOAD: health (GET /health/liveness) or debit (POST /accounts/NAME/debit {"amount":1});
-- ACCOUNTS: 1 debits the account `hot`, N > 1 cycles through acct0..acct(N-1).
-- Prints one JSON line: requests, duration_us, errors (socket errors + non-2xx), p50_us, p99_us.

local thread_count = 0

function setup(thread)
  thread:set("offset", thread_count * 7919)
  thread_count = thread_count + 1
end

local workload, accounts, counter, fixed

function init(args)
  workload = args[1] or "health"
  accounts = tonumber(args[2] or "1")
  counter = tonumber(offset or 0)
  if workload == "health" then
    fixed = wrk.format("GET", "/health/liveness")
  else
    wrk.method = "POST"
    wrk.body = '{"amount":1}'
    wrk.headers["Content-Type"] = "application/json"
    if accounts <= 1 then fixed = wrk.format(nil, "/accounts/hot/debit") end
  end
end

function request()
  if fixed then return fixed end
  counter = counter + 1
  return wrk.format(nil, "/accounts/acct" .. (counter % accounts) .. "/debit")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
