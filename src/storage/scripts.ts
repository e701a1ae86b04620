import type { RedisClient } from '../queue/connection.js';

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
 * Moves a job to a new status only when its current status is one of ARGV[1] (comma list) and,
 * when ARGV[5] is not '', while its `attempts` equals ARGV[5] (else previous status 'fenced'):
 * sets the fields, increments `attempts` when ARGV[2] is '1', and appends event ARGV[3] (data
 * ARGV[4]) unless the type is ''. Returns { applied 0|1, previous status, event id, attempts }.
 * KEYS: job hash, stream. ARGV: from, incrAttempts, eventType, eventData, attempt|'', field, value, ...
 */
const TRANSITION = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0, '', 0, 0} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == st then allowed = true end end
if not allowed then return {0, st, 0, 0} end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if ARGV[5] ~= '' and attempts ~= tonumber(ARGV[5]) then return {0, 'fenced', 0, 0} end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
if ARGV[2] == '1' then attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
local seq = 0
if ARGV[3] ~= '' then
  seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
  redis.call('XADD', KEYS[2], seq .. '-0', 'type', ARGV[3], 'data', ARGV[4])
end
return {1, st, seq, attempts}
`;

/**
 * Ends a job like TRANSITION (status check, fields, event) and, in the same step, deletes its
 * checkpoint and gives every key of the job a TTL (retention), so nothing outlives the record.
 * With ARGV[2] (an attempt number) it applies only while the record's `attempts` equals it: a
 * worker that lost the job to another cannot end it. Returns TRANSITION's tuple, previous status
 * 'fenced' when the attempt did not match.
 * Every key is the job's (one slot on a cluster): the caller then removes the job from its
 * dataset's active-job set, a separate idempotent step (JobStore.finish).
 * ARGV[6]/ARGV[7], when not '', are the model and metrics the outcome keeps (written with the status).
 * Also returned when applied: the blob keys the step orphaned (the deleted checkpoint's `blob`,
 * the replaced model's pointer JSON), for the caller to delete ('' when none).
 * KEYS: job hash, stream, model, metrics, checkpoint. ARGV: from, attempt|'', ttlSeconds,
 * eventType, eventData, model|'', metrics|'', field, value, ...
 */
const FINISH = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0, '', 0, 0} end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= attempts then return {0, 'fenced', 0, attempts} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == st then allowed = true end end
if not allowed then return {0, st, 0, attempts} end
local oldModel = ''
if ARGV[6] ~= '' then
  if redis.call('GETRANGE', KEYS[3], 0, 7) == '{"blob":' then oldModel = redis.call('GET', KEYS[3]) end
  redis.call('SET', KEYS[3], ARGV[6])
end
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7]) end
if #ARGV > 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 8)) end
local seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
redis.call('XADD', KEYS[2], seq .. '-0', 'type', ARGV[4], 'data', ARGV[5])
local ckBlob = redis.call('HGET', KEYS[5], 'blob') or ''
redis.call('DEL', KEYS[5])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
end
return {1, st, seq, attempts, ckBlob, oldModel}
`;

/**
 * A running job's write: optionally a checkpoint (hash: data, epoch, step, attempt, eventSeq),
 * optionally an event, optionally the record's `progress`, all in one step and only while the job
 * is `running` with `attempts` = ARGV[1] (fencing: a worker that lost the job writes nothing).
 * With ARGV[8] the record's status changes too (a handback: 'queued').
 * The checkpoint is either inline (ARGV[2], the serialized bytes) or in the blob store (ARGV[9]
 * its blob key, ARGV[10] sha256, ARGV[11] size: the blob was written first, under a key unique to
 * the attempt). Returns { event sequence after the write, or -1 when fenced; the blob key of the
 * checkpoint this one replaced ('' when none or the same) }.
 * KEYS: job hash, stream, checkpoint. ARGV: attempt, data|'', epoch, step, eventType|'', eventData,
 * progress|'', status|'', blobKey|'', sha256, bytes
 */
const OWNED_WRITE = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return {-1, ''} end
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') ~= tonumber(ARGV[1]) then return {-1, ''} end
local seq = tonumber(redis.call('HGET', KEYS[1], 'eventSeq') or '0')
if ARGV[5] ~= '' then
  seq = redis.call('HINCRBY', KEYS[1], 'eventSeq', 1)
  redis.call('XADD', KEYS[2], seq .. '-0', 'type', ARGV[5], 'data', ARGV[6])
end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[7]) end
local old = ''
local blob = ARGV[9] or ''
if ARGV[2] ~= '' or blob ~= '' then
  old = redis.call('HGET', KEYS[3], 'blob') or ''
  if old == blob then old = '' end
  redis.call('HSET', KEYS[3], 'epoch', ARGV[3], 'step', ARGV[4], 'attempt', ARGV[1], 'eventSeq', seq)
  if blob ~= '' then
    redis.call('HSET', KEYS[3], 'blob', blob, 'sha256', ARGV[10], 'bytes', ARGV[11])
    redis.call('HDEL', KEYS[3], 'data')
  else
    redis.call('HSET', KEYS[3], 'data', ARGV[2])
    redis.call('HDEL', KEYS[3], 'blob', 'sha256', 'bytes')
  end
