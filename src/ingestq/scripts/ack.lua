--[[ ack: complete a batch of attempts, then trim finished jobs by age and count.

KEYS[1] processing
KEYS[2] done        zset id -> finished ms
KEYS[3] dedupe
KEYS[4] stats
KEYS[5] events

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] keep finished jobs this many ms
ARGV[5] keep at most this many finished jobs
then triples: job id, token, result JSON ('' = none)

Returns: one code per triple: 1 completed, -1 no such job, -2 lease lost (stale token or the job
         is not processing; nothing was changed).
Events:  completed
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local codes = {}
local completed = 0
for i = 6, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local jobkey = prefix .. 'job:' .. id
  local kind, code, claimed_at, dkey = held(jobkey, token)
  if kind then
    leave_processing(prefix, KEYS[1], id, claimed_at)
    redis.call('ZADD', KEYS[2], now, id)
    record_duration(kind, now - (tonumber(claimed_at) or now))
    if result ~= '' then
      redis.call('HSET', jobkey, 'state', 'done', 'finished_at', now, 'result', result)
    else
      redis.call('HSET', jobkey, 'state', 'done', 'finished_at', now)
    end
    redis.call('HDEL', jobkey, 'lease_until')
    if dkey and dkey ~= '' and redis.call('HGET', KEYS[3], dkey) == id then
      redis.call('HDEL', KEYS[3], dkey)
    end
    bump('outcome:' .. kind .. ':completed')
    emit(KEYS[5], maxlen, now, 'completed', id, kind)
    completed = completed + 1
    code = 1
  end
  table.insert(codes, code)
end
bump('completed', completed)

-- trim: bounded work per call, so an ack never stalls the server
local function drop(ids)
  for _, id in ipairs(ids) do
    redis.call('DEL', prefix .. 'job:' .. id)
    redis.call('ZREM', KEYS[2], id)
  end
  bump('trimmed', #ids)
end
drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 200))
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if excess > 0 then
  if excess > 200 then excess = 200 end
  drop(redis.call('ZRANGE', KEYS[2], 0, excess - 1))
end
flush_counters(KEYS[4])
return codes
