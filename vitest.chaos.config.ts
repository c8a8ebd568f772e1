import { defineConfig } from 'vitest/config';

/** `npm run test:chaos`: the fault-injection suite (test/chaos), one file at a time — each starts and kills processes. */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
