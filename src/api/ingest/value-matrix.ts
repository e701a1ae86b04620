import { HttpProblem } from '../problem.js';

/** ES2024's resizable ArrayBuffer (Node 20 has it; the project's lib is ES2023). */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  readonly resizable: boolean;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** The most bytes one dataset's values may take in memory (a resizable ArrayBuffer's largest size here). */
export const MAX_MATRIX_BYTES = 2 ** 32;

const tooLarge = (bytes: number) =>
  new HttpProblem(413, 'dataset_too_large', `the dataset's values would take more than ${bytes / 2 ** 30} GiB in memory; send fewer rows or columns`, [
    { path: 'body', message: 'too many values', in: 'body' },
  ]);

/**
 * A growable row-major table of numbers that stays float32 while every value round-trips through
 * float32 and turns float64 (once) when one does not. It lives in a resizable ArrayBuffer: growing
 * commits pages in place (no copy, untouched pages cost no memory) and `finish()` shrinks it to
 * the exact size, so the peak is the result plus one page, or 1.5× the float64 result at the
 * moment a float32 table turns float64.
 */
export class ValueMatrix {
  /** Values written so far. */
  length = 0;
  private ab: ResizableArrayBuffer;
  /** Exactly one of f32/f64 is set. */
  f32: Float32Array | null;
  f64: Float64Array | null = null;
  private capacity: number;

  constructor(private readonly maxBytes = MAX_MATRIX_BYTES) {
    this.capacity = 1 << 16;
    this.ab = new ResizableArrayBuffer(this.capacity * 4, { maxByteLength: Math.min(maxBytes, MAX_MATRIX_BYTES) });
    this.f32 = new Float32Array(this.ab);
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
    return this.f32 ? 'float32' : 'float64';
  }

  private get bytesPer() {
    return this.f32 ? 4 : 8;
  }

  private grow(): void {
    const max = Math.floor(this.ab.maxByteLength / this.bytesPer);
    if (this.capacity >= max) throw tooLarge(this.ab.maxByteLength);
    this.capacity = Math.min(max, this.capacity * 2);
    this.ab.resize(this.capacity * this.bytesPer);
  }

  private toFloat64(): void {
    const old = this.ab;
    const max = Math.min(this.maxBytes, MAX_MATRIX_BYTES);
    if (this.capacity * 8 > max) throw tooLarge(max);
    this.ab = new ResizableArrayBuffer(this.capacity * 8, { maxByteLength: max });
    this.f64 = new Float64Array(this.ab);
    const f32 = this.f32!;
    for (let i = 0; i < this.length; i++) this.f64[i] = f32[i];
    this.f32 = null;
    old.resize(0); // give the float32 pages back now, not at the next GC
  }

  /**
   * Splits the rows (`width` values each) into features (every column but `target`, compacted in
   * place, the buffer shrunk to fit) and the target column (a new array of `rows` values).
   */
  finish(width: number, target: number): { features: Float32Array | Float64Array; targets: Float32Array | Float64Array } {
    const rows = this.length / width;
    const a = (this.f32 ?? this.f64)!;
    const Ctor = this.f32 ? Float32Array : Float64Array;
    const targets = new Ctor(rows);
    let dst = 0;
    for (let r = 0, src = 0; r < rows; r++) {
      for (let c = 0; c < width; c++, src++) {
        if (c === target) targets[r] = a[src];
        else a[dst++] = a[src];
      }
    }
    this.ab.resize(dst * this.bytesPer);
    const features = new Ctor(this.ab, 0, dst);
    this.f32 = this.f64 = null;
    return { features, targets };
  }

  /** Frees the pages (an upload that failed). */
  discard(): void {
    if (this.ab.resizable) this.ab.resize(0);
    this.f32 = this.f64 = null;
  }
}
