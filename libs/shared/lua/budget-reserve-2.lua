-- Reserves against a run's and the day's budget at once. A budget hash holds spent, reserved, cap (the run's
-- cap is kept here, so it can be raised) and one res:<job> field per open reservation.
-- KEYS[1] run budget, KEYS[2] day budget. ARGV[1] job id, ARGV[2] amount, ARGV[3] run cap ('' for none),
-- ARGV[4] day cap ('' for none), ARGV[5] day TTL ms.
-- Returns {1} when reserved, or {0, which, spent, reserved, cap} when it would go over.
local amount = tonumber(ARGV[2])
local caps = { ARGV[3], ARGV[4] }
if caps[1] ~= '' then redis.call('HSETNX', KEYS[1], 'cap', caps[1]) end
local runCap = redis.call('HGET', KEYS[1], 'cap')
local limits = { runCap or '', caps[2] }
for i = 1, 2 do
  if limits[i] ~= '' then
    local spent = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
    local reserved = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
    local held = tonumber(redis.call('HGET', KEYS[i], 'res:' .. ARGV[1]) or '0')
    if spent + reserved - held + amount > tonumber(limits[i]) + 1e-9 then
      return { 0, i == 1 and 'run' or 'day', tostring(spent), tostring(reserved - held), limits[i] }
    end
  end
end
for i = 1, 2 do
  local held = tonumber(redis.call('HGET', KEYS[i], 'res:' .. ARGV[1]) or '0')
  redis.call('HINCRBYFLOAT', KEYS[i], 'reserved', amount - held)
  redis.call('HSET', KEYS[i], 'res:' .. ARGV[1], tostring(amount))
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return { 1 }
