import { afterEach, beforeEach, vi } from 'vitest';
import { logger, metrics } from '../../lib/platform/observability.js';
import type { LoggedOutcome } from './world.js';

/**
 * Fakes Date (the model's clock sets it) and turns the pipeline's log lines
 * and metrics off, keeping the outcome lines for `sink`. Returns the undo.
 */
export function quietPipeline(sink: () => { outcomes: LoggedOutcome[] } | undefined): () => void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.spyOn(logger, 'info').mockImplementation((message: unknown, ...extra: unknown[]) => {
    if (message === 'outcome') sink()?.outcomes.push(extra[0] as LoggedOutcome);
  });
  for (const level of ['warn', 'error', 'debug'] as const) vi.spyOn(logger, level).mockImplementation(() => undefined);
  vi.spyOn(metrics, 'addMetric').mockImplementation(() => metrics);
  vi.spyOn(metrics, 'singleMetric').mockReturnValue({
    addDimension: () => undefined,
    addMetric: () => undefined,
  } as never);
  return () => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  };
}

/** quietPipeline around every test of the file that calls it. */
export function quietPipelineEachTest(sink: () => { outcomes: LoggedOutcome[] } | undefined): void {
  let undo: () => void = () => undefined;
  beforeEach(() => {
    undo = quietPipeline(sink);
  });
  afterEach(() => undo());
}
