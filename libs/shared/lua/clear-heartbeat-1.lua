-- Deletes a heartbeat only while it is still this attempt's, so the next attempt need not wait for it to expire.
-- KEYS[1] heartbeat. ARGV[1] epoch. Returns 1 when deleted, 0 otherwise.
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
