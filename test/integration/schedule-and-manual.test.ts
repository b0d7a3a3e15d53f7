import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureKey } from '../../lib/events/failure.js';
import type { ManualAnswer } from '../../lib/ways-in/manual.js';
import type { ProjectSummary } from '../../lib/ways-in/sweep.js';
import { lambdaContext } from '../../local/poller.js';
import { body, failedRecord, OTHER_PROJECT_ID, PROJECT_ID, plainFailure } from '../helpers/factories.js';
import { attr, type Harness, invoke, sqsEvent, startHarness } from '../helpers/harness.js';

type Sweep = (event: unknown, context: Context) => Promise<{ projects: ProjectSummary[] }>;
type Manual = (event: unknown, context: Context) => Promise<ManualAnswer>;

let h: Harness;
const minutesAgo = (m: number) => `${new Date(Date.now() - m * 60_000).toISOString().slice(0, 19)}Z`;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

async function sweeper(env: Record<string, string> = {}): Promise<Sweep> {
  const projects = JSON.stringify([{ project_id: PROJECT_ID }, { project_id: OTHER_PROJECT_ID, region: 'cn-north-4' }]);
  return h.loadHandler<Sweep>('schedule', { SWEEP_PROJECTS: projects, MAX_CONCURRENCY: '10', ...env });
}

const byProject = (result: { projects: ProjectSummary[] }, id: string) =>
  result.projects.find((p) => p.projectId === id)!;

describe('the scheduled sweep', () => {
  it('finds failed records across pages and projects, finds nothing new the second time, and sees queue retries as duplicates', async () => {
    // Prepare: 130 failed records in one project (two pages of 100), 15 in another, plus noise.
    const records = Array.from({ length: 130 }, (_, i) =>
      failedRecord({ id: `sweep-a-${i}`, start_time: minutesAgo(20) }),
    );
    const other = Array.from({ length: 15 }, (_, i) => failedRecord({ id: `sweep-b-${i}`, start_time: minutesAgo(5) }));
    h.stack.simulator.seedRecords(PROJECT_ID, [
      ...records,
      failedRecord({ id: 'sweep-ok', status: 'SUCCESS', start_time: minutesAgo(10) }),
      failedRecord({ id: 'sweep-ancient', start_time: minutesAgo(600) }),
    ]);
    h.stack.simulator.seedRecords(OTHER_PROJECT_ID, other);
    // One of them was already retried through the queue.
    const queue = await h.loadHandler('queue');
    await invoke(queue, sqsEvent([body({ ...records[0], project_id: PROJECT_ID })]));
    const sweep = await sweeper();

    // Act
    const first = await sweep(h.stack.env, lambdaContext('sweepOnSchedule', 300_000));
    const second = await sweep({}, lambdaContext('sweepOnSchedule', 300_000));

    // Assess
    expect(byProject(first, PROJECT_ID)).toMatchObject({ seen: 130, retried: 129, duplicate: 1, complete: true });
    expect(byProject(first, OTHER_PROJECT_ID)).toMatchObject({ seen: 15, retried: 15, complete: true });
    for (const r of [...records, ...other]) expect(h.stack.simulator.retryCount(r.id)).toBe(1);
    expect(h.stack.simulator.retryCount('sweep-ok')).toBe(0);
    expect(h.stack.simulator.retryCount('sweep-ancient')).toBe(0);
    // The second window overlaps the first (late failures), so it sees some again: all duplicates, nothing retried.
    expect(byProject(second, PROJECT_ID)).toMatchObject({ retried: 0, 'dead-lettered': 0, complete: true });
    expect(byProject(second, PROJECT_ID).duplicate).toBe(byProject(second, PROJECT_ID).seen);
    expect(byProject(second, OTHER_PROJECT_ID)).toMatchObject({ retried: 0 });
  });

  it('a sweep cut short by its time budget resumes where it stopped on the next run', async () => {
    const project = 'abcdefabcdefabcdefabcdefabcdef01';
    const records = Array.from({ length: 45 }, (_, i) =>
      failedRecord({ id: `budget-${i}`, start_time: minutesAgo(3) }),
    );
    h.stack.simulator.seedRecords(project, records);
    const sweep = await h.loadHandler<Sweep>('schedule', {
      SWEEP_PROJECTS: JSON.stringify([{ project_id: project }]),
      MAX_CONCURRENCY: '10',
      SWEEP_SAFETY_SECONDS: '10',
    });

    // Remaining time drops below the 10 s margin once the first chunk of 10 is retried (by progress, not by call count:
    // middy reads the remaining time too, for its own timeout).
    const retriedBefore = h.stack.simulator.retries.length;
    const shortContext = {
      ...lambdaContext('sweepOnSchedule', 300_000),
      getRemainingTimeInMillis: () => (h.stack.simulator.retries.length - retriedBefore < 10 ? 60_000 : 5_000),
    };
    const cut = await sweep({}, shortContext);
    expect(cut.projects[0]).toMatchObject({ seen: 10, retried: 10, complete: false });
    const state = await fetchState(project);
    // Progress is the last record handled in the sweep's own order (start time, then id), not an offset into the
    // listing.
    expect(state).toMatchObject({
      after_at: Date.parse(records[0]!.start_time!),
      after_id: records.map((r) => r.id).sort()[9],
    });
    expect(state).not.toHaveProperty('next_offset');

    const resumed = await sweep({}, lambdaContext('sweepOnSchedule', 300_000));
    expect(resumed.projects[0]).toMatchObject({ seen: 35, retried: 35, duplicate: 0, complete: true });
    for (const r of records) expect(h.stack.simulator.retryCount(r.id)).toBe(1);
  });

  it('refuses a bad SWEEP_PROJECTS at cold start, naming the field', async () => {
    await expect(h.loadHandler('schedule', { SWEEP_PROJECTS: '[{"project_id":"../x"}]' })).rejects.toThrow(
      'SWEEP_PROJECTS[0].project_id: must be a safe id',
    );
    await expect(h.loadHandler('schedule', { SWEEP_PROJECTS: undefined })).rejects.toThrow(
      /SWEEP_PROJECTS is required/,
    );
  });
});

