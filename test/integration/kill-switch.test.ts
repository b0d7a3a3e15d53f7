import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from '../../lib/platform/metric-names.js';
import type { ManualAnswer } from '../../lib/ways-in/manual.js';
import type { ProjectSummary } from '../../lib/ways-in/sweep.js';
import { captureStdout } from '../../local/log-capture.js';
import { lambdaContext } from '../../local/poller.js';
import { body, failedRecord, minutesAgo, PROJECT_ID, plainFailure } from '../helpers/factories.js';
import { type Harness, invoke, outcomesOf, sqsEvent, startHarness } from '../helpers/harness.js';

/**
 * The kill switch is an SSM parameter every way in reads per invocation
 * (lib/config/kill-switch.ts), against the local SSM stand-in: turned without
 * reloading (redeploying) a function, it takes effect on the next invocation.
 */
type Manual = (event: unknown, context: Context) => Promise<ManualAnswer>;
type Sweep = (event: unknown, context: Context) => Promise<{ projects: ProjectSummary[] }>;

let h: Harness;
let parameter: string;
// Read at every invocation here (0: no cache), so a turn shows at once; deployed, a container keeps it for 30 s.
const switchEnv = () => ({
  RETRIES_ENABLED_PARAMETER: parameter,
  RETRIES_ENABLED_MAX_AGE_SECONDS: '0',
  POWERTOOLS_LOG_LEVEL: 'INFO',
});

/** A failure event for a record Workspace knows. */
function seeded(): Record<string, unknown> {
  const failure = plainFailure();
  h.stack.simulator.seedRecords(PROJECT_ID, [
    failedRecord({ id: failure['record_id'] as string, script_task_id: failure['task_id'] as string }),
  ]);
  return failure;
}

beforeAll(async () => {
  h = await startHarness();
  parameter = h.stack.killSwitchParameter;
});
afterAll(() => h.stop());

describe('the kill switch in SSM', () => {
  it('off, the queue defers without calling Workspace; on again, the same loaded function retries at its next invocation', async () => {
    // Prepare
    const queue = await h.loadHandler('queue', switchEnv());
    const held = seeded();
    const later = seeded();
    h.stack.ssm.putParameter(parameter, 'false');

    // Act
    const off = await outcomesOf(() => invoke(queue, sqsEvent([body(held)])));
    h.stack.ssm.putParameter(parameter, 'true');
    const on = await outcomesOf(() => invoke(queue, sqsEvent([body(later)])));

    // Assess
    expect(off).toEqual([
      expect.objectContaining({
        kind: 'deferred',
        reason: expect.stringContaining('retries-disabled: the kill switch is off'),
      }),
    ]);
    expect(h.stack.simulator.retryCount(held['record_id'] as string)).toBe(0);
    expect(on).toEqual([expect.objectContaining({ kind: 'retried' })]);
    expect(h.stack.ssm.readCount(parameter)).toBeGreaterThanOrEqual(2);
  });

  it('off, the console answers deferred and the sweep calls nothing', async () => {
    // Prepare
    const record = failedRecord({ start_time: minutesAgo(3) });
    const project = 'abcdefabcdefabcdefabcdefabcd0042';
    h.stack.simulator.seedRecords(project, [record]);
    const manual = await h.loadHandler<Manual>('manual', switchEnv());
    const sweep = await h.loadHandler<Sweep>('schedule', {
      ...switchEnv(),
      SWEEP_PROJECTS: JSON.stringify([{ project_id: project }]),
    });
    h.stack.ssm.putParameter(parameter, 'false');

    // Act
    const answer = await manual({ project_id: project, record_id: record.id }, lambdaContext('retryManually', 30_000));
    const swept = await sweep({}, lambdaContext('sweepOnSchedule', 300_000));
    h.stack.ssm.putParameter(parameter, 'true');

    // Assess
    expect(answer).toMatchObject({
      ok: true,
      results: [{ outcome: 'deferred', reason: expect.stringContaining('retries-disabled') }],
    });
    expect(swept.projects[0]).toMatchObject({ seen: 1, retried: 0, deferred: 1 });
    expect(h.stack.simulator.retryCount(record.id)).toBe(0);
  });

  it('a switch that was never read holds retries, with an ERROR line and a ConfigurationError metric', async () => {
    // Prepare: the parameter does not exist (a wrong name, or not deployed)
    const queue = await h.loadHandler('queue', {
      ...switchEnv(),
      RETRIES_ENABLED_PARAMETER: '/workspace-script-retry/nowhere/retries-enabled',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    const failure = seeded();
    const capture = captureStdout();

    // Act
    try {
      await invoke(queue, sqsEvent([body(failure)]));
    } finally {
      capture.restore();
    }

    // Assess
    expect(capture.outcomes()).toEqual([
      expect.objectContaining({ kind: 'deferred', reason: expect.stringContaining('retries-disabled') }),
    ]);
    expect(h.stack.simulator.retryCount(failure['record_id'] as string)).toBe(0);
    const error = capture.lines().find((l) => l['level'] === 'ERROR');
    expect(error).toMatchObject({
      message: expect.stringContaining('kill switch unreadable'),
      error: expect.stringContaining(
        '/workspace-script-retry/nowhere/retries-enabled could not be read (ParameterNotFound)',
      ),
    });
    expect(capture.lines().filter((l) => METRIC.configurationError in l)).toHaveLength(1);
  });

  it('a switch that said true keeps its value while SSM cannot be read', async () => {
    // Prepare
    const queue = await h.loadHandler('queue', switchEnv());
    await invoke(queue, sqsEvent([body(seeded())]));
    h.stack.ssm.down = true;
    const failure = seeded();

    // Act
    const outcomes = await outcomesOf(() => invoke(queue, sqsEvent([body(failure)]))).finally(() => {
      h.stack.ssm.down = false;
    });

    // Assess
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'retried' })]);
  });

  it('a switch that says neither true nor false holds retries, even in a container that read true before (a typo of "false" means off)', async () => {
    // Prepare
    const queue = await h.loadHandler('queue', switchEnv());
    await invoke(queue, sqsEvent([body(seeded())]));
    h.stack.ssm.putParameter(parameter, 'flase');
    const failure = seeded();

    // Act
    const outcomes = await outcomesOf(() => invoke(queue, sqsEvent([body(failure)]))).finally(() =>
      h.stack.ssm.putParameter(parameter, 'true'),
    );

    // Assess
    expect(outcomes).toEqual([
      expect.objectContaining({ kind: 'deferred', reason: expect.stringContaining('retries-disabled') }),
    ]);
    expect(h.stack.simulator.retryCount(failure['record_id'] as string)).toBe(0);
  });
});
