--[[ reap: recover jobs whose lease ran out (their worker died or stopped beating).

Costs O(expired): only the head of the processing zset (ordered by lease deadline) is read.
Each expired job: crash_recoveries+1, an error entry, then
  over the crash budget          -> dead, reason poison       (action poison)
  stale_job_action = requeue     -> back to pending at once   (action requeue)
  stale_job_action = fail        -> counted as a failed attempt: retried with backoff while the
                                    retry budget lasts, else dead retries_exhausted (action fail)
  stale_job_action = dlq         -> dead, reason stale        (action dlq)
With explicit (id, token) pairs (mode clean), exactly those attempts are taken back if the token
still matches, whatever their lease: requeued at once while failures <= max_retries (charging one
failure), else dead with reason retries_exhausted.

KEYS[1] processing
KEYS[2] scheduled
KEYS[3] dead
KEYS[4] dedupe
KEYS[5] stats
KEYS[6] events
KEYS[7] kinds
KEYS[8] wake
KEYS[9] reaper      hash: last pass time and result

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] mode: expired | clean
ARGV[5] limit (expired mode: most jobs handled in one pass)
ARGV[6] stale_job_action: requeue | fail | dlq
ARGV[7] crash budget
ARGV[8] backoff base ms
ARGV[9] backoff cap ms
ARGV[10] jitter factor
ARGV[11] error history length
then (clean mode) pairs: job id, token

Returns: flat array of pairs {id, action} for every job handled.
Events:  reaped (with action), dead
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local mode = ARGV[4]
local action_cfg = ARGV[6]
local out = {}

local targets = {}
if mode == 'expired' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))) do
    table.insert(targets, {id, nil})
  end
else
  for i = 12, #ARGV, 2 do table.insert(targets, {ARGV[i], ARGV[i + 1]}) end
end

local function finish(jobkey, id, kind, action, reason)
  if reason then
    to_dead(prefix, KEYS[3], KEYS[4], KEYS[5], jobkey, id, kind, reason, now)
    emit(KEYS[6], maxlen, now, 'dead', id, kind, 'reason', reason)
  end
  bump('reaped:' .. action)
  emit(KEYS[6], maxlen, now, 'reaped', id, kind, 'action', action)
  table.insert(out, id)
  table.insert(out, action)
end

local function requeue(jobkey, id, kind)
  redis.call('HSET', jobkey, 'state', 'pending', 'requeued_at', now)
  redis.call('HDEL', jobkey, 'lease_until')
  to_pending(prefix, KEYS[7], id, kind, false, false)
end

local budget = tonumber(ARGV[7])
local why = mode == 'clean' and 'taken back by ingestctl clean' or
  'lease expired: worker stopped heartbeating'
local reason = mode == 'clean' and 'cleaned' or 'lease_expired'

for _, t in ipairs(targets) do
  local id, token = t[1], t[2]
  local jobkey = prefix .. 'job:' .. id
  local f = redis.call('HMGET', jobkey, 'state', 'token', 'kind', 'worker', 'attempts',
    'failures', 'max_retries', 'crash_recoveries', 'claimed_at')
  local kind = f[3]
  if f[1] ~= 'processing' then
    -- a record that is gone or not processing has no business in the zset: drop the entry
    if mode == 'expired' then
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZREM', prefix .. 'claimed', id)
    end
  elseif token == nil or token == f[2] then
    leave_processing(prefix, KEYS[1], id, f[9])
    push_error(jobkey, cjson.encode({type = 'LeaseExpired',
      message = why .. ' (' .. (f[4] or '?') .. ')', reason = reason,
      attempt = tonumber(f[5]), worker = f[4], at = now}), tonumber(ARGV[11]))
    local failures = tonumber(f[6]) or 0
    local crashes = tonumber(f[8]) or 0
    local max_retries = tonumber(f[7]) or 0
    if mode == 'clean' then
      failures = failures + 1
    else
      crashes = crashes + 1
      if crashes <= budget and action_cfg == 'fail' then failures = failures + 1 end
    end
    redis.call('HSET', jobkey, 'last_error', 'LeaseExpired: ' .. why, 'failures', failures,
      'crash_recoveries', crashes)
    if mode == 'clean' then
      if failures > max_retries then
        finish(jobkey, id, kind, 'dlq', 'retries_exhausted')
      else
        requeue(jobkey, id, kind)
        finish(jobkey, id, kind, 'requeue', nil)
      end
    elseif crashes > budget then
      finish(jobkey, id, kind, 'poison', 'poison')
    elseif action_cfg == 'dlq' then
      finish(jobkey, id, kind, 'dlq', 'stale')
    elseif action_cfg == 'fail' then
      if failures > max_retries then
        finish(jobkey, id, kind, 'fail', 'retries_exhausted')
      else
        to_scheduled(KEYS[2], jobkey, id, failures, tonumber(ARGV[8]), tonumber(ARGV[9]),
          tonumber(ARGV[10]), now)
        finish(jobkey, id, kind, 'fail', nil)
      end
    else
      requeue(jobkey, id, kind)
      finish(jobkey, id, kind, 'requeue', nil)
    end
  end
end
if mode == 'expired' then
  redis.call('HSET', KEYS[9], 'last_run', now, 'last_reaped', #out / 2)
  redis.call('HINCRBY', KEYS[9], 'passes', 1)
end
flush_counters(KEYS[5])
flush_wakes(KEYS[8])
return out
