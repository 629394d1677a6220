--[[ ack: complete a batch of attempts, then trim finished jobs by age and count.

KEYS[1] processing
KEYS[2] done        zset id -> finished ms
KEYS[3] dedupe
KEYS[4] stats
KEYS[5] events

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] keep finished jobs this many ms
ARGV[5] keep at most this many finished jobs
then triples: job id, token, result JSON ('' = none)

Returns: one code per triple: 1 completed, -1 no such job, -2 lease lost (stale token or the job
         is not processing; nothing was changed).
Events:  completed (one entry per call, see emit_batch)
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local now_s = string.format('%d', now)  -- converted once, not per command
local codes = {}
local ids, kinds, claimed_ats, finished = {}, {}, {}, {}
for i = 6, #ARGV, 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local jobkey = prefix .. 'job:' .. id
  local kind, code, claimed_at, dkey = held(jobkey, token)
  if kind then
    record_duration(kind, now - (tonumber(claimed_at) or now))
    -- lease_until is blanked rather than deleted (one command fewer); '' reads as no lease
    if result ~= '' then
      redis.call('HSET', jobkey, 'state', 'done', 'finished_at', now_s, 'lease_until', '',
        'result', result)
    else
      redis.call('HSET', jobkey, 'state', 'done', 'finished_at', now_s, 'lease_until', '')
    end
    if dkey and dkey ~= '' and redis.call('HGET', KEYS[3], dkey) == id then
      redis.call('HDEL', KEYS[3], dkey)
    end
    bump('outcome:' .. kind .. ':completed')
    table.insert(ids, id); table.insert(kinds, kind); table.insert(claimed_ats, claimed_at)
    table.insert(finished, now_s); table.insert(finished, id)
    code = 1
  end
  table.insert(codes, code)
end
-- the batch leaves processing in a few variadic commands (leave_processing, for many jobs)
if #ids > 0 then
  leave_processing_many(prefix, KEYS[1], ids, claimed_ats)
  call_many('ZADD', KEYS[2], finished)
  emit_batch(KEYS[5], maxlen, now, 'completed', ids, kinds, {})
end
bump('completed', #ids)

-- trim: bounded work per call (at most 200 jobs by age and 200 by count), so an ack never
-- stalls the server. `victims` are always the oldest finished jobs (ranks 0..k-1 of `done`), so
-- their records go in one DEL and their entries in one ZREMRANGEBYRANK (no member look-ups).
local function drop(victims)
  if #victims == 0 then return end
  local jobkeys = {}
  for i, id in ipairs(victims) do jobkeys[i] = prefix .. 'job:' .. id end
  call_many('DEL', false, jobkeys)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, #victims - 1)
  bump('trimmed', #victims)
end
drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 200))
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if excess > 0 then
  if excess > 200 then excess = 200 end
  drop(redis.call('ZRANGE', KEYS[2], 0, excess - 1))
end
flush_counters(KEYS[4])
return codes
