import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time, whatever the machine: on 2 cores vitest's default is one, and `npm test` took 290–308 s
    // of its 5-minute budget; with two it took 182–185 s. Time in the tests comes from injected clocks, and the chaos
    // and packaging tests passed beside each other.
    maxWorkers: 2,
  },
});
