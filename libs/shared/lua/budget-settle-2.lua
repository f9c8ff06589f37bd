-- Settles a reservation with the real cost. KEYS[1] run budget, KEYS[2] day budget. ARGV[1] job id, ARGV[2] cost.
for i = 1, 2 do
  local held = redis.call('HGET', KEYS[i], 'res:' .. ARGV[1])
  if held then
    redis.call('HINCRBYFLOAT', KEYS[i], 'reserved', -tonumber(held))
    redis.call('HDEL', KEYS[i], 'res:' .. ARGV[1])
    redis.call('HINCRBYFLOAT', KEYS[i], 'spent', ARGV[2])
  end
end
return 1
