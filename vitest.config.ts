import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Makes sure a Redis answers (starting a private one if needed) before any test file runs.
    globalSetup: ['test/global-setup.ts'],
    // Same kernels as the trainer children (workers/training-worker.ts): relaxed-SIMD FMA, which
    // Node 20 gates behind a flag, so weights computed in a test match the service's bit for bit.
    execArgv: Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [],
  },
});
