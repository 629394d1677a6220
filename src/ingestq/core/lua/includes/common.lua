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

-- One stream entry for a batch of events of one type (the hot paths, claim and ack, emit one per
-- call instead of one per job). `ids` and `kinds` are aligned lists; `each` is a list of
-- {name, values} whose values are per job; further arguments are fields shared by every job.
-- A single job gets the single-event form above. A batch entry has `jobs` (comma list), `kind`
-- (every job's kind) or `kinds` (comma list aligned with `jobs`), `t`, then `each:<name>` (comma
-- list aligned with `jobs`) for each per-job field, then the shared fields. Ids, kinds and these
-- values never contain commas. Readers expand it into one event per job (ops/tail.py).
local function emit_batch(events, maxlen, now, typ, ids, kinds, each, ...)
  local n = #ids
  if n == 0 then return end
  local args = {'XADD', events, 'MAXLEN', '~', maxlen, '*', 'type', typ}
  if n == 1 then
    for _, v in ipairs({'job', ids[1], 'kind', kinds[1], 't', now}) do table.insert(args, v) end
    for _, f in ipairs(each) do
      table.insert(args, f[1]); table.insert(args, f[2][1])
    end
  else
    table.insert(args, 'jobs'); table.insert(args, table.concat(ids, ','))
    local same = true
    for i = 2, n do
      if kinds[i] ~= kinds[1] then same = false; break end
    end
    if same then
      table.insert(args, 'kind'); table.insert(args, kinds[1])
    else
      table.insert(args, 'kinds'); table.insert(args, table.concat(kinds, ','))
    end
    table.insert(args, 't'); table.insert(args, now)
    for _, f in ipairs(each) do
      table.insert(args, 'each:' .. f[1]); table.insert(args, table.concat(f[2], ','))
    end
  end
  for _, v in ipairs({...}) do table.insert(args, v) end
  redis.call(unpack(args))
end

-- One variadic command over many arguments (ZADD score/member pairs, ZREM members, DEL keys),
-- in chunks of at most `step` arguments so Lua's stack and the server's argv stay bounded.
-- `key` may be false for commands that take only the list (DEL).
local function call_many(cmd, key, items, step)
  step = step or 1000
  for i = 1, #items, step do
    local j = math.min(i + step - 1, #items)
    if key then
      redis.call(cmd, key, unpack(items, i, j))
    else
      redis.call(cmd, unpack(items, i, j))
    end
  end
end

-- Counter increments are summed in the script and written once per field at the end, so a
-- batch of a hundred jobs costs a handful of HINCRBYs instead of hundreds.
local _incr = {}
local function bump(field, n)
  _incr[field] = (_incr[field] or 0) + (n or 1)
end
local function flush_counters(stats)
  for field, n in pairs(_incr) do
    if n ~= 0 then redis.call('HINCRBY', stats, field, n) end
  end
end

-- Wake idle workers: one token per job made available, capped because tokens are only hints
-- (the claim decides), written once per script call.
local _wakes = 0
local function wake()
  _wakes = _wakes + 1
end
local function flush_wakes(key)
  local n = math.min(_wakes, 64)
  if n > 0 then
    local tokens = {}
    for i = 1, n do tokens[i] = '1' end
    redis.call('LPUSH', key, unpack(tokens))
    redis.call('LTRIM', key, 0, 63)
  end
end

-- Put a job on its kind's pending list (its kind is already in the kinds set unless `new_kind`).
local function to_pending(prefix, kinds, id, kind, front, new_kind)
  local list = prefix .. 'pending:' .. kind
  if front then redis.call('LPUSH', list, id) else redis.call('RPUSH', list, id) end
  if new_kind then redis.call('SADD', kinds, kind) end
  wake()
end

-- Append one error to the job's bounded history (a JSON array in field `errors`, its length in
-- `errors_n`): plain string appends until the bound, decode and trim only past it.
local function push_error(jobkey, entry_json, limit)
  local f = redis.call('HMGET', jobkey, 'errors', 'errors_n')
  local raw, n = f[1], tonumber(f[2] or '0') or 0
  if not raw or raw == '' or n == 0 then
    redis.call('HSET', jobkey, 'errors', '[' .. entry_json .. ']', 'errors_n', 1)
  elseif n < limit then
    redis.call('HSET', jobkey, 'errors', string.sub(raw, 1, -2) .. ',' .. entry_json .. ']',
      'errors_n', n + 1)
  else
    local list = cjson.decode(raw)
    table.insert(list, cjson.decode(entry_json))
    while #list > limit do table.remove(list, 1) end
    redis.call('HSET', jobkey, 'errors', cjson.encode(list), 'errors_n', #list)
  end
end

-- Attempt durations, as non-cumulative histogram buckets per kind (seconds), plus the sum in
-- milliseconds (an integer, so it can be summed with HINCRBY).
local DURATION_BUCKETS = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800}
local function record_duration(kind, ms)
  local seconds = ms / 1000.0
  local le = '+Inf'
  for _, b in ipairs(DURATION_BUCKETS) do
    if seconds <= b then le = tostring(b); break end
  end
  bump('dur:' .. kind .. ':' .. le)
  bump('dur_ms:' .. kind, ms)
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
  bump('dead')
  bump('dead:' .. reason)
  bump('outcome:' .. kind .. ':dead')
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
  local f = redis.call('HMGET', jobkey, 'state', 'token', 'kind', 'claimed_at', 'dedupe_key')
  if f[1] == false then return nil, -1 end
  if f[1] ~= 'processing' or f[2] ~= token then return nil, -2 end
  return f[3], 0, f[4], f[5]
end

-- Leaving `processing`: drop the lease, the claim-time index and its share of the running sum
-- of claim times (which lets metrics compute in-flight ages without reading every job).
local function leave_processing(prefix, processing, id, claimed_at)
  redis.call('ZREM', processing, id)
  if redis.call('ZREM', prefix .. 'claimed', id) == 1 then
    bump('inflight_claimed_ms', -(tonumber(claimed_at) or 0))
  end
end

-- The same for a batch (aligned lists of ids and claim times): ZMSCORE tells which ids the
-- claim-time index holds, then one ZREM per zset.
local function leave_processing_many(prefix, processing, ids, claimed_ats)
  local claimed = prefix .. 'claimed'
  for c = 1, #ids, 1000 do
    local last = math.min(c + 999, #ids)
    local present = redis.call('ZMSCORE', claimed, unpack(ids, c, last))
    local sum = 0
    for i = c, last do
      if present[i - c + 1] then sum = sum + (tonumber(claimed_ats[i]) or 0) end
    end
    bump('inflight_claimed_ms', -sum)
    redis.call('ZREM', claimed, unpack(ids, c, last))
    redis.call('ZREM', processing, unpack(ids, c, last))
  end
end
