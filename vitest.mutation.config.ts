import { defineConfig } from 'vitest/config';

/**
 * The vitest run Stryker uses (stryker.config.mjs): only the test files that
 * guard the modules being mutated, which stryker.config.mjs passes in
 * MUTATION_TESTS.
 */
const include = (process.env['MUTATION_TESTS'] ?? '').split(',').filter(Boolean);
if (include.length === 0) throw new Error('MUTATION_TESTS is empty: run this config through `npm run test:mutation`');

export default defineConfig({
  test: {
    include,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
