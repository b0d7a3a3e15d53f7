// @ts-check
import { selectedModules } from './test/mutation/modules.mjs';

/**
 * Mutation testing of the safety-critical modules (`npm run test:mutation`,
 * not part of `npm test`). Each module's mutants run against its own test
 * files only (test/mutation/modules.mjs); MUTATION_MODULES=key-gate,normalise
 * narrows a run. The vitest workers inherit MUTATION_TESTS from here.
 */
const modules = selectedModules();
process.env.MUTATION_TESTS = [...new Set(modules.flatMap((m) => m.tests))].join(',');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  checkers: ['typescript'],
  // The checker only needs to see that a mutant compiles where it lives; checking the tests and tools too made each mutant ~8 s.
  tsconfigFile: 'tsconfig.mutation.json',
  mutate: modules.flatMap((m) => m.mutate),
  coverageAnalysis: 'perTest',
  // The machine is shared: one test runner at a time.
  concurrency: 1,
  timeoutMS: 20_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
