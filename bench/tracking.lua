-- Requests tracking links from a file of paths (one per line, from TOKENS), in turn, and
-- counts the answers: 200 for the pixel, 302 for a click, anything else is an error.
local paths = {}
for line in io.lines(os.getenv("TOKENS")) do
  paths[#paths + 1] = line
end
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Each thread starts at its own share of the file, so no token is requested twice in a run
-- shorter than the file (the server records the same open of a message once a minute).
function init(args)
  i = id * math.floor(#paths / 2)
  good = 0
  bad = 0
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" })
end

function response(status, headers, body)
  if status == 200 or status == 302 then good = good + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do
    g = g + t:get("good")
    b = b + t:get("bad")
  end
  io.write(string.format("good=%d bad=%d\n", g, b))
end
