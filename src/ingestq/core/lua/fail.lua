--[[ fail: end one attempt that failed.

mode retry:     failures+1; scheduled again after backoff while failures <= max_retries,
                else dead with reason retries_exhausted.
mode permanent: dead at once with reason permanent.
mode crash:     the handler's process died (process isolation): crash_recoveries+1; back to
                pending at once while within the crash budget, else dead with reason poison.

KEYS[1] processing
KEYS[2] scheduled
KEYS[3] dead
KEYS[4] dedupe
KEYS[5] stats
KEYS[6] events
KEYS[7] kinds
KEYS[8] wake

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] job id
ARGV[5] token
ARGV[6] mode: retry | permanent | crash
ARGV[7] error entry, JSON object (type, message, traceback, reason); attempt, worker, at added
ARGV[8] backoff base ms
ARGV[9] backoff cap ms
ARGV[10] jitter factor (0..1], multiplied into the delay
ARGV[11] crash budget (max crash recoveries)
ARGV[12] error history length

Returns: {code, detail}: 1 scheduled (detail = delay ms), 2 dead (detail = reason),
         3 back to pending (crash within budget), -1 no such job, -2 lease lost.
Events:  failed, retry_scheduled | dead | crashed
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local id, token, mode = ARGV[4], ARGV[5], ARGV[6]
local jobkey = prefix .. 'job:' .. id
local kind, code, claimed_at = held(jobkey, token)
if not kind then return {code, ''} end

local f = redis.call('HMGET', jobkey, 'attempts', 'worker', 'max_retries')
local entry = cjson.decode(ARGV[7])
entry['attempt'] = tonumber(f[1])
entry['worker'] = f[2]
entry['at'] = now
push_error(jobkey, cjson.encode(entry), tonumber(ARGV[12]))
redis.call('HSET', jobkey, 'last_error', (entry['type'] or 'Error') .. ': ' .. (entry['message'] or ''))
leave_processing(prefix, KEYS[1], id, claimed_at)
record_duration(kind, now - (tonumber(claimed_at) or now))

if mode == 'crash' then
  local crashes = redis.call('HINCRBY', jobkey, 'crash_recoveries', 1)
  bump('crashed')
  bump('outcome:' .. kind .. ':crashed')
  if crashes > tonumber(ARGV[11]) then
    to_dead(prefix, KEYS[3], KEYS[4], KEYS[5], jobkey, id, kind, 'poison', now)
    emit(KEYS[6], maxlen, now, 'dead', id, kind, 'reason', 'poison')
    flush_counters(KEYS[5])
    return {2, 'poison'}
  end
  redis.call('HSET', jobkey, 'state', 'pending', 'requeued_at', now)
  redis.call('HDEL', jobkey, 'lease_until')
  to_pending(prefix, KEYS[7], id, kind, false, false)
  emit(KEYS[6], maxlen, now, 'crashed', id, kind, 'crash_recoveries', crashes)
  flush_counters(KEYS[5])
  flush_wakes(KEYS[8])
  return {3, ''}
end

bump('failed')
bump('outcome:' .. kind .. ':failed')
if mode == 'permanent' then
  to_dead(prefix, KEYS[3], KEYS[4], KEYS[5], jobkey, id, kind, 'permanent', now)
  emit(KEYS[6], maxlen, now, 'dead', id, kind, 'reason', 'permanent')
  flush_counters(KEYS[5])
  return {2, 'permanent'}
end
local failures = redis.call('HINCRBY', jobkey, 'failures', 1)
if failures > tonumber(f[3]) then
  to_dead(prefix, KEYS[3], KEYS[4], KEYS[5], jobkey, id, kind, 'retries_exhausted', now)
  emit(KEYS[6], maxlen, now, 'dead', id, kind, 'reason', 'retries_exhausted')
  flush_counters(KEYS[5])
  return {2, 'retries_exhausted'}
end
local delay = to_scheduled(KEYS[2], jobkey, id, failures, tonumber(ARGV[8]),
  tonumber(ARGV[9]), tonumber(ARGV[10]), now)
bump('retried')
bump('outcome:' .. kind .. ':retried')
emit(KEYS[6], maxlen, now, 'retry_scheduled', id, kind, 'delay_ms', delay)
flush_counters(KEYS[5])
return {1, delay}
