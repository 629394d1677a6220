--[[ run_now: make a scheduled job due now; the next claim promotes it to pending.

KEYS[1] scheduled
KEYS[2] events
KEYS[3] wake

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] job id

Returns: 1 due now, -1 no such job, -3 not scheduled (left as it is).
Events:  run_now
]]
--!include common.lua

local now = now_ms(ARGV[2])
local id = ARGV[4]
local jobkey = job_key(ARGV[1], id)
local kind = redis.call('HGET', jobkey, 'kind')
if not kind then return -1 end
if not redis.call('ZSCORE', KEYS[1], id) then return -3 end
redis.call('ZADD', KEYS[1], now, id)
redis.call('HSET', jobkey, 'due_at', now)
emit(KEYS[2], ARGV[3], now, 'run_now', id, kind)
wake()
flush_wakes(KEYS[3])
return 1
