-- Decides one request of one client, and counts it if accepted.
--
-- The log of a client is a sorted set with one member per slot of accepted
-- requests, scored by the time, in microseconds since the Unix epoch, of
-- the slot's latest request. A member is "<seq>:<n>": the slot holds n
-- requests, and seq numbers its latest one among all requests the log has
-- counted. Slots follow one another without gaps, so the requests in the
-- log are newest.seq - oldest.seq + oldest.n, found in two lookups. seq is
-- written with 16 digits, so that slots of equal score sort in the order
-- they were added, and it makes every member unique, even for requests of
-- the same microsecond.
--
-- KEYS[1]  the log
-- ARGV[1]  N: a request is accepted when fewer than N lie in the window
-- ARGV[2]  the period, in microseconds
-- ARGV[3]  the slot width, in microseconds: 0 for one slot per request,
--          else requests of the same slot of that width count as one
--          slot, at the time of the latest
-- ARGV[4]  the time, in microseconds, or "" for the server's clock
--
-- Returns {1 if accepted else 0, the requests counted before this one,
-- the microseconds until a request is accepted again (0 if accepted)}.

-- Redis before 5 replicates a script by its text unless told to replicate
-- its writes, and then refuses writes after TIME.
if redis.replicate_commands then
  redis.replicate_commands()
end

local key = KEYS[1]
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local width = tonumber(ARGV[3])
local clock
if ARGV[4] == '' then
  local t = redis.call('TIME')
  clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  clock = tonumber(ARGV[4])
end

-- Numbers are passed to Redis as integer strings: Lua would write large
-- ones in exponent form.
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

-- A clock that goes back (another replica's, or the server's after a
-- correction) does not reorder the log: the request is taken as made at
-- the time of the latest one.
local now = clock
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local lastSeq, lastN, lastAt = 0, 0, nil
if last[1] then
  lastSeq, lastN = parse(last[1])
  lastAt = tonumber(last[2])
  if lastAt > now then
    now = lastAt
  end
end

-- Requests made a whole period ago or earlier have left the window.
redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - period))

local count = 0
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if first[1] then
  local seq, n = parse(first[1])
  count = lastSeq - seq + n
  if count >= limit then
    -- Refused, until the slot whose leaving brings the count under N has
    -- left: the oldest, unless N was lowered since the log was written.
    local at = tonumber(first[2])
    if lastSeq - seq >= limit then
      local slots = redis.call('ZRANGE', key, 1, int(count - limit), 'WITHSCORES')
      for i = 1, #slots, 2 do
        if lastSeq - parse(slots[i]) < limit then
          at = tonumber(slots[i + 1])
          break
        end
      end
    end
    return {0, count, at + period - now}
  end
else
  -- Every slot has left: the log starts anew.
  lastSeq, lastAt = 0, nil
end

if width > 0 and lastAt and math.floor(lastAt / width) == math.floor(now / width) then
  redis.call('ZREM', key, last[1])
  redis.call('ZADD', key, int(now), string.format('%016d:%d', lastSeq + 1, lastN + 1))
else
  redis.call('ZADD', key, int(now), string.format('%016d:1', lastSeq + 1))
end
-- The log goes when its latest request leaves the window.
redis.call('PEXPIRE', key, int(math.ceil((now + period - clock) / 1000)))
return {1, count, 0}
