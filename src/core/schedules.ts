import { InvalidSpecError } from './errors.js';
import { nonNegativeField, positiveField, readField, type Fields } from './spec-fields.js';
import type { ScheduleSpec, ScheduleType } from './types.js';
import { SCHEDULES } from './types.js';

/** A factor in (0, 1]. */
const factorField = (description: string) => ({ kind: 'number', min: 0, exclusiveMin: true, max: 1, description }) as const;

/**
 * The parameters of each schedule, declared once (a field without a default is required for its
 * type): the core checks them here, and the API's schema, the OpenAPI document,
 * `GET /v1/spec/options`, the CLI flags and the dashboard form are built from this table.
 */
export const SCHEDULE_FIELDS = {
  constant: {},
  inverse_time: { decayRate: nonNegativeField(undefined, 'inverse_time: α0 / (1 + decayRate·epoch)') },
  inverse_sqrt: { k: positiveField(1, 'inverse_sqrt: k·α0 / sqrt(epoch + 1)') },
  exponential: { gamma: factorField('exponential: α0·γ^epoch') },
  step: {
    gamma: factorField('step: α0·γ^floor(epoch / stepSize)'),
    stepSize: { kind: 'number', integer: true, min: 1, description: 'step: epochs between two decays' },
  },
} as const satisfies Record<ScheduleType, Fields>;

/**
 * Checks a schedule's parameters against {@link SCHEDULE_FIELDS}; {@link learningRateAt} calls
 * it, a caller may call it once up front to fail before training starts.
 * @throws InvalidSpecError with the field path (`schedule.decayRate`, …).
 */
export function validateSchedule(schedule: ScheduleSpec): void {
  if (!SCHEDULES.includes(schedule.type)) throw new InvalidSpecError('schedule.type', `schedule.type must be one of ${SCHEDULES.join(', ')}, got ${String(schedule.type)}`);
  const fields: Fields = SCHEDULE_FIELDS[schedule.type];
  for (const [name, f] of Object.entries(fields)) readField(`schedule.${name}`, f, (schedule as Record<string, unknown>)[name]);
}

/**
 * The learning rate for epoch `epoch` (0-based: the first epoch trains at `e = 0`):
 * - `constant` (or no schedule): α0
 * - `inverse_time`: α0 / (1 + decayRate·e) (`decayRate` required, ≥ 0)
 * - `inverse_sqrt`: k·α0 / sqrt(e + 1) (`k` default 1)
 * - `exponential`: α0·γ^e (`gamma` required, in (0, 1])
 * - `step`: α0·γ^floor(e / stepSize) (`gamma` in (0, 1], `stepSize` an integer ≥ 1, both required)
 *
 * @throws InvalidSpecError for bad schedule parameters or a base rate that is not finite and > 0;
 *   RangeError for a negative or non-finite epoch.
 */
export function learningRateAt(schedule: ScheduleSpec | undefined, baseLearningRate: number, epoch: number): number {
  if (!(baseLearningRate > 0) || !Number.isFinite(baseLearningRate)) throw new InvalidSpecError('optimizer.learningRate', `optimizer.learningRate must be a finite number > 0, got ${baseLearningRate}`);
  if (!(epoch >= 0) || !Number.isFinite(epoch)) throw new RangeError(`learningRateAt: epoch must be a finite number ≥ 0, got ${epoch}`);
  if (schedule === undefined) return baseLearningRate;
  validateSchedule(schedule);
  switch (schedule.type) {
    case 'constant':
      return baseLearningRate;
    case 'inverse_time':
      return baseLearningRate / (1 + schedule.decayRate! * epoch);
    case 'inverse_sqrt':
      return ((schedule.k ?? 1) * baseLearningRate) / Math.sqrt(epoch + 1);
    case 'exponential':
      return baseLearningRate * Math.pow(schedule.gamma!, epoch);
    case 'step':
      return baseLearningRate * Math.pow(schedule.gamma!, Math.floor(epoch / schedule.stepSize!));
  }
}
