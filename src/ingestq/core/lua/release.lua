--[[ release: hand attempts back to the front of pending without charging an attempt.
Used on shutdown, for jobs that could not finish within the grace period.

KEYS[1] processing
KEYS[2] stats
KEYS[3] events
KEYS[4] kinds
KEYS[5] wake

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
then pairs: job id, token (released in reverse so the first pair ends at the very front)

Returns: one code per pair, in argument order: 1 released, -1 no such job, -2 lease lost.
Events:  released
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local codes = {}
local released = 0
local npairs = (#ARGV - 3) / 2
for p = npairs, 1, -1 do
  local id, token = ARGV[2 + 2 * p], ARGV[3 + 2 * p]
  local jobkey = prefix .. 'job:' .. id
  local kind, code, claimed_at = held(jobkey, token)
  if kind then
    leave_processing(prefix, KEYS[1], id, claimed_at)
    redis.call('HINCRBY', jobkey, 'attempts', -1)
    redis.call('HSET', jobkey, 'state', 'pending', 'requeued_at', now)
    redis.call('HDEL', jobkey, 'lease_until')
    to_pending(prefix, KEYS[4], id, kind, true, false)
    bump('outcome:' .. kind .. ':released')
    emit(KEYS[3], maxlen, now, 'released', id, kind)
    released = released + 1
    code = 1
  end
  codes[p] = code
end
bump('released', released)
flush_counters(KEYS[2])
flush_wakes(KEYS[5])
return codes
