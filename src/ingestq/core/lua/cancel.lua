--[[ cancel: end a job for good on an operator's word: dead with reason `cancelled`, never retried.

pending or scheduled: taken off its list or zset and moved to dead.
processing: moved to dead at once as well. That revokes the lease (the holder's token no longer
matches, so its ack, fail or release is refused and no retry can follow), and 'id:token' is
added to the cancelled zset, which the holding worker polls to stop the handler: the stop event
at once, and in process isolation the child is killed after a grace period.

KEYS[1] scheduled
KEYS[2] processing
KEYS[3] dead
KEYS[4] dedupe
KEYS[5] stats
KEYS[6] events
KEYS[7] cancelled   zset 'id:token' -> ms, trimmed to the last hour
KEYS[8] claimed     zset id -> claimed ms (in-flight ages)

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] job id
ARGV[5] error history length

Returns: {code, state the job was in}: 1 cancelled, -1 no such job, -3 already done or dead.
Events:  dead (reason cancelled), cancelled (field from: pending | scheduled | processing)
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local id = ARGV[4]
local jobkey = job_key(prefix, id)
local f = redis.call('HMGET', jobkey, 'state', 'kind', 'token', 'claimed_at', 'attempts', 'worker')
local state, kind = f[1], f[2]
if state == false then return {-1, ''} end
if state ~= 'pending' and state ~= 'scheduled' and state ~= 'processing' then
  return {-3, state}
end

if state == 'pending' then
  redis.call('LREM', pending_key(prefix, kind), 1, id)
elseif state == 'scheduled' then
  redis.call('ZREM', KEYS[1], id)
else
  leave_processing(KEYS[2], KEYS[8], id, f[4])
  record_duration(kind, now - (tonumber(f[4]) or now))
  redis.call('ZADD', KEYS[7], now, id .. ':' .. f[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - 3600000)
  bump('outcome:' .. kind .. ':cancelled')
end
local entry = {type = 'Cancelled', message = 'cancelled by an operator while ' .. state,
  traceback = '', reason = 'cancelled', at = now}
if state == 'processing' then
  entry['attempt'] = tonumber(f[5])
  entry['worker'] = f[6]
end
push_error(jobkey, cjson.encode(entry), tonumber(ARGV[5]))
redis.call('HSET', jobkey, 'last_error', 'Cancelled: ' .. entry['message'])
to_dead(KEYS[3], KEYS[4], KEYS[6], maxlen, jobkey, id, kind, 'cancelled', now)
bump('cancelled')
emit(KEYS[6], maxlen, now, 'cancelled', id, kind, 'from', state)
flush_counters(KEYS[5])
return {1, state}