end
if ARGV[8] and ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[8]) end
return {seq, old}
`;

/**
 * Stores model and metrics of a job only while attempt ARGV[1] owns it and it is running, so an
 * attempt that lost the job cannot rewrite them (nor clear the TTL retention set on them).
 * The model is its JSON, or a blob pointer JSON ({"blob":…}, the blob written first).
 * Returns { 1, or -1 when fenced; the pointer JSON of the model this one replaced, '' when none }.
 * KEYS: job hash, model, metrics. ARGV: attempt, model, metrics.
 */
const OWNED_ARTIFACTS = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return {-1, ''} end
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') ~= tonumber(ARGV[1]) then return {-1, ''} end
local old = ''
if redis.call('GETRANGE', KEYS[2], 0, 7) == '{"blob":' then old = redis.call('GET', KEYS[2]) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
return {1, old}
`;

/**
 * Job creation on one Redis (not a cluster: the keys are on several slots) for every submit of one
 * event-loop turn, each in one step: the reservation among the tenant's active jobs (as
 * active-jobs.ts RESERVE, without its stale members' cleanup), the record (whose first event, id 1,
 * is implied: FIRST_JOB_EVENT), the job in its dataset's active-job set and in the tenant's index.
 * Jobs are handled in order, so two of one tenant see each other's reservation. Nothing is written
 * for a job whose dataset record is gone (its code -1) or whose tenant already has its max active
 * jobs (0); 1 when created. Returns the codes in order.
 * KEYS, 5 per job: active-jobs set, job hash, dataset hash, dataset's active-job set, tenant's job
 * index. ARGV: now (ms), then 4 per job: id, max, the record's fields but `spec` as one JSON object
 * of strings (one argument rather than two per field: ioredis spends ~0.3 µs per argument building
 * a command), `spec` (kept out of that JSON: escaping it again cost more than the argument).
 */
const SUBMIT_JOBS = `
local codes = {}
for j = 0, #KEYS / 5 - 1 do
  local k, a = j * 5, 1 + j * 4
  local id = ARGV[a + 1]
  if redis.call('EXISTS', KEYS[k + 3]) == 0 then
    codes[j + 1] = -1
  elseif redis.call('ZCARD', KEYS[k + 1]) >= tonumber(ARGV[a + 2]) then
    codes[j + 1] = 0
  else
    redis.call('ZADD', KEYS[k + 1], ARGV[1], id)
    local fields = {}
    for f, v in pairs(cjson.decode(ARGV[a + 3])) do
      fields[#fields + 1] = f
      fields[#fields + 1] = v
    end
    fields[#fields + 1] = 'spec'
    fields[#fields + 1] = ARGV[a + 4]
    redis.call('HSET', KEYS[k + 2], unpack(fields))
    redis.call('SADD', KEYS[k + 4], id)
    redis.call('ZADD', KEYS[k + 5], 0, id)
    codes[j + 1] = 1
  end
end
return codes
`;

interface ScriptedRedis {
  /** `numKeys` (5 per job), the keys, then the arguments (see SUBMIT_JOBS). */
  tsnnSubmitJobs(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  tsnnOwnedArtifacts(job: string, model: string, metrics: string, ...argv: string[]): Promise<[number, string]>;
  tsnnFinish(job: string, stream: string, model: string, metrics: string, checkpoint: string, ...argv: string[]): Promise<[number, string, number, number, string?, string?]>;
  tsnnOwnedWrite(job: string, stream: string, checkpoint: string, ...argv: (string | Buffer)[]): Promise<[number, string]>;
  tsnnAppendEvent(job: string, stream: string, ...argv: string[]): Promise<number>;
  tsnnTransition(job: string, stream: string, ...argv: string[]): Promise<[number, string, number, number]>;
}

/** Defines the Lua commands on `redis` once (ioredis sends EVALSHA and falls back to EVAL). */
export function scripted(redis: RedisClient): ScriptedRedis {
  const r = redis as RedisClient & Partial<ScriptedRedis>;
  if (!r.tsnnAppendEvent) {
    redis.defineCommand('tsnnAppendEvent', { numberOfKeys: 2, lua: APPEND_EVENT });
    redis.defineCommand('tsnnTransition', { numberOfKeys: 2, lua: TRANSITION });
    redis.defineCommand('tsnnFinish', { numberOfKeys: 5, lua: FINISH });
    redis.defineCommand('tsnnOwnedWrite', { numberOfKeys: 3, lua: OWNED_WRITE });
    redis.defineCommand('tsnnOwnedArtifacts', { numberOfKeys: 3, lua: OWNED_ARTIFACTS });
    redis.defineCommand('tsnnSubmitJobs', { lua: SUBMIT_JOBS });
  }
  return r as unknown as ScriptedRedis;
}
