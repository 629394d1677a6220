--[[ claim: take up to COUNT jobs, oldest first, each with a fresh lease and fencing token.

Due scheduled jobs are promoted to their pending lists first. Pending lists are per kind; the
oldest head (lowest id: ids come from one counter) is taken first, so order is FIFO across kinds.
Kinds in the paused set (KEYS[8], see pause.lua) are skipped.

KEYS[1] kinds       set of kinds
KEYS[2] scheduled   zset id -> due ms
KEYS[3] processing  zset id -> lease deadline ms
KEYS[4] stats
KEYS[5] events
KEYS[6] claimed     zset id -> claimed ms (in-flight ages)
KEYS[7] fence       hash: replication id of the primary that minted the last tokens, token floor
KEYS[8] paused      set of kinds no worker claims now

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
Events:  promoted (one entry per job), claimed (one entry per call, see emit_batch)
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local count = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local worker = ARGV[6]
-- times as strings once, so the per-job commands convert no numbers
local now_s, until_s = string.format('%d', now), string.format('%d', now + lease)

-- Fencing across failover. Replication is asynchronous, so a newly promoted primary may have
-- missed the last claims and would hand the same token (job counter + 1) out again, letting the
-- old holder's late ack through. Tokens minted under a new replication id (a promotion, or a
-- restart that lost the old history) therefore start above every earlier token: at the time in
-- microseconds-per-ms units (now * 1000), which exceeds the previous floor as long as no job is
-- claimed 1,000 times per millisecond between two failovers. The first primary keeps floor 0.
local function token_floor(fence)
  local replid = string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)')
  local f = redis.call('HMGET', fence, 'replid', 'floor')
  if f[1] == replid then return tonumber(f[2]) end
  local floor = 0
  if f[1] then floor = math.max(tonumber(f[2]) + 1000000, now * 1000) end
  redis.call('HSET', fence, 'replid', replid, 'floor', string.format('%d', floor))
  return floor
end
local floor = token_floor(KEYS[7])

-- promote due retries (bounded per call; the rest go on the next claim)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  local jobkey = job_key(prefix, id)
  local kind = redis.call('HGET', jobkey, 'kind')
  redis.call('ZREM', KEYS[2], id)
  if kind then
    redis.call('HSET', jobkey, 'state', 'pending')
    redis.call('RPUSH', pending_key(prefix, kind), id)
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

local paused = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[8])) do paused[k] = true end

local heads = {}
for _, k in ipairs(kinds) do
  local h = not paused[k] and redis.call('LINDEX', pending_key(prefix, k), 0)
  if h then heads[k] = tonumber(h) end
end

-- Take the run of the oldest head's list that is older than every other head (all of it when
-- one kind has pending jobs) with one LRANGE and one LTRIM: the same order as popping one job at
-- a time and comparing heads again, in a few commands per call instead of two per job.
local out = {0, -1}
local n = 0
local ids, kinds_of, attempts_of = {}, {}, {}
while n < count do
  local best, best_id, second = nil, nil, nil
  for k, h in pairs(heads) do
    if best_id == nil or h < best_id then
      second = best_id  -- the previous best is below every other head seen so far
      best, best_id = k, h
    elseif second == nil or h < second then
      second = h
    end
  end
  if best == nil then break end
  local list = pending_key(prefix, best)
  local want = count - n
  local peek = redis.call('LRANGE', list, 0, want)  -- one more than wanted: the next head
  local take = 0
  while take < want and take < #peek and (second == nil or tonumber(peek[take + 1]) < second) do
    take = take + 1
  end
  if take > 0 then redis.call('LTRIM', list, take, -1) end
  if peek[take + 1] then heads[best] = tonumber(peek[take + 1]) else heads[best] = nil end
  for i = 1, take do
    local id = peek[i]
    local jobkey = job_key(prefix, id)
    local f = redis.call('HMGET', jobkey, 'state', 'payload', 'attempts', 'failures',
      'crash_recoveries', 'enqueued_at', 'token', 'started_at')
    if f[1] == 'pending' then
      local token = string.format('%d', math.max(tonumber(f[7]) + 1, floor))
      local attempts = tostring(tonumber(f[3]) + 1)
      if f[8] then
        redis.call('HSET', jobkey, 'state', 'processing', 'attempts', attempts, 'worker',
          worker, 'claimed_at', now_s, 'lease_until', until_s, 'token', token)
      else
        redis.call('HSET', jobkey, 'state', 'processing', 'attempts', attempts, 'worker',
          worker, 'claimed_at', now_s, 'lease_until', until_s, 'token', token,
          'started_at', now_s)
      end
      n = n + 1
      ids[n], kinds_of[n], attempts_of[n] = id, best, attempts
      local o = 2 + (n - 1) * 8
      out[o + 1], out[o + 2], out[o + 3], out[o + 4] = id, token, best, f[2]
      out[o + 5], out[o + 6], out[o + 7], out[o + 8] = attempts, f[4], f[5], f[6]
    end
  end
end
-- Newest id first: every job of the batch has the same score, and a sorted set of up to 128
-- members is a listpack in which an insert walks from the front to its place (members of equal
-- score in id order); in this order each new member's place is just before the ones added before
-- it, so the walk stops there instead of crossing the whole batch (measured at batch 100: about
-- 5 us per job less for these two ZADDs). Larger sets are skiplists, where order does not matter.
local leases, claims = {}, {}
for i = n, 1, -1 do
  table.insert(leases, until_s); table.insert(leases, ids[i])
  table.insert(claims, now_s); table.insert(claims, ids[i])
end
call_many('ZADD', KEYS[3], leases)
call_many('ZADD', KEYS[6], claims)
emit_batch(KEYS[5], maxlen, now, 'claimed', ids, kinds_of, {{'attempt', attempts_of}},
  'worker', worker)
bump('claimed', n)
bump('inflight_claimed_ms', n * now)
flush_counters(KEYS[4])
out[1] = n
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if nxt[2] then out[2] = tonumber(nxt[2]) end
return out
