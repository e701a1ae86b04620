import { InvalidSpecError } from '../errors.js';
import type { Kernels } from '../kernels/types.js';
import type { Buf, Optimizer, OptimizerSpec, OptimizerType } from '../types.js';
import { nonNegativeField, positiveField, readField, type NumberField } from '../spec-fields.js';

/** The learning rate α every optimizer takes, with its own default. */
export const learningRateField = (def: number) => positiveField(def, `Base learning rate α (schedules scale it). Default ${def}`);
/** L2 weight decay λ added to the gradient (AdamW: decoupled decay), with its default. */
export const weightDecayField = (def: number, description = `L2 weight decay λ added to the gradient (g + λW). Default ${def}`) => nonNegativeField(def, description);

/** What `Optimizer.state()` returns: the step count and copies of the slot tensors by name. */
export interface OptimizerState {
  type: OptimizerType;
  steps: number;
  /** `slots[name][i]` is slot `name` of parameter tensor `i`; empty before the first step. */
  slots: Record<string, Buf[]>;
}

/**
 * The small base every optimizer extends: validates the shared fields, counts steps, allocates
 * the slot tensors lazily on the first step (same dtype and length as each parameter) and saves
 * / restores them. A subclass names its slots and implements {@link updateTensor}, which must
 * not allocate: it runs once per tensor per training step.
 */
export abstract class OptimizerBase implements Optimizer {
  abstract readonly type: OptimizerType;
  readonly learningRate: number;
  /** L2 coefficient λ added to the gradient (`g + λW`); AdamW uses it as decoupled decay instead. */
  protected readonly weightDecay: number;
  /** `slots[k][i]`: slot `slotNames[k]` of tensor `i`. */
  protected slots: Buf[][] = [];
  private stepCount = 0;
  /** Kernel backend of the training run, when set: slots live in its memory and fused updates may run there. */
  protected kernels: Kernels<Buf> | undefined;

  /** `fields`: the optimizer's own field table (its defaults for `learningRate` and `weightDecay`). */
  constructor(spec: OptimizerSpec, fields: { readonly learningRate: NumberField; readonly weightDecay: NumberField }) {
    this.learningRate = readField('optimizer.learningRate', fields.learningRate, spec.learningRate);
    this.weightDecay = readField('optimizer.weightDecay', fields.weightDecay, spec.weightDecay);
  }

  /** Names of the per-tensor state buffers this optimizer keeps (e.g. `m`, `v`); a constant array (called every step). */
  protected abstract slotNames(): readonly string[];

  /**
   * Updates tensor `i` in place. `t` is the step number (1 for the first step); slot buffers
   * are `this.slots[k][i]`. Each element is computed in float64 and stored in the tensor's dtype.
   */
  protected abstract updateTensor(i: number, w: Buf, g: Buf, lr: number, t: number): void;

  /** Called once per step before the tensors (e.g. to compute bias corrections). */
  protected beginStep(_t: number, _lr: number): void {}

  /** Lets the optimizer allocate its slots through `kernels` and use its fused updates (call before the first step). */
  useKernels(kernels: Kernels<Buf>): void {
    this.kernels = kernels;
  }

  get steps(): number {
    return this.stepCount;
  }

  step(params: Buf[], grads: Buf[], lr: number = this.learningRate): void {
    if (params.length !== grads.length) throw new RangeError(`optimizer.step: ${params.length} parameter tensors but ${grads.length} gradients`);
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`optimizer.step: learning rate must be finite and ≥ 0, got ${lr}`);
    for (let i = 0; i < params.length; i++) {
      if (params[i].length !== grads[i].length) throw new RangeError(`optimizer.step: tensor ${i} has ${params[i].length} elements but its gradient ${grads[i].length}`);
    }
    const names = this.slotNames();
    if (names.length > 0 && this.slots.length === 0) this.allocate(params, names.length);
    this.checkSlots(params);
    const t = ++this.stepCount;
    this.beginStep(t, lr);
    for (let i = 0; i < params.length; i++) this.updateTensor(i, params[i], grads[i], lr, t);
  }

  private allocate(params: Buf[], count: number): void {
    for (let k = 0; k < count; k++) {
      const row: Buf[] = [];
      for (const p of params) row.push(this.zeros(p));
      this.slots.push(row);
    }
  }

  private checkSlots(params: Buf[]): void {
    for (let k = 0; k < this.slots.length; k++) {
      const row = this.slots[k];
      if (row.length !== params.length) throw new RangeError(`optimizer.step: state holds ${row.length} tensors but ${params.length} were passed`);
      for (let i = 0; i < row.length; i++) {
        if (row[i].length !== params[i].length) throw new RangeError(`optimizer.step: tensor ${i} has ${params[i].length} elements but its state ${row[i].length}`);
      }
    }
  }

  state(): OptimizerState {
    const names = this.slotNames();
    const slots: Record<string, Buf[]> = {};
    if (this.slots.length > 0) names.forEach((name, k) => (slots[name] = this.slots[k].map((b) => b.slice())));
    return { type: this.type, steps: this.stepCount, slots };
  }

  load(state: unknown): void {
    const s = state as Partial<OptimizerState> | null;
    if (s === null || typeof s !== 'object' || s.type !== this.type || !Number.isInteger(s.steps) || (s.steps as number) < 0 || typeof s.slots !== 'object' || s.slots === null) {
      throw new InvalidSpecError('optimizer', `optimizer state does not belong to a ${this.type} optimizer`);
    }
    const names = this.slotNames();
    const present = names.filter((n) => s.slots![n] !== undefined);
    if (present.length !== 0 && present.length !== names.length) throw new InvalidSpecError('optimizer', `optimizer state lacks slots ${names.filter((n) => !present.includes(n)).join(', ')}`);
    for (const n of present) {
      const row = s.slots[n];
      if (!Array.isArray(row) || !row.every((b) => b instanceof Float32Array || b instanceof Float64Array)) throw new InvalidSpecError('optimizer', `optimizer state slot ${n} is not a list of typed arrays`);
    }
    if (present.length === 0 && names.length > 0 && (s.steps as number) > 0) throw new InvalidSpecError('optimizer', `optimizer state after ${s.steps} steps has no slots`);
    this.stepCount = s.steps as number;
    this.slots = present.length === 0 ? [] : names.map((n) => s.slots![n].map((b) => this.copy(b)));
  }

  /** A zeroed slot shaped like `p`, in the kernels' memory when they are set and share p's dtype. */
  private zeros(p: Buf): Buf {
    const z = this.kernels?.alloc(p.length);
    if (z && z.constructor === p.constructor) return z;
    return p instanceof Float32Array ? new Float32Array(p.length) : new Float64Array(p.length);
  }

  private copy(b: Buf): Buf {
    const c = this.zeros(b);
    c.set(b);
    return c;
  }
}
