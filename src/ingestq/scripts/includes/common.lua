-- Shared helpers, inlined by the loader into every script that says `--!include common.lua`.
-- Time always comes from the server (TIME) unless a test passes an explicit clock value.

local function now_ms(override)
  if override ~= nil and override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function emit(events, maxlen, now, typ, id, kind, ...)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*',
    'type', typ, 'job', id, 'kind', kind, 't', now, ...)
end

-- Wake one idle worker; the list is capped because tokens are only hints, the claim decides.
local function wake(key)
  redis.call('LPUSH', key, '1')
  redis.call('LTRIM', key, 0, 63)
end

local function to_pending(prefix, kinds, wake_key, id, kind, front)
  local list = prefix .. 'pending:' .. kind
  if front then redis.call('LPUSH', list, id) else redis.call('RPUSH', list, id) end
  redis.call('SADD', kinds, kind)
  wake(wake_key)
end

-- Append one error to the job's bounded history (a JSON array in field `errors`).
local function push_error(jobkey, entry_json, limit)
  local raw = redis.call('HGET', jobkey, 'errors')
  local list = {}
  if raw and raw ~= '' then list = cjson.decode(raw) end
  table.insert(list, cjson.decode(entry_json))
  while #list > limit do table.remove(list, 1) end
  redis.call('HSET', jobkey, 'errors', cjson.encode(list))
end

-- Attempt durations, as non-cumulative histogram buckets per kind (seconds).
local DURATION_BUCKETS = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800}
local function record_duration(stats, kind, seconds)
  local le = '+Inf'
  for _, b in ipairs(DURATION_BUCKETS) do
    if seconds <= b then le = tostring(b); break end
  end
  redis.call('HINCRBY', stats, 'dur:' .. kind .. ':' .. le, 1)
  redis.call('HINCRBYFLOAT', stats, 'dur_sum:' .. kind, seconds)
end

local function attempt_seconds(jobkey, now)
  local claimed = tonumber(redis.call('HGET', jobkey, 'claimed_at') or '')
  if claimed == nil then return 0 end
  return (now - claimed) / 1000.0
end

-- Move a job to the dead set with a reason; its dedupe key is freed for a new copy.
local function to_dead(prefix, dead, dedupe, stats, jobkey, id, kind, reason, now)
  redis.call('ZADD', dead, now, id)
  redis.call('HSET', jobkey, 'state', 'dead', 'dead_reason', reason, 'finished_at', now,
    'failed_at', now)
  redis.call('HDEL', jobkey, 'lease_until')
  local key = redis.call('HGET', jobkey, 'dedupe_key')
  if key and key ~= '' and redis.call('HGET', dedupe, key) == id then
    redis.call('HDEL', dedupe, key)
  end
  redis.call('HINCRBY', stats, 'dead', 1)
  redis.call('HINCRBY', stats, 'dead:' .. reason, 1)
  redis.call('HINCRBY', stats, 'outcome:' .. kind .. ':dead', 1)
end

-- Schedule a retry after exponential backoff: min(cap, base * 2^(failures-1)) * jitter_factor.
local function to_scheduled(scheduled, jobkey, id, failures, base, cap, jitter_factor, now)
  local delay = base * (2 ^ (failures - 1))
  if delay > cap then delay = cap end
  delay = math.floor(delay * jitter_factor)
  redis.call('ZADD', scheduled, now + delay, id)
  redis.call('HSET', jobkey, 'state', 'scheduled', 'requeued_at', now, 'due_at', now + delay)
  redis.call('HDEL', jobkey, 'lease_until')
  return delay
end

-- Token check shared by every operation of a lease holder.
-- Returns the job's kind when the lease is held with this token, nil and a code otherwise.
local function held(jobkey, token)
  local f = redis.call('HMGET', jobkey, 'state', 'token', 'kind')
  if f[1] == false then return nil, -1 end
  if f[1] ~= 'processing' or f[2] ~= token then return nil, -2 end
  return f[3], 0
end

-- Leaving `processing`: drop the lease, the claim-time index and its share of the running sum
-- of claim times (which lets metrics compute in-flight ages without reading every job).
local function leave_processing(prefix, processing, stats, jobkey, id)
  redis.call('ZREM', processing, id)
  if redis.call('ZREM', prefix .. 'claimed', id) == 1 then
    local claimed = tonumber(redis.call('HGET', jobkey, 'claimed_at') or '0')
    redis.call('HINCRBY', stats, 'inflight_claimed_ms', -claimed)
  end
end
