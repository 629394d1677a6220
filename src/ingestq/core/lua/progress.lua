--[[ progress: record how far running attempts have come, as their handlers reported it.

Only the attempt holding the lease may write (token checked), so a late report of an attempt
that was reaped, cancelled or finished never touches the job again.

KEYS[1] events

ARGV[1] prefix
ARGV[2] now override ('' = server TIME)
ARGV[3] events max length
then groups of 5: job id, token, done, total, note ('' = none)

Returns: one code per group: 1 recorded, -1 no such job, -2 lease lost.
Events:  progress, one entry per call (see emit_batch) with each job's done, total and note (in
         the event, commas in a note become ';': batch fields are comma lists), so a busy worker
         adds two entries a second to the capped stream, not two per job.
]]
--!include common.lua

local prefix = ARGV[1]
local now = now_ms(ARGV[2])
local maxlen = ARGV[3]
local codes = {}
local ids, kinds, dones, totals, notes = {}, {}, {}, {}, {}
for i = 4, #ARGV, 5 do
  local id, token, done, total, note = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local jobkey = job_key(prefix, id)
  local kind, code = held(jobkey, token)
  if kind then
    redis.call('HSET', jobkey, 'progress_done', done, 'progress_total', total,
      'progress_note', note, 'progress_at', now)
    table.insert(ids, id); table.insert(kinds, kind)
    table.insert(dones, done); table.insert(totals, total)
    table.insert(notes, (string.gsub(note, ',', ';')))
    code = 1
  end
  table.insert(codes, code)
end
emit_batch(KEYS[1], maxlen, now, 'progress', ids, kinds,
  {{'done', dones}, {'total', totals}, {'note', notes}})
return codes
