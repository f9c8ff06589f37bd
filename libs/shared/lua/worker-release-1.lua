-- Deletes a worker's registration only while it is this instance's: a worker that lost its id (or never
-- got it) must not take another's off the fleet on its way out.
-- KEYS[1] the worker's registration. ARGV[1] instance token. Returns 1 when deleted, 0 otherwise.
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, holder = pcall(cjson.decode, current)
if ok and type(holder) == 'table' and holder.instance == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
