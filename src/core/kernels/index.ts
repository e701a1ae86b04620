import type { Buf, DType } from '../types.js';
import type { Kernels } from './types.js';
import { jsKernels } from './js.js';
import { wasmAvailable, wasmKernels } from './wasm/wasm-kernels.js';

export type { Kernels } from './types.js';
export { jsKernels } from './js.js';
export { relaxedSimdAvailable, wasmAvailable, wasmKernels, WasmUnavailableError } from './wasm/wasm-kernels.js';

/** Which kernels to train with: `auto` (default), `wasm` (WebAssembly SIMD, float32 only) or `js` (TypeScript reference). */
export type KernelPreference = 'auto' | 'wasm' | 'js';

/**
 * Picks the kernel backend for a dtype; call once per training run (a wasm instance owns its
 * memory, so concurrent runs never share buffers). `auto` currently takes the TypeScript
 * reference; `wasm` gives WebAssembly SIMD for float32 and throws `WasmUnavailableError` where
 * the runtime lacks it. float64 always runs on the reference (exact, unchanged).
 */
export function getKernels(dtype: DType, preference: KernelPreference = 'auto'): Kernels<Buf> {
  if (dtype === 'float32' && preference === 'wasm') return wasmKernels() as Kernels<Buf>;
  return jsKernels(dtype);
}

/** Whether `getKernels('float32', 'wasm')` can succeed here. */
export function fastKernelsAvailable(): boolean {
  return wasmAvailable();
}
