/*
 * `npm run build:wasm`: compiles the generated WAT (gemm-wat.ts) with wabt and writes the bytes
 * into gemm-module.generated.ts, so the runtime (and a Docker image without devDependencies)
 * needs no build tool. A build tool: it lives outside src/core, which imports only src/core.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileKernelModules, renderGeneratedModule } from './compile.js';

const out = fileURLToPath(new URL('../../src/core/kernels/wasm/gemm-module.generated.ts', import.meta.url));
const modules = await compileKernelModules();
writeFileSync(out, renderGeneratedModule(modules));
console.log(`wrote ${out}: simd ${modules.simd.length} bytes, relaxed ${modules.relaxed.length} bytes`);
