-- Portcullis rate limits: every check of one request, decided atomically.
--
-- This mirrors algo.go line for line (GCRA, PeekGCRA, CalendarQuota,
-- PeekCalendarQuota and the rules for several checks), in integer
-- nanoseconds, on the Redis server's clock (TIME) so that nodes with
-- drifting clocks share one timeline. A request is admitted only if every
-- check admits it, and only then is anything written: a rejected request
-- consumes nothing.
--
-- KEYS[i]   the state of check i (all under one hash tag: one Cluster slot)
-- ARGV[1]   "1" to decide a request (Allow), "0" to only look (Peek)
-- then three arguments per check i, at ARGV[3i-1], ARGV[3i], ARGV[3i+1]:
--   "r", T, B   GCRA (Rate, rolling Quota): emission interval T in
--               nanoseconds and burst B. State: the theoretical arrival
--               time (TAT) as decimal Unix nanoseconds, expiring when the
--               limit is full again (an absent key means TAT = now).
--   "q", N, at  calendar Quota of N per window. State: the count, in a
--               key named after the window's start; at is the Unix time in
--               milliseconds after which the key may vanish.
--
-- Reply: {allowed, then per check: denied, remaining, reset, retry_after}
-- with durations in nanoseconds. For a calendar quota reset and
-- retry_after are 0: the caller knows the window's end, the script does
-- not.
--
-- Numbers: Lua has only doubles, exact for integers below 2^53. Unix
-- nanoseconds (~1.8e18) are not, so times are nanoseconds after base, the
-- server's current second; differences, which is all GCRA uses, are then
-- exact for horizons T*B up to 2^53 ns (104 days) and rounded to a few
-- nanoseconds beyond. Numbers are formatted by hand before they reach
-- redis.call, which would otherwise print them with 14 digits.

local decide = ARGV[1] == '1'
local t = redis.call('TIME')
local base = tonumber(t[1])
local now = tonumber(t[2]) * 1000
local GIGA = 1000000000

-- floordiv is floor(a/b) for integers a >= 0, b > 0, corrected for a
-- quotient the double division rounded across an integer.
local function floordiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

-- readtat returns a stored TAT relative to base; absent means full (now).
local function readtat(s)
  if not s or #s < 10 then
    return now
  end
  local hi = tonumber(string.sub(s, 1, -10))
  local lo = tonumber(string.sub(s, -9))
  if not hi or not lo then
    return now
  end
  return (hi - base) * GIGA + lo
end

local function formattat(v)
  local s = math.floor(v / GIGA)
  return string.format('%d%09d', base + s, v - s * GIGA)
end

-- GCRA of algo.go: returns next TAT (nil when denied) and the state.
local function gcra(tat, T, B)
  local tau = T * (B - 1)
  if tat < now then
    tat = now
  end
  local d = tat - now
  if d > tau then
    return nil, {1, 0, d, d - tau}
  end
  local nxt = tat + T
  d = nxt - now
  return nxt, {0, floordiv(T * B - d, T), d, 0}
end

-- PeekGCRA of algo.go.
local function peekgcra(tat, T, B)
  local tau = T * (B - 1)
  local d = tat - now
  if d < 0 then
    d = 0
  end
  local st = {0, floordiv(math.max(0, T * B - d), T), d, 0}
  if d > tau then
    st[1], st[4] = 1, d - tau
  end
  return st
end

-- CalendarQuota and PeekCalendarQuota of algo.go, without the durations.
local function calendar(count, N)
  if count >= N then
    return nil, {1, 0, 0, 0}
  end
  return count + 1, {0, N - count - 1, 0, 0}
end

local function peekcalendar(count, N)
  if count >= N then
    return {1, 0, 0, 0}
  end
  return {0, N - count, 0, 0}
end

local stored = {}   -- state read from Redis, by key
local pending = {}  -- state as it would be after the checks so far
local expire = {}   -- by key: 'r' for a TAT, or the count's PXAT
local states = {}
local allowed = true

for i = 1, #KEYS do
  local key = KEYS[i]
  local kind = ARGV[3 * i - 1]
  local a = tonumber(ARGV[3 * i])
  local b = tonumber(ARGV[3 * i + 1])
  if stored[key] == nil then
    local s = redis.call('GET', key)
    if kind == 'r' then
      stored[key] = readtat(s)
    else
      stored[key] = tonumber(s) or 0
    end
    pending[key] = stored[key]
  end
  local nxt, st
  if not decide then
    if kind == 'r' then
      st = peekgcra(stored[key], a, b)
    else
      st = peekcalendar(stored[key], a)
    end
  elseif kind == 'r' then
    nxt, st = gcra(pending[key], a, b)
    expire[key] = 'r'
  else
    nxt, st = calendar(pending[key], a)
    expire[key] = b
  end
  if nxt then
    pending[key] = nxt
  elseif decide then
    allowed = false
  end
  states[i] = st
end

if decide and not allowed then
  -- Nothing is consumed: the checks that admitted report their peek state.
  for i = 1, #KEYS do
    if states[i][1] == 0 then
      local key = KEYS[i]
      if ARGV[3 * i - 1] == 'r' then
        states[i] = peekgcra(stored[key], tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]))
      else
        states[i] = peekcalendar(stored[key], tonumber(ARGV[3 * i]))
      end
    end
  end
end

if decide and allowed then
  for key, e in pairs(expire) do
    local v = pending[key]
    if e == 'r' then
      -- The key lives until the limit is full again, when an absent key
      -- means the same: an idle key costs nothing.
      local ms = math.ceil((v - now) / 1000000)
      if ms < 1 then
        ms = 1
      end
      redis.call('SET', key, formattat(v), 'PX', string.format('%d', ms))
    else
      redis.call('SET', key, string.format('%d', v), 'PXAT', string.format('%d', e))
    end
  end
end

local out = {0}
if allowed then
  out[1] = 1
end
for i = 1, #KEYS do
  local st = states[i]
  out[4 * i - 2], out[4 * i - 1], out[4 * i], out[4 * i + 1] = st[1], st[2], st[3], st[4]
end
return out
