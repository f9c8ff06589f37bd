-- Writes a hash only while ARGV[1] is the member's current epoch (a superseded attempt's write is refused).
-- KEYS[1] member, KEYS[2] target hash. ARGV[1] epoch, ARGV[2] HSET fields as JSON, ARGV[3] HDEL fields as JSON.
-- Returns 1 when written, 0 when stale.
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
for k, v in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', KEYS[2], k, v) end
for _, k in ipairs(cjson.decode(ARGV[3])) do redis.call('HDEL', KEYS[2], k) end
return 1
