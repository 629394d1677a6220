--[[ enqueue: add a batch of jobs to the pending lists (or scheduled, when delayed).

KEYS[1] seq        counter giving job ids
KEYS[2] kinds      set of kinds with a pending list
KEYS[3] dedupe     hash dedupe key -> live job id
KEYS[4] stats      counters
KEYS[5] events     lifecycle stream
KEYS[6] wake       wake-up list for idle workers
KEYS[7] scheduled  zset id -> due ms

ARGV[1] prefix (job hashes are prefix..'job:'..id, pending lists prefix..'pending:'..kind)
ARGV[2] now override in ms ('' = server TIME)
ARGV[3] events max length
ARGV[4] number of jobs N
then N groups of 5: kind, payload JSON, dedupe key ('' = none), max_retries, delay ms

Returns: flat array of N pairs {id, created}: created 1 for a new job, 0 when the dedupe key
         returned the id of a live job (pending, scheduled or processing) instead of a copy.
Events:  enqueued (or deduped)
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local n = tonumber(ARGV[4])
local out = {}
for i = 0, n - 1 do
  local base = 5 + i * 5
  local kind, payload, dkey = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local max_retries, delay = ARGV[base + 3], tonumber(ARGV[base + 4])
  local existing = false
  if dkey ~= '' then
    existing = redis.call('HGET', KEYS[3], dkey)
    if existing then
      local state = redis.call('HGET', prefix .. 'job:' .. existing, 'state')
      if state ~= 'pending' and state ~= 'scheduled' and state ~= 'processing' then
        existing = false
      end
    end
  end
  if existing then
    bump('deduped')
    table.insert(out, existing)
    table.insert(out, 0)
  else
    local id = tostring(redis.call('INCR', KEYS[1]))
    local jobkey = prefix .. 'job:' .. id
    redis.call('HSET', jobkey, 'id', id, 'kind', kind, 'payload', payload,
      'state', 'pending', 'attempts', 0, 'failures', 0, 'crash_recoveries', 0,
      'max_retries', max_retries, 'enqueued_at', now, 'token', 0, 'dedupe_key', dkey)
    if dkey ~= '' then redis.call('HSET', KEYS[3], dkey, id) end
    if delay > 0 then
      redis.call('ZADD', KEYS[7], now + delay, id)
      redis.call('HSET', jobkey, 'state', 'scheduled', 'due_at', now + delay)
      redis.call('SADD', KEYS[2], kind)
    else
      to_pending(prefix, KEYS[2], id, kind, false, true)
    end
    bump('enqueued')
    emit(KEYS[5], maxlen, now, 'enqueued', id, kind)
    table.insert(out, id)
    table.insert(out, 1)
  end
end
flush_counters(KEYS[4])
flush_wakes(KEYS[6])
return out
