-- A Claude Code hook's ping: refreshes the heartbeat and says whether a tool is running.
-- KEYS[1] member, KEYS[2] heartbeat. ARGV[1] epoch, ARGV[2] now, ARGV[3] ttl ms, ARGV[4] "1" before a tool, "0" after.
-- Returns 1 refreshed; 0 no heartbeat to refresh (the worker has not written one yet); -1 superseded.
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'lastHookAt', ARGV[2], 'inTool', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
