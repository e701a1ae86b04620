import type { RedisClient } from '../queue/connection.js';

/*
 * Lua scripts of one sweep. Every key a script touches carries the sweep's hash tag {id}
 * (src/storage/keys.ts), so each runs in one cluster slot.
 */

/**
 * Gives the next pending trial a place among the running ones: only while the sweep is `running`
 * and fewer than ARGV[1] trials are active. Returns the trial index, or nil.
 * KEYS: sweep hash, pending list, active set. ARGV: maxConcurrent, now (ms).
 */
const CLAIM = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return false end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[1]) then return false end
local idx = redis.call('LPOP', KEYS[2])
if not idx then return false end
redis.call('SADD', KEYS[3], idx)
redis.call('HSET', KEYS[1], 'claimed:' .. idx, ARGV[2])
return idx
`;

/** Undoes a CLAIM whose job could not be created (tenant at its active-job cap). KEYS: sweep, pending, active. ARGV: index. */
const UNCLAIM = `
if redis.call('SREM', KEYS[3], ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[1], 'claimed:' .. ARGV[1])
end
return 1
`;

/**
 * Records that an active trial's job ended, exactly once (whoever removes it from the active set
 * first): the trial record, its event, the sweep's best when ARGV[5] (the score, lower is better)
 * beats it, and, when nothing is pending or active any more, the sweep's completion with its
 * terminal event. Events are appended only while the sweep runs (a cancelled one has sent its
 * terminal event). Returns {ended 0|1, new best 0|1, sweep completed 0|1}.
 * KEYS: sweep hash, active set, trials hash, events stream, pending list.
 * ARGV: index, trial JSON, event type, event data, score|'', best JSON, now (ISO).
 */
const END_TRIAL = `
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return {0, 0, 0} end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1], 'claimed:' .. ARGV[1])
local live = redis.call('HGET', KEYS[1], 'status') == 'running'
local function event(t, d)
  local seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
  redis.call('XADD', KEYS[4], seq .. '-0', 'type', t, 'data', d)
end
if live then event(ARGV[3], ARGV[4]) end
local better = 0
if ARGV[5] ~= '' then
  local cur = redis.call('HGET', KEYS[1], 'bestScore')
  if not cur or tonumber(ARGV[5]) < tonumber(cur) then
    redis.call('HSET', KEYS[1], 'bestScore', ARGV[5], 'best', ARGV[6])
    better = 1
    if live then event('sweep.best', ARGV[6]) end
  end
end
local done = 0
if live and redis.call('LLEN', KEYS[5]) == 0 and redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'finishedAt', ARGV[7])
  event('sweep.completed', '{"status":"completed","best":' .. (redis.call('HGET', KEYS[1], 'best') or 'null') .. '}')
  done = 1
end
return {1, better, done}
`;

/**
 * Cancels a running sweep: status, no more pending trials, terminal event. Returns 1, or 0 when
 * it was no longer running. KEYS: sweep hash, pending list, events stream. ARGV: now (ISO).
 */
const CANCEL = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[1])
redis.call('DEL', KEYS[2])
local seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
redis.call('XADD', KEYS[3], seq .. '-0', 'type', 'sweep.cancelled', 'data', '{"status":"cancelled","best":' .. (redis.call('HGET', KEYS[1], 'best') or 'null') .. '}')
return 1
`;

/**
 * One ASHA rung decision (Li et al., MLSys 2020, the stopping form): trial ARGV[1] reached rung
 * ARGV[4] with score ARGV[2] (lower is better); it continues when its rank among every trial
 * that reached this rung so far, itself included, is below ceil(reached / eta). The decision is
 * recorded once (a resumed trial asking again gets the same answer) and appended to the
 * decision log. Returns 'continue' or 'prune'.
 * KEYS: sweep hash, rung sorted set, decision list.
 * ARGV: index, score, eta, rung, job id, epoch, metric, now (ISO).
 */
const ASHA = `
local field = 'rung:' .. ARGV[4] .. ':' .. ARGV[1]
local prev = redis.call('HGET', KEYS[1], field)
if prev then return prev end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local reached = redis.call('ZCARD', KEYS[2])
local rank = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. ARGV[2])
local keep = math.ceil(reached / tonumber(ARGV[3]))
local decision = 'prune'
if rank < keep then decision = 'continue' end
redis.call('HSET', KEYS[1], field, decision)
local rungs = tonumber(redis.call('HGET', KEYS[1], 'rungCount') or '0')
if tonumber(ARGV[4]) + 1 > rungs then redis.call('HSET', KEYS[1], 'rungCount', tonumber(ARGV[4]) + 1) end
redis.call('RPUSH', KEYS[3], cjson.encode({trial = tonumber(ARGV[1]), jobId = ARGV[5], rung = tonumber(ARGV[4]), epoch = tonumber(ARGV[6]),
  metric = tonumber(ARGV[7]), rank = rank, reached = reached, keep = keep, decision = decision, at = ARGV[8]}))
return decision
`;

/** Appends an event to the sweep's stream (id from the hash's eventSeq). KEYS: sweep, stream. ARGV: type, data. */
const APPEND = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
redis.call('XADD', KEYS[2], seq .. '-0', 'type', ARGV[1], 'data', ARGV[2])
return seq
`;

export interface SweepScriptedRedis {
  tsnnSweepClaim(sweep: string, pending: string, active: string, max: string, now: string): Promise<string | null>;
  tsnnSweepUnclaim(sweep: string, pending: string, active: string, index: string): Promise<number>;
  tsnnSweepEndTrial(sweep: string, active: string, trials: string, events: string, pending: string, ...argv: string[]): Promise<[number, number, number]>;
  tsnnSweepCancel(sweep: string, pending: string, events: string, now: string): Promise<number>;
  tsnnSweepAsha(sweep: string, rung: string, decisions: string, ...argv: string[]): Promise<'continue' | 'prune'>;
  tsnnSweepAppend(sweep: string, events: string, type: string, data: string): Promise<number>;
}

/** Defines the sweep's Lua commands on `redis` once. */
export function sweepScripted(redis: RedisClient): SweepScriptedRedis {
  const r = redis as RedisClient & Partial<SweepScriptedRedis>;
  if (!r.tsnnSweepClaim) {
    redis.defineCommand('tsnnSweepClaim', { numberOfKeys: 3, lua: CLAIM });
    redis.defineCommand('tsnnSweepUnclaim', { numberOfKeys: 3, lua: UNCLAIM });
    redis.defineCommand('tsnnSweepEndTrial', { numberOfKeys: 5, lua: END_TRIAL });
    redis.defineCommand('tsnnSweepCancel', { numberOfKeys: 3, lua: CANCEL });
    redis.defineCommand('tsnnSweepAsha', { numberOfKeys: 3, lua: ASHA });
    redis.defineCommand('tsnnSweepAppend', { numberOfKeys: 2, lua: APPEND });
  }
  return r as unknown as SweepScriptedRedis;
}
