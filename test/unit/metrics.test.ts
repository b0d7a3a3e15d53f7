import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { countApiError, countOutcome, metrics } from '../../lib/platform/observability.js';
import { captureStdout, type LogCapture } from '../../local/log-capture.js';

/** The EMF lines the real metrics instance writes, read back from stdout. */

let capture: LogCapture;
beforeEach(() => {
  capture = captureStdout();
});
afterEach(() => capture.restore());

type Emf = Record<string, unknown> & {
  _aws: {
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
};
const emf = () => capture.lines().filter((l): l is Emf => '_aws' in l);

describe('metrics', () => {
  it.each([
    ['retried', 'Retried'],
    ['dead-lettered', 'DeadLettered'],
    ['deferred', 'Deferred'],
    ['duplicate', 'Duplicate'],
    ['previewed', 'Previewed'],
    ['not-failed', 'NotFailed'],
  ] as const)('count a %s outcome as %s, in the service namespace', (kind, name) => {
    countOutcome(kind);
    metrics.publishStoredMetrics();

    const [line] = emf();
    expect(line?.[name]).toBe(1);
    expect(line?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'WorkspaceScriptRetry',
      Metrics: [{ Name: name, Unit: 'Count' }],
    });
    expect(line?.['service']).toBe('workspace-script-retry');
  });

  it('count a Workspace error as ApiError with its code as a dimension, on a line of its own', () => {
    countApiError('WKS.00210404');

    const [line] = emf();
    expect(line).toMatchObject({ ErrorCode: 'WKS.00210404', ApiError: 1 });
    expect(line?._aws.CloudWatchMetrics[0]?.Dimensions[0]).toContain('ErrorCode');
    expect(line?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'ApiError', Unit: 'Count' }]);
  });
});

describe('names from the environment', () => {
  it('take the namespace and the service name from the Powertools variables when they are set', async () => {
    const saved = { ...process.env };
    process.env['POWERTOOLS_METRICS_NAMESPACE'] = 'OtherNamespace';
    process.env['POWERTOOLS_SERVICE_NAME'] = 'other-service';
    try {
      vi.resetModules();
      const fresh = await import('../../lib/platform/observability.js');
      fresh.countOutcome('retried');
      fresh.metrics.publishStoredMetrics();
      fresh.logger.info('named');
    } finally {
      process.env = saved;
    }
    const [line] = emf();
    expect(line?._aws.CloudWatchMetrics[0]?.Namespace).toBe('OtherNamespace');
    expect(line?.['service']).toBe('other-service');
    expect(capture.lines().find((l) => l['message'] === 'named')?.['service']).toBe('other-service');
  });
});
