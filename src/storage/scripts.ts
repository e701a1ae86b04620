import type { Redis } from 'ioredis';

/**
 * Appends one event to a job's stream with the next integer id (`N-0`, N from the job hash's
 * `eventSeq`), so ids increase across API and workers, retries included; optional HSET pairs
 * update the job record in the same atomic step. Returns N, or 0 when the job is gone.
 * KEYS: job hash, stream. ARGV: type, data, field, value, ...
 */
const APPEND_EVENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
redis.call('XADD', KEYS[2], seq .. '-0', 'type', ARGV[1], 'data', ARGV[2])
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
return seq
`;

/**
 * Moves a job to a new status only when its current status is one of ARGV[1] (comma list):
 * sets the fields, increments `attempts` when ARGV[2] is '1', and appends event ARGV[3] (data
 * ARGV[4]) unless the type is ''. Returns { applied 0|1, previous status, event id, attempts }.
 * KEYS: job hash, stream. ARGV: from, incrAttempts, eventType, eventData, field, value, ...
 */
const TRANSITION = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0, '', 0, 0} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == st then allowed = true end end
if not allowed then return {0, st, 0, 0} end
if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if ARGV[2] == '1' then attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
local seq = 0
if ARGV[3] ~= '' then
  seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
  redis.call('XADD', KEYS[2], seq .. '-0', 'type', ARGV[3], 'data', ARGV[4])
end
return {1, st, seq, attempts}
`;

interface ScriptedRedis {
  tsnnAppendEvent(job: string, stream: string, ...argv: string[]): Promise<number>;
  tsnnTransition(job: string, stream: string, ...argv: string[]): Promise<[number, string, number, number]>;
}

/** Defines the Lua commands on `redis` once (ioredis sends EVALSHA and falls back to EVAL). */
export function scripted(redis: Redis): ScriptedRedis {
  const r = redis as Redis & Partial<ScriptedRedis>;
  if (!r.tsnnAppendEvent) {
    redis.defineCommand('tsnnAppendEvent', { numberOfKeys: 2, lua: APPEND_EVENT });
    redis.defineCommand('tsnnTransition', { numberOfKeys: 2, lua: TRANSITION });
  }
  return r as unknown as ScriptedRedis;
}
