#!/usr/bin/env node
// The `trainer` bin. Runs compiled JavaScript when there is some (beside this file when it was
// copied into dist/src/cli/, or dist/src/cli/main.js from `npm run build` when run from src/cli/),
// else the TypeScript source through tsx (a runtime dependency).
// TRAINER_CLI_FROM_SOURCE=1 forces the source (avoids running a stale dist/ while developing).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = [new URL('./main.js', import.meta.url), new URL('../../dist/src/cli/main.js', import.meta.url)].find((u) => existsSync(fileURLToPath(u)));
let mod;
if (process.env.TRAINER_CLI_FROM_SOURCE !== '1' && compiled) {
  mod = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('./main.ts');
}
process.exitCode = await mod.main(process.argv.slice(2));
