-- Resumes waiting runs: each thread POSTs to its share of the callback URLs in URL_FILE, once each.
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local paths = {}
local cursor = 0
resumed, other = 0, 0  -- globals: done() reads them with thread:get
function init(args)
  local count = tonumber(os.getenv("THREADS") or "1")
  local index = 0
  for line in io.lines(os.getenv("URL_FILE")) do
    local path = line:match("^https?://[^/]+(/.*)$")
    if path and index % count == id then table.insert(paths, path) end
    index = index + 1
  end
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  cursor = cursor + 1
  if cursor > #paths then
    wrk.thread:stop()
    cursor = #paths
  end
  return wrk.format("POST", paths[cursor], nil, '{"approved":true}')
end

function response(status, headers, body)
  if status == 200 and body:find('"resumed"', 1, true) then resumed = resumed + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_resumed, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_resumed = total_resumed + thread:get("resumed")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format("resumed %d, other answers %d\n", total_resumed, total_other))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
