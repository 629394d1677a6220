--[[ dead_retry: give dead jobs a fresh start at the back of pending, budgets reset.

KEYS[1] dead
KEYS[2] dedupe
KEYS[3] stats
KEYS[4] events
KEYS[5] kinds
KEYS[6] wake

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
then job ids

Returns: one code per id: 1 retried, -1 no such job, -3 not dead (left as it is).
Events:  dead_retried
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local codes = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local jobkey = prefix .. 'job:' .. id
  local f = redis.call('HMGET', jobkey, 'state', 'kind', 'dedupe_key')
  if f[1] == false then
    table.insert(codes, -1)
  elseif f[1] ~= 'dead' or redis.call('ZREM', KEYS[1], id) == 0 then
    table.insert(codes, -3)
  else
    redis.call('HSET', jobkey, 'attempts', 0, 'failures', 0, 'crash_recoveries', 0,
      'requeued_at', now)
    redis.call('HDEL', jobkey, 'dead_reason', 'finished_at', 'failed_at')
    if f[3] and f[3] ~= '' then redis.call('HSETNX', KEYS[2], f[3], id) end
    redis.call('HSET', jobkey, 'state', 'pending')
    to_pending(prefix, KEYS[5], id, f[2], false, true)
    bump('dead_retried')
    emit(KEYS[4], maxlen, now, 'dead_retried', id, f[2])
    table.insert(codes, 1)
  end
end
flush_counters(KEYS[3])
flush_wakes(KEYS[6])
return codes
