-- Starts runs: POSTs to the trigger URL until PER_THREAD responses came back on each thread.
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
local limit = tonumber(os.getenv("PER_THREAD") or "1000")
local seen = 0
local accepted = 0
function response(status, headers, body)
  seen = seen + 1
  if status == 202 then accepted = accepted + 1 end
  if seen >= limit then wrk.thread:stop() end
end
