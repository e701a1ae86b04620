// `npm ci` / `npm install` runs this (package.json "install"): builds the optional native kernels
// with the node-gyp bundled with npm, against the Node headers already on the machine (never a
// download). It never fails the install: without a compiler, Python or headers, training simply
// uses the WebAssembly kernels (src/native-kernels says why at run time).
// `npm run build:native` runs it by hand; TSNN_NATIVE=skip skips it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stderr.write(`native kernels: ${msg}\n`);

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

/** Headers of the running Node: next to its binary (official builds, distro packages) or in node-gyp's cache. */
function nodeDir() {
  const prefix = join(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include/node/node_api.h'))) return prefix;
  const home = process.env.HOME ?? '';
  for (const base of [join(home, '.cache/node-gyp', process.versions.node), join(home, '.node-gyp', process.versions.node)]) {
    if (existsSync(join(base, 'include/node/node_api.h'))) return base;
  }
  return undefined;
}

function main() {
  if (process.env.TSNN_NATIVE === 'skip') return say('skipped (TSNN_NATIVE=skip)');
  if (process.platform !== 'linux' || process.arch !== 'x64') return say(`skipped: x86-64 Linux only (this is ${process.platform}-${process.arch}); the wasm kernels are used`);
  const gyp = nodeGyp();
  if (!gyp) return say('skipped: node-gyp not found (it comes with npm); the wasm kernels are used');
  const dir = nodeDir();
  if (!dir) return say('skipped: no Node headers on this machine (and no download at install); the wasm kernels are used');
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--loglevel=warn'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (r.status === 0 && existsSync(join(root, 'build/Release/tsnn_kernels.node'))) return say('built build/Release/tsnn_kernels.node');
  const why = (r.error?.message ?? `${r.stderr ?? ''}${r.stdout ?? ''}`).trim().split('\n').filter((l) => /error|not found|missing/i.test(l)).slice(0, 3).join(' | ');
  say(`build failed (${why || `exit ${r.status}`}); the wasm kernels are used`);
}

try {
  main();
} catch (err) {
  say(`build failed (${err?.message ?? err}); the wasm kernels are used`);
}
process.exit(0);
