import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Makes sure a Redis answers (starting a private one if needed) before any test file runs.
    globalSetup: ['test/global-setup.ts'],
  },
});
