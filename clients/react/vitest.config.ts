import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.tsx'],
    environment: 'jsdom',
    pool: 'forks',
    poolOptions: { forks: { singleFork: true, maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    testTimeout: 30000,
    hookTimeout: 30000,
  },
});
