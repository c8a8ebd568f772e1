import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The chaos suite runs on its own (npm run test:chaos; .ci/run calls it after npm test).
    exclude: ['test/chaos/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Integration files start their own clusters and worker processes; two at a time fits a 2-core machine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
