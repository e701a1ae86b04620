import { InvalidSpecError } from './errors.js';

/**
 * Parameters of a spec part (an optimizer's `beta1`, …) declared as data, once: the core reads
 * and checks a value with {@link readField}, `validateSpec` reports with {@link fieldProblem},
 * the API's zod schema, the OpenAPI document, `GET /v1/spec/options`, the CLI flags and the
 * dashboard form are all built from the same declaration.
 */
export interface NumberField {
  readonly kind: 'number';
  readonly min?: number;
  readonly max?: number;
  /** `min` itself is not allowed (x > min). */
  readonly exclusiveMin?: boolean;
  /** `max` itself is not allowed (x < max). */
  readonly exclusiveMax?: boolean;
  readonly integer?: boolean;
  readonly default?: number;
  readonly description: string;
}
export interface BooleanField {
  readonly kind: 'boolean';
  readonly default: boolean;
  readonly description: string;
}
export interface EnumField<V extends string = string> {
  readonly kind: 'enum';
  readonly values: readonly V[];
  readonly default: V;
  readonly description: string;
}
export type Field = NumberField | BooleanField | EnumField;
/** The parameters of one spec part, by name, in the order they are listed to users. */
export type Fields = Readonly<Record<string, Field>>;

/** The value type a field takes. */
export type FieldValue<F> = F extends BooleanField ? boolean : F extends EnumField<infer V> ? V : number;
/** The (optional) values of a field table, as a spec carries them. */
export type FieldValues<T> = { -readonly [K in keyof T]?: FieldValue<T[K]> };

/** A finite number > 0. */
export const positiveField = (def: number | undefined, description: string) => ({ kind: 'number', min: 0, exclusiveMin: true, default: def, description }) as const;
/** A finite number ≥ 0. */
export const nonNegativeField = (def: number | undefined, description: string) => ({ kind: 'number', min: 0, default: def, description }) as const;
/** An averaging coefficient in [0, 1). */
export const coefficientField = (def: number, description: string) => ({ kind: 'number', min: 0, max: 1, exclusiveMax: true, default: def, description }) as const;
export const booleanField = (def: boolean, description: string) => ({ kind: 'boolean', default: def, description }) as const;
export const enumField = <const V extends string>(values: readonly V[], def: V, description: string) => ({ kind: 'enum', values, default: def, description }) as const;

/** What a field takes, in words: `in [0, 1)`, `a finite number > 0`, `true or false`, `one of ema, classic`. */
export function expected(f: Field): string {
  if (f.kind === 'boolean') return 'true or false';
  if (f.kind === 'enum') return `one of ${f.values.join(', ')}`;
  const what = f.integer ? 'an integer' : 'a finite number';
  if (f.min !== undefined && f.max !== undefined) return `in ${f.exclusiveMin ? '(' : '['}${f.min}, ${f.max}${f.exclusiveMax ? ')' : ']'}`;
  if (f.min !== undefined) return `${what} ${f.exclusiveMin ? '>' : '≥'} ${f.min}`;
  if (f.max !== undefined) return `${what} ${f.exclusiveMax ? '<' : '≤'} ${f.max}`;
  return what;
}

/** Whether `v` is a value `f` takes. */
export function fieldAccepts(f: Field, v: unknown): boolean {
  if (f.kind === 'boolean') return typeof v === 'boolean';
  if (f.kind === 'enum') return typeof v === 'string' && (f.values as readonly string[]).includes(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (f.integer && !Number.isInteger(v)) return false;
  if (f.min !== undefined && (f.exclusiveMin ? !(v > f.min) : !(v >= f.min))) return false;
  if (f.max !== undefined && (f.exclusiveMax ? !(v < f.max) : !(v <= f.max))) return false;
  return true;
}

/** The message for a value `f` does not take (`must be in [0, 1), got 1`), or undefined. Absent is fine. */
export function fieldProblem(f: Field, v: unknown): string | undefined {
  if (v === undefined || fieldAccepts(f, v)) return undefined;
  return `must be ${expected(f)}, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
}

/**
 * `value`, or the field's default when absent, checked.
 * @throws InvalidSpecError at `path` for a value the field does not take.
 */
export function readField<F extends Field>(path: string, f: F, value: unknown): FieldValue<F> {
  const v = value ?? f.default;
  const problem = v === undefined ? `is required (${expected(f)})` : fieldProblem(f, v);
  if (problem) throw new InvalidSpecError(path, `${path} ${problem}`);
  return v as FieldValue<F>;
}

/** Every problem of `values` against `fields` at `prefix` (`optimizer`): bad values, and fields the table does not take. */
export function fieldsProblems(prefix: string, what: string, fields: Fields, values: Record<string, unknown>, ignore: readonly string[] = ['type']): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const names = Object.keys(fields);
  for (const [k, v] of Object.entries(values)) {
    if (ignore.includes(k)) continue;
    const f = Object.hasOwn(fields, k) ? fields[k] : undefined;
    if (!f) out.push({ path: `${prefix}.${k}`, message: `not a parameter of ${what}; ${what} takes ${names.join(', ') || 'no parameter but type'}` });
    else {
      const m = fieldProblem(f, v);
      if (m) out.push({ path: `${prefix}.${k}`, message: m });
    }
  }
  return out;
}
