--[[ heartbeat: extend the leases a worker holds and publish the worker as alive.

KEYS[1] processing  zset id -> lease deadline ms
KEYS[2] workers     zset worker id -> last beat ms

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] lease ms
ARGV[4] worker id
ARGV[5] worker record ttl ms (the worker hash expires if beats stop)
then pairs: job id, token

Returns: the ids whose lease is lost (job gone, no longer processing, or token stale). Lost
         leases are left untouched: the worker must stop those attempts and never ack them.
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local lease = tonumber(ARGV[3])
local worker = ARGV[4]
local lost = {}
local held_count = 0
for i = 6, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local jobkey = prefix .. 'job:' .. id
  local kind = held(jobkey, token)
  if kind then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, id)
    redis.call('HSET', jobkey, 'lease_until', now + lease)
    held_count = held_count + 1
  else
    table.insert(lost, id)
  end
end
local wkey = prefix .. 'worker:' .. worker
redis.call('ZADD', KEYS[2], now, worker)
redis.call('HSET', wkey, 'last_beat', now, 'current_jobs', held_count)
redis.call('PEXPIRE', wkey, tonumber(ARGV[5]))
return lost
