--[[ progress: record how far running attempts have come, as their handlers reported it.

Only the attempt holding the lease may write (token checked), so a late report of an attempt
that was reaped, cancelled or finished never touches the job again.

KEYS[1] events

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
then groups of 5: job id, token, done, total, note ('' = none)

Returns: one code per group: 1 recorded, -1 no such job, -2 lease lost.
Events:  progress (fields done, total, note)
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local codes = {}
for i = 4, #ARGV, 5 do
  local id, token, done, total, note = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local jobkey = prefix .. 'job:' .. id
  local kind, code = held(jobkey, token)
  if kind then
    redis.call('HSET', jobkey, 'progress_done', done, 'progress_total', total,
      'progress_note', note, 'progress_at', now)
    emit(KEYS[1], maxlen, now, 'progress', id, kind, 'done', done, 'total', total, 'note', note)
    code = 1
  end
  table.insert(codes, code)
end
return codes
