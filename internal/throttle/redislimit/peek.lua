-- Tells what allow.lua would decide for one client, counting nothing: the
-- log is only read. See allow.lua for the log's layout.
--
-- KEYS[1]  the log
-- ARGV[1]  N: a request is accepted when fewer than N lie in the window
-- ARGV[2]  the period, in microseconds
-- ARGV[3]  the time, in microseconds, or "" for the server's clock
--
-- Returns {1 if a request would be accepted else 0, the requests counted
-- in the window, the microseconds until a request is accepted again (0 if
-- one would be now)}.

local key = KEYS[1]
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end

local function int(x)
  return string.format('%d', x)
end

local function parse(member)
  local seq, n = string.match(member, '^(%d+):(%d+)$')
  if not seq then
    error('not a throttle log: ' .. key)
  end
  return tonumber(seq), tonumber(n)
end

local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if not last[1] then
  return {1, 0, 0}
end
local lastSeq = parse(last[1])
-- As in allow.lua, a clock behind the latest request is taken as its time.
local lastAt = tonumber(last[2])
if lastAt > now then
  now = lastAt
end

-- The slots still in the window are those scored after now - period:
-- allow.lua removes the others before deciding.
local since = '(' .. int(now - period)
local first = redis.call('ZRANGEBYSCORE', key, since, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if not first[1] then
  return {1, 0, 0}
end
local seq, n = parse(first[1])
local count = lastSeq - seq + n
if count < limit then
  return {1, count, 0}
end
local at = tonumber(first[2])
if lastSeq - seq >= limit then
  local slots = redis.call('ZRANGEBYSCORE', key, since, '+inf', 'WITHSCORES', 'LIMIT', 1, count - limit)
  for i = 1, #slots, 2 do
    if lastSeq - parse(slots[i]) < limit then
      at = tonumber(slots[i + 1])
      break
    end
  end
end
return {0, count, at + period - now}
