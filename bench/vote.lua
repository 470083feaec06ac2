-- Votes in poll 1 of a fresh demo, each from a different browser (so each is a new voter and
-- should be counted). Counts the answers that accepted a vote (303).
local counter = 0
local threads = {}
local token = os.getenv("CSRF") or ""
local option = os.getenv("OPTION") or "1"

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
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Sec-Fetch-Site"] = "same-origin",
    ["User-Agent"] = "bench-" .. id .. "-" .. counter,
  }
  return wrk.format("POST", "/polls/1/vote", headers, "csrf=" .. token .. "&option=" .. option)
end

function response(status, headers, body)
  if status == 303 then accepted = accepted + 1 else refused = refused + 1 end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    r = r + t:get("refused")
  end
  io.write(string.format("accepted=%d refused=%d\n", a, r))
end
