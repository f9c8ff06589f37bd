-- Counts one agent round's tokens into its run's budget (the run's total and its member's) and the day's.
-- Idempotent per round, and only upwards: the run's hash keeps what each round has counted (seen:<round>),
-- so a worker that reads a round's output again (adopting it after a restart) adds only what is new, and
-- one that could read less of it (its oldest part cut away) takes nothing back.
-- KEYS[1] run budget, KEYS[2] day budget. ARGV[1] member, ARGV[2] round (<member>:<attempt folder>),
-- ARGV[3] the round's tokens so far, ARGV[4] day TTL ms.
-- Returns {run tokens, member tokens, day tokens}.
local seenField = 'seen:' .. ARGV[2]
local memberField = 'tokens:' .. ARGV[1]
local seen = tonumber(redis.call('HGET', KEYS[1], seenField) or '0')
local delta = tonumber(ARGV[3]) - seen
if delta > 0 then
  redis.call('HSET', KEYS[1], seenField, ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'tokens', delta)
  redis.call('HINCRBY', KEYS[1], memberField, delta)
  redis.call('HINCRBY', KEYS[2], 'tokens', delta)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return {
  tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0'),
  tonumber(redis.call('HGET', KEYS[1], memberField) or '0'),
  tonumber(redis.call('HGET', KEYS[2], 'tokens') or '0'),
}
