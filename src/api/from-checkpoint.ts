import { createOptimizer } from '../core/index.js';
import type { Checkpoint } from '../core/types.js';
import type { JobFromCheckpoint } from '../schemas/checkpoint.js';
import type { JobSubmission } from '../schemas/training-spec.js';
import type { Services } from './services.js';
import { HttpProblem, invalidField } from './problem.js';

/** JSON with sorted keys, so two specs compare by content. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/**
 * The checkpoint a `fromCheckpoint` submission starts from, checked against the new spec: the
 * checkpoint carries weights, normalization statistics and the validation split, so dataset,
 * layers, dtype, loss, normalize, validationSplit and seed must be the source job's; epochs must
 * exceed the checkpoint's. Another optimizer keeps the weights and starts its own state fresh.
 * Throws a 4xx naming the field.
 */
export async function checkpointToStartFrom(svc: Services, tenant: string, body: JobSubmission): Promise<{ checkpoint: Checkpoint; record: JobFromCheckpoint }> {
  const from = body.fromCheckpoint!;
  const source = await svc.jobs.get(from.jobId, tenant);
  if (!source) throw new HttpProblem(404, 'not_found', `job '${from.jobId}' does not exist`, [{ path: 'fromCheckpoint.jobId', message: 'no such job', in: 'body' }]);
  const store = svc.jobs.checkpoints();
  const kept = await store.listKept(source.id);
  if (kept.length === 0)
    throw new HttpProblem(409, 'no_checkpoint', `job '${source.id}' has no kept checkpoint (none of its epochs finished, or they expired)`, [
      { path: 'fromCheckpoint.jobId', message: 'no kept checkpoint', in: 'body' },
    ]);
  const epoch = from.epoch ?? kept[kept.length - 1].epoch;
  if (!kept.some((k) => k.epoch === epoch))
    throw invalidField('fromCheckpoint.epoch', `job '${source.id}' keeps checkpoints after epochs ${kept.map((k) => k.epoch).join(', ')} only (GET /v1/jobs/${source.id}/checkpoints)`);

  const s = source.spec;
  const same: [string, unknown, unknown, string][] = [
    ['datasetId', body.datasetId, source.datasetId, `the source job's dataset '${source.datasetId}'`],
    ['model.layers', body.model.layers.map((l) => [l.units, l.activation]), s.model.layers.map((l) => [l.units, l.activation]), "the source job's layers (units and activations)"],
    ['dtype', body.dtype ?? 'float32', s.dtype ?? 'float32', `the source job's dtype (${s.dtype ?? 'float32'})`],
    ['loss', body.loss, s.loss, `the source job's loss (${s.loss})`],
    ['normalize', body.normalize ?? true, s.normalize ?? true, `the source job's normalize (${canonical(s.normalize ?? true)})`],
    ['validationSplit', body.validationSplit ?? 0, s.validationSplit ?? 0, `the source job's validationSplit (${s.validationSplit ?? 0})`],
    ['seed', body.seed ?? 0, s.seed ?? 0, `the source job's seed (${s.seed ?? 0}: it drew the validation split)`],
  ];
  for (const [path, mine, theirs, what] of same)
    if (canonical(mine) !== canonical(theirs)) throw invalidField(path, `must equal ${what} to start from its checkpoint`);
  if (body.epochs <= epoch) throw invalidField('epochs', `must exceed the checkpoint's ${epoch} finished epochs (epochs counts from the start of the source job's training)`);

  const checkpoint = await store.loadKept(source.id, epoch);
  if (!checkpoint) throw new HttpProblem(409, 'no_checkpoint', `the checkpoint of job '${source.id}' after epoch ${epoch} expired; list them again`);
  const optimizerReset = canonical(body.optimizer) !== canonical(s.optimizer);
  if (optimizerReset) checkpoint.state = { ...(checkpoint.state as object), optimizer: createOptimizer(body.optimizer).state() };
  return { checkpoint, record: { jobId: source.id, epoch, optimizerReset } };
}
