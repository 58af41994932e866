-- GET /posts/{id} for ids drawn at random from WRK_IDS (comma-separated published post ids).
local ids = {}
for id in string.gmatch(os.getenv("WRK_IDS") or "", "%d+") do
  ids[#ids + 1] = id
end

request = function()
  return wrk.format("GET", "/posts/" .. ids[math.random(#ids)])
end
