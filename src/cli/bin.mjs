#!/usr/bin/env node
// The `trainer` bin. Runs the compiled CLI (dist/src/cli/main.js, from `npm run build`) when it
// exists, else the TypeScript source through tsx (a runtime dependency). Set
// TRAINER_CLI_FROM_SOURCE=1 to force the source (avoids a stale dist/ during development).
import { existsSync } from 'node:fs';

const compiled = new URL('../../dist/src/cli/main.js', import.meta.url);
let mod;
if (process.env.TRAINER_CLI_FROM_SOURCE !== '1' && existsSync(compiled)) {
  mod = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('./main.ts');
}
process.exitCode = await mod.main(process.argv.slice(2));
