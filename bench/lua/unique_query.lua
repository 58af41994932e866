-- GET WRK_PATH with each `{n}` replaced by a random number per request: a URL no page cache has
-- kept (Quill ignores query parameters it does not know), so every request runs the handler.
local path = os.getenv("WRK_PATH") or "/"

function setup(thread)
  thread:set("id", tostring(thread))
end

function init(args)
  math.randomseed(os.time() + (tonumber(string.match(tostring(id or ""), "%x+$") or "0", 16) or 0))
end

request = function()
  local n = tostring(math.random(1, 1000000000))
  return wrk.format("GET", (string.gsub(path, "{n}", n)))
end
