-- A mixed load for bench/scale.sh, ten requests in turn: four pages (the open poll and the
-- privacy notice), three votes in the poll open to anyone (each from a new browser, so each
-- is written), three open-pixel hits (each a different recipient's signed token, from the
-- file TOKENS). Counts answers by class: a page 200, a vote 303, a pixel 200 are good; any
-- other 4xx and every 5xx are counted apart.
local paths = {}
for line in io.lines(os.getenv("TOKENS")) do
  paths[#paths + 1] = line
end
local poll = os.getenv("POLL")
local csrf = os.getenv("CSRF")
local option = os.getenv("OPTION")
-- Unique per wrk run, so a browser of one run is never taken for one of the run before.
local run = os.getenv("RUN") or ""
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  i = id * 100003
  good = 0
  client = 0
  server = 0
end

function request()
  n = n + 1
  local k = n % 10
  if k < 3 then
    return wrk.format("GET", "/polls/" .. poll)
  elseif k == 3 then
    return wrk.format("GET", "/privacy")
  elseif k < 7 then
    local headers = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Sec-Fetch-Site"] = "same-origin",
      ["User-Agent"] = "mixed-" .. run .. "-" .. id .. "-" .. n,
    }
    return wrk.format("POST", "/polls/" .. poll .. "/vote", headers,
      "csrf=" .. csrf .. "&option=" .. option)
  end
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" })
end

function response(status, headers, body)
  if status == 200 or status == 303 then
    good = good + 1
  elseif status >= 500 then
    server = server + 1
  else
    client = client + 1
  end
end

function done(summary, latency, requests)
  local g, c, s = 0, 0, 0
  for _, t in ipairs(threads) do
    g = g + t:get("good")
    c = c + t:get("client")
    s = s + t:get("server")
  end
  io.write(string.format("good=%d client_errors=%d server_errors=%d p50_ms=%.1f p99_ms=%.1f\n",
    g, c, s, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
