--[[ dead_purge: delete dead jobs for good.

KEYS[1] dead
KEYS[2] stats
KEYS[3] events

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
then job ids

Returns: one code per id: 1 purged, -1 no such job, -3 not dead (left as it is).
Events:  purged
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local codes = {}
local purged = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local jobkey = prefix .. 'job:' .. id
  local f = redis.call('HMGET', jobkey, 'state', 'kind')
  if f[1] == false then
    table.insert(codes, -1)
  elseif f[1] ~= 'dead' then
    table.insert(codes, -3)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', jobkey)
    emit(KEYS[3], maxlen, now, 'purged', id, f[2])
    purged = purged + 1
    table.insert(codes, 1)
  end
end
bump('purged', purged)
flush_counters(KEYS[2])
return codes
