-- POST a JSON body. WRK_BODY is the body, where each `{n}` becomes a random number per request
-- (posts get titles of their own, as a blog's do); WRK_AUTH, when set, the Authorization header.
wrk.method = "POST"
local body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

function setup(thread)
  thread:set("id", tostring(thread))
end

function init(args)
  math.randomseed(os.time() + (tonumber(string.match(tostring(id or ""), "%x+$") or "0", 16) or 0))
end

request = function()
  local n = tostring(math.random(1, 1000000000))
  return wrk.format(nil, nil, nil, (string.gsub(body, "{n}", n)))
end
