import type { Buf, DType } from '../types.js';
import type { Kernels } from './types.js';
import { jsKernels } from './js.js';
import { wasmAvailable, wasmKernels } from './wasm/wasm-kernels.js';

export type { Kernels } from './types.js';
export { jsKernels } from './js.js';
export { relaxedSimdAvailable, wasmAvailable, wasmKernels, WasmUnavailableError } from './wasm/wasm-kernels.js';

/** Which kernels to train with: `auto` (default), `wasm` (WebAssembly SIMD, float32 only) or `js` (TypeScript reference). */
export type KernelPreference = 'auto' | 'wasm' | 'js';

export interface KernelOptions {
  /**
   * Threads per big matmul for the wasm backend (worker_threads helpers on its shared memory).
   * Default 1. Worth 2 only when the job may have a second idle core to itself.
   */
  threads?: number;
}

/**
 * Picks the kernel backend for a dtype; call once per training run (a wasm instance owns its
 * memory, so concurrent runs never share buffers; `dispose()` it after the run). For float32,
 * `auto` takes WebAssembly SIMD (with relaxed-SIMD FMA when the runtime validates it) and falls
 * back to the TypeScript reference where wasm is missing; `wasm` throws `WasmUnavailableError`
 * there instead. float64 always runs on the reference (exact, unchanged).
 */
export function getKernels(dtype: DType, preference: KernelPreference = 'auto', options: KernelOptions = {}): Kernels<Buf> {
  if (dtype === 'float32' && preference !== 'js' && (preference === 'wasm' || wasmAvailable())) {
    return wasmKernels({ threads: options.threads }) as unknown as Kernels<Buf>;
  }
  return jsKernels(dtype);
}

/** Whether `getKernels('float32', 'wasm')` can succeed here. */
export function fastKernelsAvailable(): boolean {
  return wasmAvailable();
}
