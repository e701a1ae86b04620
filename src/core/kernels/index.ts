import type { Buf, DType } from '../types.js';
import type { Kernels } from './types.js';
import { jsKernels } from './js.js';

export type { Kernels } from './types.js';

/**
 * Picks the kernel backend for a dtype. `auto` takes the fast backend when one is available
 * for that dtype, else the TypeScript reference.
 */
export function getKernels(dtype: DType, preference: 'auto' | 'wasm' | 'js' = 'auto'): Kernels<Buf> {
  void preference;
  return jsKernels(dtype);
}
