import { HttpProblem } from '../problem.js';

/** ES2024's resizable ArrayBuffer (Node 20 has it; the project's lib is ES2023). */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  readonly resizable: boolean;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** The most bytes one column group may take in memory (a resizable ArrayBuffer's largest size here). */
export const MAX_MATRIX_BYTES = 2 ** 32;
/** Growth step once past it (bytes): growing is in place, and shrinking zeroes (touches) the unused tail, so keep that tail small. */
const STEP_BYTES = 4 * 1024 * 1024;

const tooLarge = (bytes: number) =>
  new HttpProblem(413, 'dataset_too_large', `the dataset's values would take more than ${bytes / 2 ** 30} GiB in memory; send fewer rows or columns`, [
    { path: 'body', message: 'too many values', in: 'body' },
  ]);

/**
 * A growable array of numbers that stays float32 while every value round-trips through float32
 * and turns float64 (once, with its linked peer, so features and targets share a dtype) when one
 * does not. It lives in a resizable ArrayBuffer: growing commits pages in place (no copy;
 * untouched pages cost nothing) in steps of at most 4 MiB, and `finish()` shrinks it to the exact
 * size. Peak memory: the values plus one step, or 1.5× the float64 values at the moment a float32
 * array turns float64.
 */
export class ValueMatrix {
  /** Values written so far. */
  length = 0;
  private ab: ResizableArrayBuffer;
  /** Exactly one of f32/f64 is set until finish() or discard(). */
  f32: Float32Array | null;
  f64: Float64Array | null = null;
  private capacity: number;
  private peer: ValueMatrix | null = null;

  constructor(private readonly maxBytes = MAX_MATRIX_BYTES) {
    this.capacity = 1 << 14;
    this.ab = new ResizableArrayBuffer(this.capacity * 4, { maxByteLength: Math.min(maxBytes, MAX_MATRIX_BYTES) });
    this.f32 = new Float32Array(this.ab);
  }

  /** Makes `a` and `b` turn float64 together. */
  static link(a: ValueMatrix, b: ValueMatrix): void {
    a.peer = b;
    b.peer = a;
  }

  /** Appends `v` (finite). */
  push(v: number): void {
    if (this.length === this.capacity) this.grow();
    const f32 = this.f32;
    if (f32 !== null) {
      f32[this.length] = v;
      if (f32[this.length] !== v) {
        this.toFloat64();
        this.f64![this.length] = v;
      }
    } else this.f64![this.length] = v;
    this.length++;
  }

  get dtype(): 'float32' | 'float64' {
    return this.f64 ? 'float64' : 'float32';
  }

  private get bytesPer() {
    return this.f64 ? 8 : 4;
  }

  private grow(): void {
    const per = this.bytesPer;
    const max = Math.floor(this.ab.maxByteLength / per);
    if (this.capacity >= max) throw tooLarge(this.ab.maxByteLength);
    this.capacity = Math.min(max, this.capacity + Math.min(this.capacity, STEP_BYTES / per));
    this.ab.resize(this.capacity * per);
  }

  /** Turns this array (and its peer) float64, keeping every value written. */
  toFloat64(): void {
    if (this.f64) return;
    const old = this.ab;
    const max = Math.min(this.maxBytes, MAX_MATRIX_BYTES);
    if (this.length * 8 > max) throw tooLarge(max);
    this.capacity = this.length + (1 << 14);
    this.ab = new ResizableArrayBuffer(this.capacity * 8, { maxByteLength: max });
    this.f64 = new Float64Array(this.ab);
    const f32 = this.f32!;
    for (let i = 0; i < this.length; i++) this.f64[i] = f32[i];
    this.f32 = null;
    old.resize(0); // give the float32 pages back now, not at the next GC
    this.peer?.toFloat64();
  }

  /** The values written so far (a view, valid until the next push). */
  view(): Float32Array | Float64Array {
    return (this.f32 ?? this.f64)!.subarray(0, this.length);
  }

  /** Drops the first `n` values (moving the rest, a partial row, to the front): a consumer has taken them. */
  dropFront(n: number): void {
    const a = (this.f32 ?? this.f64)!;
    a.copyWithin(0, n, this.length);
    this.length -= n;
  }

  /** The values as a typed array of exactly `length` (the buffer shrunk to fit); the matrix is done. */
  finish(): Float32Array | Float64Array {
    const Ctor = this.f64 ? Float64Array : Float32Array;
    this.ab.resize(this.length * this.bytesPer);
    this.f32 = this.f64 = null;
    return new Ctor(this.ab, 0, this.length);
  }

  /** Frees the pages (an upload that failed). */
  discard(): void {
    if (this.ab.byteLength) this.ab.resize(0);
    this.f32 = this.f64 = null;
  }
}
