-- Beacons from the organisation's other site, as /statistics/s.js sends them: a page view of
-- one of 500 pages, each request from a different browser (so a different visitor). Counts
-- the answers that accepted the hit (204) and the others.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  refused = 0
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://www.example.org",
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0." .. id .. "." .. counter .. " Safari/537.36",
  }
  local body = string.format('{"p":"/news/page-%d","r":"https://www.google.com/"}', counter % 500)
  return wrk.format("POST", "/statistics/hit", headers, body)
end

function response(status, headers, body)
  if status == 204 then accepted = accepted + 1 else refused = refused + 1 end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    r = r + t:get("refused")
  end
  io.write(string.format("accepted=%d refused=%d\n", a, r))
end
