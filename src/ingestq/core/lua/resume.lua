--[[ resume: let workers claim a paused kind again, and wake idle workers for its pending jobs.

KEYS[1] paused  set of paused kinds
KEYS[2] events
KEYS[3] wake

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] kind

Returns: 1 resumed now, 0 it was not paused.
Events:  resumed (job '', kind)
]]
--!include common.lua

local now = now_ms(ARGV[2])
local removed = redis.call('SREM', KEYS[1], ARGV[4])
if removed == 1 then
  emit(KEYS[2], ARGV[3], now, 'resumed', '', ARGV[4])
  local waiting = redis.call('LLEN', ARGV[1] .. 'pending:' .. ARGV[4])
  for _ = 1, math.min(waiting, 64) do wake() end
  flush_wakes(KEYS[3])
end
return removed
