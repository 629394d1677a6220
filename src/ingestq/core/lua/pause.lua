--[[ pause: stop workers claiming one kind. Running jobs of the kind finish; pending ones wait.

claim.lua reads the paused set on every call, so the next claim of every worker skips the kind.

KEYS[1] paused  set of paused kinds
KEYS[2] events

ARGV[1] now override ('' = server TIME)
ARGV[2] events max length
ARGV[3] kind

Returns: 1 paused now, 0 it was paused already.
Events:  paused (job '', kind)
]]
--!include common.lua

local now = now_ms(ARGV[1])
local added = redis.call('SADD', KEYS[1], ARGV[3])
if added == 1 then emit(KEYS[2], ARGV[2], now, 'paused', '', ARGV[3]) end
return added
