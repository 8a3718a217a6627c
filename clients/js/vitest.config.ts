import { defineConfig } from 'vitest/config';

// The tests run against a real server process: one test file at a time, in one worker, to stay
// light on small machines (and because some tests kill and restart their server).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true, maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    testTimeout: 30000,
    hookTimeout: 30000,
    reporters: ['default'],
  },
});
