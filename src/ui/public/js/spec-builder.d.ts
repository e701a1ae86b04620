// Types of spec-builder.js (a plain ES module the browser loads as it is).
import type { SpecOptions } from '../../../core/spec-options.js';
import type { LayerSpec, TrainingSpec } from '../../../core/types.js';

/** `GET /v1/spec/options` as served (the core's options plus the starter values). */
export type ServedSpecOptions = SpecOptions & { starter: { optimizer: string; epochs: number; batchSize: number } };
export type RawValue = string | number | boolean | undefined | null;

export class SpecInputError extends Error {
  readonly field: string;
  constructor(field: string, message: string);
}
/** Every schedule parameter of the options, once per name. */
export function scheduleFields(options: ServedSpecOptions): ServedSpecOptions['scheduleParameters'][number]['fields'];
export function parseLayers(text: string, activations?: readonly string[], name?: string): LayerSpec[];
export function parseClip(options: ServedSpecOptions, text: string, threshold?: RawValue, label?: (name: string) => string): NonNullable<TrainingSpec['clip']>;
export function defaultLoss(options: ServedSpecOptions, lastActivation: string): TrainingSpec['loss'];
export function buildSpec(options: ServedSpecOptions, base: Partial<TrainingSpec> | Record<string, unknown>, values: Record<string, RawValue>, label?: (name: string) => string): Partial<TrainingSpec>;
