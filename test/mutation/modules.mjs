/**
 * The safety-critical modules `npm run test:mutation` mutates, each with the
 * test files that guard it (only those run against its mutants: the machine
 * is shared and a mutation run is CPU-heavy). MUTATION_MODULES=a,b picks some.
 */
export const MODULES = {
  'circuit-breakers': { mutate: ['lib/workspace/circuit-breakers.ts'], tests: ['test/unit/circuit-breakers.test.ts'] },
  'batch-failure-guard': {
    mutate: ['lib/ways-in/batch-failure-guard.ts'],
    tests: ['test/unit/batch-failure-guard.test.ts'],
  },
  validation: {
    mutate: ['lib/platform/valibot.ts', 'lib/platform/env-schema.ts'],
    tests: [
      'test/unit/valibot-messages.test.ts',
      'test/unit/config.test.ts',
      'test/unit/sweep-config.test.ts',
      'test/unit/ingress/ingress-config.test.ts',
      'test/unit/policy-config.test.ts',
      'test/unit/manual-payload.test.ts',
      'test/unit/payloads.test.ts',
    ],
  },
  credentials: {
    mutate: ['lib/workspace/credentials.ts'],
    tests: ['test/unit/credentials.test.ts', 'test/integration/credentials-middleware.test.ts'],
  },
  observability: {
    mutate: ['lib/platform/observability.ts'],
    tests: ['test/unit/redaction.test.ts', 'test/unit/metrics.test.ts', 'test/unit/metric-emission.test.ts'],
  },
  normalise: {
    mutate: ['lib/events/normalise.ts', 'lib/events/envelopes.ts', 'lib/events/payloads.ts'],
    tests: ['test/unit/normalise.test.ts', 'test/unit/envelopes.test.ts', 'test/unit/payloads.test.ts'],
  },
  'key-gate': {
    mutate: ['lib/workspace/key-gate.ts', 'lib/workspace/key-calls.ts', 'lib/workspace/key-refusals.ts'],
    tests: [
      'test/unit/key-gate.test.ts',
      'test/unit/key-gate-reports.test.ts',
      'test/unit/key-calls.test.ts',
      'test/integration/key-refusals.test.ts',
      'test/integration/key-safety.test.ts',
      'test/model/key-rotation-ahead.test.ts',
    ],
  },
  ledger: {
    mutate: [
      'lib/ledger/chain.ts',
      'lib/ledger/transitions.ts',
      'lib/ledger/standing.ts',
      'lib/ledger/attempt-ledger.ts',
      'lib/ledger/locate.ts',
    ],
    tests: [
      'test/integration/ledger.test.ts',
      'test/integration/ledger-cases.test.ts',
      'test/integration/ledger-together.test.ts',
      'test/unit/standing.test.ts',
      'test/unit/ledger-items.test.ts',
      'test/unit/attempt-ledger.test.ts',
      'test/unit/locate.test.ts',
      'test/unit/lost-answers.test.ts',
      'test/unit/owned-elsewhere.test.ts',
    ],
  },
  runs: {
    mutate: ['lib/ledger/runs.ts'],
    tests: [
      'test/unit/runs.test.ts',
      'test/unit/runs-placement.test.ts',
      'test/unit/locate.test.ts',
      'test/unit/lost-answers.test.ts',
      'test/model/protocol-cases.test.ts',
      'test/model/break-cases.test.ts',
      'test/model/shared-desktop-cases.test.ts',
    ],
  },
  'lost-answers': {
    mutate: [
      'lib/ledger/locate.ts',
      'lib/pipeline/unknown-outcome.ts',
      'lib/pipeline/handled-run.ts',
      'lib/pipeline/workspace-lookups.ts',
    ],
    tests: [
      'test/model/protocol-cases.test.ts',
      'test/model/break-cases.test.ts',
      'test/integration/ledger.test.ts',
      'test/integration/ledger-cases.test.ts',
      'test/unit/locate.test.ts',
      'test/unit/lost-answers.test.ts',
      'test/unit/workspace-lookups.test.ts',
      'test/unit/owned-elsewhere.test.ts',
    ],
  },
  'ledger-store': {
    mutate: ['lib/ledger/store.ts', 'lib/platform/attribute-values.ts'],
    tests: [
      'test/unit/attribute-values.test.ts',
      'test/unit/ledger-store.test.ts',
      'test/unit/attribute-edges.test.ts',
      'test/integration/ledger.test.ts',
      'test/integration/ledger-store.test.ts',
      'test/integration/ledger-together.test.ts',
      'test/integration/ledger-store-batching.test.ts',
      'test/integration/ledger-numbers.test.ts',
      'test/integration/ledger-operator-attributes.test.ts',
    ],
  },
  'aws-json': {
    mutate: ['lib/platform/aws-json.ts', 'lib/platform/keep-alive-http.ts', 'lib/platform/sigv4.ts'],
    tests: [
      'test/unit/sigv4.test.ts',
      'test/integration/aws-json.test.ts',
      'test/unit/aws-endpoint.test.ts',
      'test/unit/aws-json-retries.test.ts',
      'test/integration/keep-alive-http.test.ts',
      'test/integration/workspace-client.test.ts',
    ],
  },
  'env-schema': {
    mutate: ['lib/platform/env-schema.ts'],
    tests: ['test/unit/config.test.ts', 'test/unit/sweep-config.test.ts', 'test/unit/ingress/ingress-config.test.ts'],
  },
  delays: {
    mutate: ['lib/platform/backoff.ts', 'lib/platform/queue-sender.ts', 'lib/platform/batches.ts'],
    tests: [
      'test/unit/backoff.test.ts',
      'test/unit/batches.test.ts',
      'test/unit/queue-delays.test.ts',
      'test/unit/queue-sender.test.ts',
      'test/unit/policy.test.ts',
      'test/integration/queue-function.test.ts',
    ],
  },
  'time-budget': {
    mutate: ['lib/ways-in/time-budget.ts'],
    tests: [
      'test/unit/time-budget.test.ts',
      'test/unit/time-budget-margins.test.ts',
      'test/model/queue-batch.test.ts',
      'test/integration/schedule-and-manual.test.ts',
    ],
  },
  pipeline: {
    mutate: [
      'lib/pipeline/process-failure.ts',
      'lib/pipeline/retry-call.ts',
      'lib/pipeline/call-place.ts',
      'lib/pipeline/runner.ts',
    ],
    tests: [
      'test/integration/ledger.test.ts',
      'test/integration/queue-function.test.ts',
      'test/integration/key-safety.test.ts',
      'test/integration/unknown-outcome.test.ts',
      'test/integration/schedule-and-manual.test.ts',
      'test/model/protocol-cases.test.ts',
      'test/model/break-cases.test.ts',
      'test/model/runner-slots.test.ts',
      'test/model/pipeline-paths.test.ts',
      'test/integration/safety.test.ts',
      'test/integration/crash-mid-batch.test.ts',
      'test/model/key-rotation-ahead.test.ts',
      'test/unit/concurrency.test.ts',
      'test/unit/call-place.test.ts',
    ],
  },
  places: {
    mutate: ['lib/platform/concurrency.ts'],
    tests: ['test/unit/concurrency.test.ts', 'test/model/runner-slots.test.ts', 'test/unit/key-calls.test.ts'],
  },
  settlement: {
    mutate: ['lib/pipeline/settlement.ts'],
    tests: [
      'test/unit/settlement.test.ts',
      'test/integration/queue-function.test.ts',
      'test/integration/schedule-and-manual.test.ts',
    ],
  },
  'queue-batch': {
    mutate: ['lib/ways-in/queue-batch.ts'],
    tests: [
      'test/model/queue-batch.test.ts',
      'test/integration/queue-function.test.ts',
      'test/integration/crash-mid-batch.test.ts',
    ],
  },
  desktops: {
    mutate: ['lib/pipeline/desktop-verdict.ts', 'lib/pipeline/desktop-gate.ts', 'lib/workspace/desktop-reads.ts'],
    tests: [
      'test/unit/desktop-verdict.test.ts',
      'test/unit/desktop-reads.test.ts',
      'test/unit/desktop-call-guards.test.ts',
      'test/unit/desktop-gate.test.ts',
      'test/integration/desktop-gate.test.ts',
    ],
  },
};

/** The modules this run mutates. */
export function selectedModules(env = process.env) {
  const names = (env.MUTATION_MODULES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names)
    if (!(name in MODULES))
      throw new Error(`MUTATION_MODULES: unknown module "${name}" (known: ${Object.keys(MODULES).join(', ')})`);
  return (names.length ? names : Object.keys(MODULES)).map((name) => ({ name, ...MODULES[name] }));
}
