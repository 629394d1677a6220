--[[ claim: take up to COUNT jobs, oldest first, each with a fresh lease and fencing token.

Due scheduled jobs are promoted to their pending lists first. Pending lists are per kind; the
oldest head (lowest id: ids come from one counter) is taken first, so order is FIFO across kinds.

KEYS[1] kinds       set of kinds
KEYS[2] scheduled   zset id -> due ms
KEYS[3] processing  zset id -> lease deadline ms
KEYS[4] stats
KEYS[5] events

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
ARGV[4] count
ARGV[5] lease ms
ARGV[6] worker id
ARGV[7] kinds this worker handles, comma separated ('' = every kind)

Returns: {n, next_due_ms, then n groups of 8: id, token, kind, payload, attempts, failures,
          crash_recoveries, enqueued_at}. next_due_ms is the earliest scheduled due time
          (-1 when none), so an idle worker knows how long it may block.
Events:  promoted, claimed
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local count = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local worker = ARGV[6]

-- promote due retries (bounded per call; the rest go on the next claim)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  local jobkey = prefix .. 'job:' .. id
  local kind = redis.call('HGET', jobkey, 'kind')
  redis.call('ZREM', KEYS[2], id)
  if kind then
    redis.call('HSET', jobkey, 'state', 'pending')
    redis.call('RPUSH', prefix .. 'pending:' .. kind, id)
    redis.call('SADD', KEYS[1], kind)
    emit(KEYS[5], maxlen, now, 'promoted', id, kind)
  end
end

local kinds
if ARGV[7] == '' then
  kinds = redis.call('SMEMBERS', KEYS[1])
else
  kinds = {}
  for k in string.gmatch(ARGV[7], '[^,]+') do table.insert(kinds, k) end
end

local heads = {}
for _, k in ipairs(kinds) do
  local h = redis.call('LINDEX', prefix .. 'pending:' .. k, 0)
  if h then heads[k] = tonumber(h) end
end

local out = {0, -1}
local n = 0
while n < count do
  local best, best_id = nil, nil
  for k, h in pairs(heads) do
    if best_id == nil or h < best_id then best, best_id = k, h end
  end
  if best == nil then break end
  local list = prefix .. 'pending:' .. best
  local id = redis.call('LPOP', list)
  local h = redis.call('LINDEX', list, 0)
  if h then heads[best] = tonumber(h) else heads[best] = nil end
  local jobkey = prefix .. 'job:' .. id
  local f = redis.call('HMGET', jobkey, 'state', 'payload', 'attempts', 'failures',
    'crash_recoveries', 'enqueued_at', 'token', 'started_at')
  if f[1] == 'pending' then
    local token = tonumber(f[7]) + 1
    local attempts = tonumber(f[3]) + 1
    redis.call('HSET', jobkey, 'state', 'processing', 'attempts', attempts, 'worker', worker,
      'claimed_at', now, 'lease_until', now + lease, 'token', token,
      'started_at', f[8] or now)
    redis.call('ZADD', KEYS[3], now + lease, id)
    redis.call('ZADD', prefix .. 'claimed', now, id)
    emit(KEYS[5], maxlen, now, 'claimed', id, best, 'attempt', attempts, 'worker', worker)
    n = n + 1
    for _, v in ipairs({id, token, best, f[2], attempts, f[4], f[5], f[6]}) do
      table.insert(out, v)
    end
  end
end
bump('claimed', n)
bump('inflight_claimed_ms', n * now)
flush_counters(KEYS[4])
out[1] = n
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if nxt[2] then out[2] = tonumber(nxt[2]) end
return out