async function getItem(pk: string): Promise<Record<string, unknown> | undefined> {
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: h.stack.dynamoEndpoint,
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    }),
  );
  return (await db.send(new GetCommand({ TableName: h.stack.tableName, Key: { pk } }))).Item;
}

const fetchState = (projectId: string) => getItem(`sweep#${projectId}`);
const ledgerItem = (projectId: string, recordId: string) => getItem(failureKey({ projectId, recordId }));

describe('manual invocation', () => {
  let manual: Manual;
  const call = (payload: unknown) => manual(payload, lambdaContext('retryManually', 30_000));
  const seed = (id: string) => h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id })]);

  beforeAll(async () => {
    manual = await h.loadHandler<Manual>('manual');
  });

  it('retries a single record and answers with the new task id', async () => {
    seed('manual-1');
    const answer = await call({ project_id: PROJECT_ID, record_id: 'manual-1' });
    expect(answer).toEqual({
      ok: true,
      results: [
        expect.objectContaining({
          project_id: PROJECT_ID,
          record_id: 'manual-1',
          outcome: 'retried',
          rule_id: 'manual-request',
          attempt: 1,
        }),
      ],
    });
    const result = (answer as { results: Array<{ new_task_id: string }> }).results[0]!;
    expect(h.stack.simulator.retries.at(-1)!.newTaskId).toBe(result.new_task_id);
  });

  it('answers one result per item of a batch, a task answered per failed desktop, a duplicate included', async () => {
    seed('manual-2');
    seed('manual-1b');
    h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: 'manual-3', script_task_id: 'manual-task-3' })]);
    await call({ project_id: PROJECT_ID, record_id: 'manual-1b' });
    const answer = await call({
      items: [
        { project_id: PROJECT_ID, record_id: 'manual-2' },
        { project_id: PROJECT_ID, task_id: 'manual-task-3' },
        { project_id: PROJECT_ID, record_id: 'manual-1b' },
      ],
    });
    expect(answer.ok && answer.results.map((r) => [r.record_id, r.outcome])).toEqual([
      ['manual-2', 'retried'],
      ['manual-3', 'retried'],
      ['manual-1b', 'duplicate'],
    ]);
    expect(h.stack.simulator.retryCount('manual-3')).toBe(1);
  });

  it('a dry run sends no retry, writes nothing, and shows the exact request, without signature or key', async () => {
    seed('manual-dry');
    const retryPosts = () => h.stack.simulator.requestsByRoute.get('POST /v2/{id}/script-executions/{id}') ?? 0;
    const before = retryPosts();
    const answer = await call({ project_id: PROJECT_ID, record_id: 'manual-dry', dry_run: true });
    expect(retryPosts()).toBe(before);
    expect(answer).toEqual({
      ok: true,
      results: [
        expect.objectContaining({
          outcome: 'previewed',
          reason: 'dry-run: would retry now (rule manual-request)',
          request: {
            method: 'POST',
            url: `${h.stack.simulator.url}/v2/${PROJECT_ID}/script-executions/retry`,
            body: '{"record_id":"manual-dry"}',
            signed_headers: ['content-type', 'host', 'x-project-id', 'x-sdk-date'],
          },
        }),
      ],
    });
    const text = JSON.stringify(answer);
    expect(text).not.toMatch(/Signature|Access=|LOCALSTACKACCESSKEY|local-stack-secret/);
    expect(await ledgerItem(PROJECT_ID, 'manual-dry')).toBeUndefined();
    expect((await h.takeAll(h.stack.dlqUrl)).filter((m) => m.Body?.includes('manual-dry'))).toHaveLength(0);
  });

  it('force overrides a give-up (max attempts reached through lineage) and is recorded in the ledger with its reason', async () => {
    // The original failure was retried once (max_attempts 1); that retry's task failed again.
    const queue = await h.loadHandler('queue', { RETRY_POLICY: '{"max_attempts":1}' });
    seed('manual-force');
    await invoke(queue, sqsEvent([body(plainFailure({ record_id: 'manual-force', task_id: undefined }))]));
    const task2 = h.stack.simulator.retries.at(-1)!.newTaskId;
    // The retry ran as task2 on the same desktop and failed again.
    h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: 'manual-force-2', script_task_id: task2 })]);
    manual = await h.loadHandler<Manual>('manual', { RETRY_POLICY: '{"max_attempts":1}' });

    const unforced = await call({ project_id: PROJECT_ID, task_id: task2 });
    const forced = await call({
      project_id: PROJECT_ID,
      task_id: task2,
      force: true,
      reason: 'INC-42: fixed the share permission',
    });
    const again = await call({ project_id: PROJECT_ID, task_id: task2, force: true, reason: 'twice?' });

    expect(unforced.ok && unforced.results[0]).toMatchObject({
      record_id: 'manual-force-2',
      outcome: 'dead-lettered',
      rule_id: 'max-attempts',
    });
    expect(forced.ok && forced.results[0]).toMatchObject({
      outcome: 'retried',
      forced: true,
      rule_id: 'forced',
      attempt: 2,
    });
    expect(again.ok && again.results[0]).toMatchObject({ outcome: 'duplicate' });
    expect(h.stack.simulator.retryCount('manual-force-2')).toBe(1);
    const root = await ledgerItem(PROJECT_ID, 'manual-force');
    expect(root).toMatchObject({ attempts: 2, state: 'retried' });
    expect(root!['history']).toContainEqual(
      expect.objectContaining({ attempt: 2, outcome: 'retried', forced_by: 'INC-42: fixed the share permission' }),
    );
    manual = await h.loadHandler<Manual>('manual');
  });

  it.each([
    [{}, [{ field: 'project_id', problem: 'is required' }]],
    [{ project_id: PROJECT_ID }, [{ field: '(payload)', problem: 'needs task_id or record_id' }]],
    [
      { project_id: PROJECT_ID, record_id: '../x' },
      [{ field: 'record_id', problem: expect.stringMatching(/safe URL path segment/) }],
    ],
    [
      { project_id: PROJECT_ID, record_id: 'r', task_id: 't' },
      [{ field: '(payload)', problem: 'give task_id or record_id, not both' }],
    ],
    [
      { project_id: PROJECT_ID, record_id: 'r', force: true },
      [{ field: 'reason', problem: 'is required with force: true (it is kept in the ledger)' }],
    ],
    [
      { project_id: PROJECT_ID, record_id: 'r', dryrun: true },
      [{ field: '(payload)', problem: 'unknown field(s) dryrun' }],
    ],
    [
      { project_id: PROJECT_ID, record_id: 'r', dry_run: 'yes' },
      [{ field: 'dry_run', problem: expect.stringMatching(/boolean/) }],
    ],
    [
      { project_id: PROJECT_ID, record_id: 'r', region: 'xx-nowhere-9' },
      [{ field: 'region', problem: expect.stringMatching(/has no Workspace endpoint/) }],
    ],
    [
      {
        items: [
          { project_id: PROJECT_ID, record_id: 'ok' },
          { project_id: 5, record_id: 'r' },
        ],
      },
      [{ field: 'items.1.project_id', problem: expect.stringMatching(/string/) }],
    ],
    [{ items: [] }, [{ field: 'items', problem: 'must list at least one item' }]],
    [
      { items: [{ project_id: PROJECT_ID, record_id: 'r' }], dry_run: true },
      [{ field: '(payload)', problem: 'unknown field(s) dry_run' }],
    ],
    ['just a string', [{ field: '(payload)', problem: 'must be a JSON object' }]],
  ])('answers invalid input %j naming each bad field', async (payload, errors) => {
    const before = h.stack.simulator.requestsReceived;
    const answer = await call(payload);
    expect(answer).toEqual({ ok: false, errors });
    expect(h.stack.simulator.requestsReceived).toBe(before);
  });

  it('the sample events in events/ are valid manual payloads', async () => {
    for (const file of ['manual-single.json', 'manual-batch.json', 'manual-dry-run.json', 'manual-force.json']) {
      const payload = JSON.parse(await readFile(new URL(`../../events/${file}`, import.meta.url), 'utf8')) as unknown;
      const answer = await call({
        ...(payload as object),
        ...('items' in (payload as object) ? {} : { dry_run: true }),
      });
      expect(answer.ok, file).toBe(true);
    }
  });
});

