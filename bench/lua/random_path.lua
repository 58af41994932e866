-- GET WRK_PREFIX .. key .. WRK_SUFFIX for keys drawn at random from WRK_KEYS (comma-separated):
-- post slugs for /posts/slug/{slug}, post ids for /posts/{id}/comments.
local keys = {}
for key in string.gmatch(os.getenv("WRK_KEYS") or "", "[^,]+") do
  keys[#keys + 1] = key
end
local prefix = os.getenv("WRK_PREFIX") or "/"
local suffix = os.getenv("WRK_SUFFIX") or ""

request = function()
  return wrk.format("GET", prefix .. keys[math.random(#keys)] .. suffix)
end
