/*
 * `npm run build:wasm`: compiles the generated WAT (gemm-wat.ts) with wabt and writes the bytes
 * into gemm-module.generated.ts, so the runtime (and a Docker image without devDependencies)
 * needs no build tool. Build-time only: nothing in src/core imports this file.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileKernelModules, renderGeneratedModule } from './compile.js';

const out = fileURLToPath(new URL('./gemm-module.generated.ts', import.meta.url));
const modules = await compileKernelModules();
writeFileSync(out, renderGeneratedModule(modules));
console.log(`wrote ${out}: simd ${modules.simd.length} bytes, relaxed ${modules.relaxed.length} bytes`);