describe('the console keeps time in hand', () => {
  it('an item not started before the invocation runs short of the worst-case call is answered deferred, and Workspace is not called for it', async () => {
    // Prepare: one item at a time; time runs short once the first retry has landed.
    const manual = await h.loadHandler<Manual>('manual', { MAX_CONCURRENCY: '1' });
    h.stack.simulator.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'console-late-1' }),
      failedRecord({ id: 'console-late-2' }),
    ]);
    const retriesBefore = h.stack.simulator.retries.length;
    const context = {
      ...lambdaContext('retryManually', 120_000),
      getRemainingTimeInMillis: () => (h.stack.simulator.retries.length > retriesBefore ? 1_000 : 120_000),
    };

    // Act
    const answer = await manual(
      {
        items: [
          { project_id: PROJECT_ID, record_id: 'console-late-1' },
          { project_id: PROJECT_ID, record_id: 'console-late-2' },
        ],
      },
      context,
    );

    // Assess
    expect(answer.ok && answer.results.map((r) => [r.record_id, r.outcome])).toEqual([
      ['console-late-1', 'retried'],
      ['console-late-2', 'deferred'],
    ]);
    expect(answer.ok && answer.results[1]!.reason).toMatch(/^time-budget: .*invoke again/);
    expect(h.stack.simulator.retryCount('console-late-2')).toBe(0);
    expect(await ledgerItem(PROJECT_ID, 'console-late-2')).toBeUndefined();
  });

  it('the desktops of a task not started before the time runs short are answered deferred, one by one', async () => {
    // Prepare: a task failed on two desktops; time runs short once the first retry has landed.
    const manual = await h.loadHandler<Manual>('manual', { MAX_CONCURRENCY: '1' });
    h.stack.simulator.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'console-late-3', script_task_id: 'console-late-task' }),
      failedRecord({ id: 'console-late-4', script_task_id: 'console-late-task' }),
    ]);
    const retriesBefore = h.stack.simulator.retries.length;
    const context = {
      ...lambdaContext('retryManually', 120_000),
      getRemainingTimeInMillis: () => (h.stack.simulator.retries.length > retriesBefore ? 1_000 : 120_000),
    };

    // Act
    const answer = await manual({ project_id: PROJECT_ID, task_id: 'console-late-task' }, context);

    // Assess
    expect(answer.ok && answer.results.map((r) => r.outcome)).toEqual(['retried', 'deferred']);
    expect(h.stack.simulator.retryCount('console-late-3') + h.stack.simulator.retryCount('console-late-4')).toBe(1);
  });
});

