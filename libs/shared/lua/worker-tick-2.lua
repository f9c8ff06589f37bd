-- A worker's tick in one round trip: keeps its claim on its id (SET NX, or a refresh of its own) and reads
-- the pool queues in use. The registration is written only while the key is free or holds this instance's
-- token, never over another live worker's: two processes with one id would adopt each other's sessions.
-- A registration the caller read as a crashed predecessor's (same host, its pid gone) may be replaced,
-- and only while it is still exactly what was read.
-- KEYS[1] the worker's registration, KEYS[2] the set of pool queues in use.
-- ARGV[1] registration JSON (with its instance token), ARGV[2] instance token, ARGV[3] TTL ms,
-- ARGV[4] the predecessor's registration as read, or ''.
-- Returns {1, pool...} when refreshed, {2, pool...} when taken (free, or the predecessor's),
-- {0, holder's registration} when another instance holds the id (nothing written).
local current = redis.call('GET', KEYS[1])
local outcome = 2
if current then
  local ok, holder = pcall(cjson.decode, current)
  if ok and type(holder) == 'table' and holder.instance == ARGV[2] then
    outcome = 1
  elseif ARGV[4] == '' or current ~= ARGV[4] then
    return {0, current}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
local reply = redis.call('SMEMBERS', KEYS[2])
table.insert(reply, 1, outcome)
return reply
