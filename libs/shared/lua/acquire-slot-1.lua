-- Takes a slot under a concurrency key, fleet-wide. Expired leases (a dead worker's) are dropped first, so a
-- slot is never leaked for longer than a lease. A job that already holds a slot keeps it (renewed).
-- KEYS[1] semaphore. ARGV[1] job id, ARGV[2] max, ARGV[3] now, ARGV[4] lease ms. Returns 1 when held, 0 when full.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