describe("the console answers an operator's typo instead of dead-lettering it", () => {
  it('a record Workspace does not know (404 on the retry) is answered not-found, nothing reaches the DLQ and the attempt is given back', async () => {
    // Prepare
    const manual = await h.loadHandler<Manual>('manual');
    await h.takeAll(h.stack.dlqUrl);

    // Act
    const answer = await manual(
      { project_id: PROJECT_ID, record_id: 'typo-0000000000000000000000dead' },
      lambdaContext('retryManually', 30_000),
    );

    // Assess
    expect(answer).toEqual({
      ok: true,
      results: [
        expect.objectContaining({
          record_id: 'typo-0000000000000000000000dead',
          outcome: 'not-found',
          reason: expect.stringMatching(/^not-found: Workspace does not know it \(404 WKS\.00210404/),
        }),
      ],
    });
    expect(await h.takeAll(h.stack.dlqUrl)).toEqual([]);
    expect(await ledgerItem(PROJECT_ID, 'typo-0000000000000000000000dead')).toMatchObject({
      state: 'open',
      attempts: 0,
    });
  });

  it('a task with no failed records is answered nothing-to-retry, and nothing reaches the DLQ', async () => {
    // Prepare
    const manual = await h.loadHandler<Manual>('manual');
    h.stack.simulator.seedRecords(PROJECT_ID, [
      failedRecord({ id: 'all-good', status: 'SUCCESS', script_task_id: 'task-that-succeeded' }),
    ]);
    await h.takeAll(h.stack.dlqUrl);

    // Act
    const answer = await manual(
      {
        items: [
          { project_id: PROJECT_ID, task_id: 'task-that-succeeded' },
          { project_id: PROJECT_ID, task_id: 'task-nobody-ran' },
        ],
      },
      lambdaContext('retryManually', 30_000),
    );

    // Assess
    expect(answer.ok && answer.results.map((r) => [r.task_id, r.outcome])).toEqual([
      ['task-that-succeeded', 'nothing-to-retry'],
      ['task-nobody-ran', 'nothing-to-retry'],
    ]);
    expect(answer.ok && answer.results[0]!.reason).toContain('has no failed execution records');
    expect(await h.takeAll(h.stack.dlqUrl)).toEqual([]);
  });

  it("the queue still dead-letters the same record (only an operator's request is answered)", async () => {
    // Prepare
    const queue = await h.loadHandler('queue');
    await h.takeAll(h.stack.dlqUrl);

    // Act
    await invoke(queue, sqsEvent([body(plainFailure({ record_id: 'queue-typo-000000000000000dead' }))]));

    // Assess
    const letters = await h.takeAll(h.stack.dlqUrl);
    expect(letters.map((m) => attr(m, 'reason'))).toEqual([expect.stringMatching(/^workspace-refused: 404 /)]);
  });
});

describe('dead letters from the console carry the evidence', () => {
  it('a give-up from the console reaches the DLQ with its reason', async () => {
    const manual = await h.loadHandler<Manual>('manual', {
      RETRY_POLICY: '{"projects":{"' + PROJECT_ID + '":{"retries_enabled":false}}}',
    });
    h.stack.simulator.seedRecords(PROJECT_ID, [failedRecord({ id: 'manual-disabled' })]);
    await h.takeAll(h.stack.dlqUrl);
    const answer = await manual(
      { project_id: PROJECT_ID, record_id: 'manual-disabled' },
      lambdaContext('retryManually', 30_000),
    );
    expect(answer.ok && answer.results[0]).toMatchObject({ outcome: 'dead-lettered', rule_id: 'retries-disabled' });
    const [letter] = await h.takeAll(h.stack.dlqUrl);
    expect(attr(letter!, 'rule_id')).toBe('retries-disabled');
  });
});
