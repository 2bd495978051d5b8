-- wrk script: POST the same tip body with a fresh Idempotency-Key per request (as distinct phones would).
-- BODY and TOKEN come from the environment; the benchmark driver sets them.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  wrk.method = "POST"
  wrk.body = os.getenv("BODY")
  wrk.headers["Content-Type"] = "application/json"
  if os.getenv("CLOSE") == "1" then
    wrk.headers["Connection"] = "close"
  end
  local token = os.getenv("TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", thread_id, counter, os.time())
  return wrk.format(nil, nil, nil, nil)
end
