-- Claims a task atomically, so two agents on two hosts can never hold one task.
-- KEYS[1] tasks hash. ARGV[1] id ('' for the first open task, lowest id first), ARGV[2] member, ARGV[3] now.
-- Returns the task JSON, or an error string starting with "!".
local function claim(id, raw)
  local task = cjson.decode(raw)
  if task.status ~= 'open' then return nil end
  task.status = 'claimed'
  task.claimedBy = ARGV[2]
  task.claimedAt = tonumber(ARGV[3])
  local out = cjson.encode(task)
  redis.call('HSET', KEYS[1], id, out)
  return out
end
if ARGV[1] ~= '' then
  local raw = redis.call('HGET', KEYS[1], ARGV[1])
  if not raw then return '!no task ' .. ARGV[1] end
  local out = claim(ARGV[1], raw)
  if out then return out end
  local task = cjson.decode(raw)
  return '!task ' .. ARGV[1] .. ' is ' .. task.status .. (task.claimedBy and (' by ' .. task.claimedBy) or '')
end
local all = redis.call('HGETALL', KEYS[1])
local best = nil
for i = 1, #all, 2 do
  local task = cjson.decode(all[i + 1])
  if task.status == 'open' and (best == nil or tonumber(all[i]) < tonumber(best)) then best = all[i] end
end
if best == nil then return '!no open task' end
return claim(best, redis.call('HGET', KEYS[1], best))
