import { InvalidSpecError } from './errors.js';
import type { ScheduleSpec } from './types.js';
import { SCHEDULES } from './types.js';

function required(path: string, value: number | undefined, ok: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !ok(value)) throw new InvalidSpecError(path, `${path} must be ${expected}, got ${String(value)}`);
  return value;
}

/**
 * Checks a schedule's parameters; {@link learningRateAt} calls it, a caller may call it once
 * up front to fail before training starts.
 * @throws InvalidSpecError with the field path (`schedule.decayRate`, …).
 */
export function validateSchedule(schedule: ScheduleSpec): void {
  if (!SCHEDULES.includes(schedule.type)) throw new InvalidSpecError('schedule.type', `schedule.type must be one of ${SCHEDULES.join(', ')}, got ${String(schedule.type)}`);
  switch (schedule.type) {
    case 'inverse_time':
      required('schedule.decayRate', schedule.decayRate, (v) => Number.isFinite(v) && v >= 0, 'a finite number ≥ 0');
      break;
    case 'inverse_sqrt':
      if (schedule.k !== undefined) required('schedule.k', schedule.k, (v) => Number.isFinite(v) && v > 0, 'a finite number > 0');
      break;
    case 'exponential':
      required('schedule.gamma', schedule.gamma, (v) => v > 0 && v <= 1, 'in (0, 1]');
      break;
    case 'step':
      required('schedule.gamma', schedule.gamma, (v) => v > 0 && v <= 1, 'in (0, 1]');
      required('schedule.stepSize', schedule.stepSize, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
      break;
    case 'constant':
      break;
  }
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
