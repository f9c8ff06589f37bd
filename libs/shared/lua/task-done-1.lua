-- Finishes a task; only the member holding it may. KEYS[1] tasks hash. ARGV[1] id, ARGV[2] member, ARGV[3] now, ARGV[4] note.
-- Returns the task JSON, or an error string starting with "!".
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return '!no task ' .. ARGV[1] end
local task = cjson.decode(raw)
if task.status ~= 'claimed' or task.claimedBy ~= ARGV[2] then
  return '!task ' .. ARGV[1] .. ' is ' .. task.status .. (task.claimedBy and (' by ' .. task.claimedBy) or '') .. ', not claimed by ' .. ARGV[2]
end
task.status = 'done'
task.doneAt = tonumber(ARGV[3])
if ARGV[4] ~= '' then task.note = ARGV[4] end
local out = cjson.encode(task)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out
