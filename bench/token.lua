-- wrk script for bench/ab-token: POST client_credentials token requests,
-- HTTP Basic client authentication.
--   wrk -t2 -c32 -d10s -s bench/token.lua http://127.0.0.1:3000/token
-- env: CLIENT_ID (bench) CLIENT_SECRET (bench-secret)
--      RESOURCE (https://api.example; "-" = none) SCOPE (api:read; "-" = none)

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function urlencode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

-- wrk's Lua has no base64.
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = string.byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1) ..
      (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

-- RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64.
local function basic_auth(id, secret)
  return "Basic " .. base64(urlencode(id) .. ":" .. urlencode(secret))
end

local resource = env("RESOURCE", "https://api.example")
local scope = env("SCOPE", "api:read")
local body = "grant_type=client_credentials"
if resource ~= "-" then body = body .. "&resource=" .. urlencode(resource) end
if scope ~= "-" then body = body .. "&scope=" .. urlencode(scope) end

wrk.method = "POST"
wrk.headers["Authorization"] = basic_auth(env("CLIENT_ID", "bench"), env("CLIENT_SECRET", "bench-secret"))
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.body = body
