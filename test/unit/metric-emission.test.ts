import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DIMENSION, METRIC, METRIC_NAMES } from '../../lib/platform/metric-names.js';
import { captureStdout, type LogCapture } from '../../local/log-capture.js';

/**
 * The other half of the package test's check: every name in lib/platform/metric-names.ts
 * (which the dashboard and alarms may use) is really published as EMF, with
 * the dimensions the dashboard searches on, and its emitter is called.
 */
type Emf = Record<string, unknown> & {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
};

const saved = { ...process.env };
let capture: LogCapture;
beforeEach(() => {
  Object.assign(process.env, {
    POWERTOOLS_METRICS_DISABLED: 'false',
    POWERTOOLS_METRICS_NAMESPACE: 'TestNamespace',
    POWERTOOLS_SERVICE_NAME: 'test-service',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  vi.resetModules();
  capture = captureStdout();
});
afterEach(() => {
  capture.restore();
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

const emitted = () => capture.lines().filter((line): line is Emf => '_aws' in line);

describe('metric emission', () => {
  it('publishes every metric the dashboard may show, in the configured namespace with the service dimension', async () => {
    const {
      countOutcome,
      countApiError,
      countSweepProject,
      countIngress,
      countDesktop,
      reportConfigurationError,
      metrics,
    } = await import('../../lib/platform/observability.js');
    const { CircuitBreakers } = await import('../../lib/workspace/circuit-breakers.js');
    const { WorkspaceApiError } = await import('../../lib/workspace/errors.js');
    for (const kind of ['retried', 'dead-lettered', 'deferred', 'duplicate', 'previewed', 'not-failed'] as const)
      countOutcome(kind);
    countApiError('WKS.00210404');
    countSweepProject({
      projectId: 'p1',
      seen: 3,
      retried: 2,
      'dead-lettered': 1,
      deferred: 0,
      duplicate: 0,
      previewed: 0,
      'not-failed': 0,
    });
    for (const kind of ['enqueued', 'refused', 'unavailable'] as const) countIngress(kind);
    for (const kind of ['woken', 'not-ready'] as const) countDesktop(kind);
    reportConfigurationError('secret unreadable', new Error('secret s could not be read (AccessDeniedException)'));
    const breakers = new CircuitBreakers({ consecutiveFailures: 1, halfOpenAfterMs: 60_000, authCooldownMs: 60_000 });
    await breakers
      .execute('endpoint', () =>
        Promise.reject(new WorkspaceApiError({ status: 503, code: 'APIG.0613', message: 'busy' })),
      )
      .catch(() => undefined);
    metrics.publishStoredMetrics();

    const lines = emitted();
    const names = new Set(lines.flatMap((l) => l._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name))));
    expect([...METRIC_NAMES].filter((name) => !names.has(name))).toEqual([]);
    for (const line of lines) {
      expect(line._aws.CloudWatchMetrics[0]!.Namespace).toBe('TestNamespace');
      expect(line['service']).toBe('test-service');
    }
    const dimensionsOf = (name: string) =>
      lines.filter((l) => name in l).flatMap((l) => l._aws.CloudWatchMetrics[0]!.Dimensions.flat());
    expect(dimensionsOf(METRIC.apiError)).toEqual(expect.arrayContaining([DIMENSION.service, DIMENSION.errorCode]));
    expect(dimensionsOf(METRIC.sweepRecords)).toEqual(
      expect.arrayContaining([DIMENSION.service, DIMENSION.projectId, DIMENSION.outcome]),
    );
  });

  it('counts the sweep per project and outcome, zeros included, so a run that found nothing still shows', async () => {
    const { countSweepProject } = await import('../../lib/platform/observability.js');
    countSweepProject({
      projectId: 'p1',
      seen: 0,
      retried: 0,
      'dead-lettered': 0,
      deferred: 0,
      duplicate: 0,
      previewed: 0,
      'not-failed': 0,
    });
    const sweep = emitted().filter((l) => METRIC.sweepRecords in l);
    expect(sweep.map((l) => [l['ProjectId'], l['Outcome'], l[METRIC.sweepRecords]])).toEqual(
      ['seen', 'retried', 'dead-lettered', 'deferred', 'duplicate', 'previewed', 'not-failed'].map((outcome) => [
        'p1',
        outcome,
        0,
      ]),
    );
  });

  it("publishes a configuration error at once (it may be a failing cold start's last word), with an ERROR line naming the problem", async () => {
    // Prepare
    process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';
    const { atColdStart } = await import('../../lib/platform/observability.js');

    // Act
    const thrown = (() => {
      try {
        return atColdStart(() => {
          throw Object.assign(new Error('WORKSPACE_REGION: "xx-nowhere-1" is not a Huawei Cloud region'), {
            name: 'ConfigError',
          });
        });
      } catch (error) {
        return error as Error;
      }
    })();

    // Assess: rethrown as it was, logged at ERROR, and the metric is already out (nothing published it afterwards)
    expect(thrown.message).toContain('WORKSPACE_REGION');
    const error = capture.lines().find((l) => l['level'] === 'ERROR');
    expect(error).toMatchObject({
      message: expect.stringContaining('configuration refused at cold start'),
      error: expect.stringContaining('WORKSPACE_REGION: "xx-nowhere-1"'),
    });
    expect(
      emitted()
        .filter((l) => METRIC.configurationError in l)
        .map((l) => l[METRIC.configurationError]),
    ).toEqual([1]);
  });

  it('leaves any other cold-start error to the function-errors alarm (a bug is not a configuration error)', async () => {
    const { atColdStart } = await import('../../lib/platform/observability.js');
    expect(() =>
      atColdStart(() => {
        throw new TypeError('x is not a function');
      }),
    ).toThrow(TypeError);
    expect(emitted().filter((l) => METRIC.configurationError in l)).toEqual([]);
  });

  it('calls each emitter from the functions or the domain, not only from its tests', async () => {
    const sources = async (dir: string) =>
      Promise.all(
        (await readdir(dir, { recursive: true }))
          .filter((f) => f.endsWith('.ts') && !f.endsWith('observability.ts'))
          .map((f) => readFile(join(dir, f), 'utf8')),
      );
    const code = [...(await sources('lib')), ...(await sources('functions'))].join('\n');
    for (const emitter of [
      'countOutcome(',
      'countApiError(',
      'countSweepProject',
      'METRIC.circuitOpened',
      "countIngress('enqueued'",
      'countIngress(answer.kind)',
      'reportConfigurationError(',
      'atColdStart(',
    ])
      expect(code, emitter).toContain(emitter);
  });
});
