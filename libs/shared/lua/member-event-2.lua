-- The one writer of a member's status: applies a transition computed by member-state.ts, atomically.
-- The transition says which statuses it may start from; an attempt's writes also name the attempt's epoch,
-- and a superseded attempt's write is refused. An attempt record is pushed with the transition, and never
-- twice for one epoch (a Redis outage once recorded attempt #1 both as `crash 143` and as `stalled`).
-- KEYS[1] member, KEYS[2] attempts list.
-- ARGV[1] epoch ('' when the writer holds none), ARGV[2] allowed statuses (JSON array),
-- ARGV[3] HSET fields (JSON object), ARGV[4] HDEL fields (JSON array), ARGV[5] '1' to take the next epoch,
-- ARGV[6] attempt record (JSON, '' for none), ARGV[7] most attempt records kept, ARGV[8] channel, ARGV[9] message (JSON).
-- Returns { code, epoch, status }: 1 applied, 0 stale epoch, -1 status does not allow it, -2 no such member,
-- -3 that epoch's attempt is already recorded.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return { -2, 0, '' } end
local epoch = redis.call('HGET', KEYS[1], 'epoch') or '0'
if ARGV[1] ~= '' and epoch ~= ARGV[1] then return { 0, tonumber(epoch), status } end
local allowed = false
for _, s in ipairs(cjson.decode(ARGV[2])) do
  if s == status then allowed = true end
end
if not allowed then return { -1, tonumber(epoch), status } end
local record = nil
if ARGV[6] ~= '' then
  record = cjson.decode(ARGV[6])
  if redis.call('HGET', KEYS[1], 'recordedEpoch') == tostring(record.epoch) then return { -3, tonumber(epoch), status } end
end
if ARGV[5] == '1' then epoch = tostring(redis.call('HINCRBY', KEYS[1], 'epoch', 1)) end
local set = cjson.decode(ARGV[3])
for k, v in pairs(set) do redis.call('HSET', KEYS[1], k, v) end
for _, k in ipairs(cjson.decode(ARGV[4])) do redis.call('HDEL', KEYS[1], k) end
if record then
  redis.call('RPUSH', KEYS[2], ARGV[6])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
  redis.call('HSET', KEYS[1], 'recordedEpoch', tostring(record.epoch))
end
local message = cjson.decode(ARGV[9])
message.epoch = tonumber(epoch)
redis.call('PUBLISH', ARGV[8], cjson.encode(message))
return { 1, tonumber(epoch), set.status or status }
