import { describe, expect, it } from 'vitest';
import { normaliseBody } from '../../lib/events/normalise.js';
import { payloadOf } from '../../lib/events/payloads.js';
import { PROJECT_ID } from '../helpers/factories.js';

/**
 * The two payloads (lib/events/payloads.ts, docs/getting-events-in.md, "What
 * to send"): which one an object is read as, each field it names and the
 * failure field it becomes, and the time range both accept.
 */
const options = { checkRegion: () => undefined };
const parse = (value: unknown) => normaliseBody(JSON.stringify(value), options);

const START = '2026-11-29T12:00:00Z';
const END = '2026-11-29T12:05:00Z';
const EVENT = '2026-11-29T12:06:00Z';

/** Every field the record shape names, each with a value of its own. */
const fullRecord = {
  project_id: PROJECT_ID,
  id: 'rec-1',
  script_task_id: 'task-1',
  region: 'cn-north-4',
  status: 'FAILED',
  result_code: 'WKS.SCRIPT_TIMEOUT',
  reason: 'timed out',
  script_id: 'script-1',
  resource_id: 'desktop-1',
  event_id: 'evt-1',
  start_time: START,
  end_time: END,
};

/** Every field the plain shape names, each with a value of its own. */
const fullPlain = {
  project_id: PROJECT_ID,
  record_id: 'rec-2',
  task_id: 'task-2',
  region: 'cn-north-4',
  status: 'FAIL',
  result_code: 'WKS.SCRIPT_ERROR',
  reason: 'exit 1',
  script_id: 'script-2',
  resource_id: 'desktop-2',
  event_id: 'evt-2',
  failed_at: EVENT,
  start_time: START,
};

describe('which payload an object is', () => {
  it.each([
    ['an id and neither record_id nor task_id', { project_id: PROJECT_ID, id: 'rec-1' }, 'record'],
    ['an id and a record_id', { project_id: PROJECT_ID, id: 'rec-1', record_id: 'rec-2' }, 'plain'],
    ['an id and a task_id', { project_id: PROJECT_ID, id: 'rec-1', task_id: 'task-2' }, 'plain'],
    ['a record_id and no id', { project_id: PROJECT_ID, record_id: 'rec-2' }, 'plain'],
    ['neither an id, nor a record_id, nor a task_id', { project_id: PROJECT_ID }, 'plain'],
  ])('reads an object with %s as the %s payload', (_, payload, name) => {
    expect(payloadOf(payload).name).toBe(name);
  });

  it('reads an object naming both an id and a record_id by its record_id, ignoring the id', () => {
    // Act
    const result = parse({ project_id: PROJECT_ID, id: 'rec-1', record_id: 'rec-2', task_id: 'task-2' });

    // Assess
    expect(result).toMatchObject({ ok: true, failure: { recordId: 'rec-2', taskId: 'task-2', shape: 'plain' } });
  });
});

describe('the execution record, field by field', () => {
  it('reads every field it names into the failure: id as the record, script_task_id as the task, end_time as when it failed', () => {
    // Act
    const result = parse(fullRecord);

    // Assess
    expect(result).toEqual({
      ok: true,
      failure: {
        projectId: PROJECT_ID,
        region: 'cn-north-4',
        recordId: 'rec-1',
        taskId: 'task-1',
        status: 'FAILED',
        resultCode: 'WKS.SCRIPT_TIMEOUT',
        reason: 'timed out',
        scriptId: 'script-1',
        resourceId: 'desktop-1',
        failedAt: Date.parse(END),
        startedAt: Date.parse(START),
        endedAt: Date.parse(END),
        eventId: 'evt-1',
        shape: 'record',
      },
    });
  });

  it.each([
    ['both times: when it ended', { start_time: START, end_time: END }, END, START, END],
    ['only start_time: when it started', { start_time: START }, START, START, undefined],
    ['only end_time: when it ended', { end_time: END }, END, undefined, END],
    ['start_time and a null end_time: when it started', { start_time: START, end_time: null }, START, START, undefined],
    ['neither time: not known', {}, undefined, undefined, undefined],
  ])('takes as the failure time, with %s', (_, times, failed, started, ended) => {
    // Act
    const result = parse({ project_id: PROJECT_ID, id: 'rec-1', ...times });

    // Assess
    const at = (time: string | undefined) => (time === undefined ? undefined : Date.parse(time));
    expect(result).toEqual({
      ok: true,
      failure: expect.objectContaining({ failedAt: at(failed), startedAt: at(started), endedAt: at(ended) }),
    });
  });

  it('reads a record without a script_task_id as one naming no task', () => {
    expect(parse({ project_id: PROJECT_ID, id: 'rec-1' })).toMatchObject({
      ok: true,
      failure: { recordId: 'rec-1', taskId: undefined, shape: 'record' },
    });
  });
});

describe('the plain failure, field by field', () => {
  it('reads every field it names into the failure: failed_at as when it failed, start_time as when it started', () => {
    // Act
    const result = parse(fullPlain);

    // Assess
    expect(result).toEqual({
      ok: true,
      failure: {
        projectId: PROJECT_ID,
        region: 'cn-north-4',
        recordId: 'rec-2',
        taskId: 'task-2',
        status: 'FAIL',
        resultCode: 'WKS.SCRIPT_ERROR',
        reason: 'exit 1',
        scriptId: 'script-2',
        resourceId: 'desktop-2',
        failedAt: Date.parse(EVENT),
        startedAt: Date.parse(START),
        eventId: 'evt-2',
        shape: 'plain',
      },
    });
  });

  it('takes no failure time from start_time: a plain event says when it failed only in failed_at', () => {
    expect(parse({ project_id: PROJECT_ID, task_id: 'task-2', start_time: START })).toMatchObject({
      ok: true,
      failure: { failedAt: undefined, startedAt: Date.parse(START) },
    });
  });
});

describe('the fields each payload refuses, naming the field', () => {
  it.each([
    ['an object with no id, record_id or task_id', { project_id: PROJECT_ID }, 'body: needs task_id or record_id'],
    ['a record id that is a number', { project_id: PROJECT_ID, id: 7 }, 'body.id: must be a string, got number'],
    [
      'a script_task_id that is unsafe',
      { project_id: PROJECT_ID, id: 'r', script_task_id: '../x' },
      /^body\.script_task_id: must contain only/,
    ],
    [
      'a project that is a list',
      { project_id: [PROJECT_ID], record_id: 'r' },
      'body.project_id: must be a string, got array',
    ],
    [
      'a project that is an object',
      { project_id: { id: PROJECT_ID }, record_id: 'r' },
      'body.project_id: must be a string, got object',
    ],
    [
      'a status longer than 32 characters',
      { project_id: PROJECT_ID, record_id: 'r', status: 'F'.repeat(33) },
      'body.status: must be at most 32 characters',
    ],
    [
      'a region longer than 32 characters',
      { project_id: PROJECT_ID, id: 'r', region: 'r'.repeat(33) },
      'body.region: must be at most 32 characters',
    ],
    [
      'a result_code longer than 128 characters',
      { project_id: PROJECT_ID, id: 'r', result_code: 'c'.repeat(129) },
      'body.result_code: must be at most 128 characters',
    ],
    [
      'an event_id longer than 128 characters',
      { project_id: PROJECT_ID, record_id: 'r', event_id: 'e'.repeat(129) },
      'body.event_id: must be at most 128 characters',
    ],
    [
      'an end_time that is not a time',
      { project_id: PROJECT_ID, id: 'r', end_time: 'soon' },
      /^body\.end_time: must be a time like/,
    ],
    [
      'a start_time of a record that is not a time',
      { project_id: PROJECT_ID, id: 'r', start_time: true },
      /^body\.start_time: /,
    ],
  ])('refuses %s', (_, payload, error) => {
    expect(parse(payload)).toEqual({
      ok: false,
      error: typeof error === 'string' ? error : expect.stringMatching(error),
    });
  });

  it('names a field that is null, when read without null fields dropped first, as null', () => {
    // Prepare
    const payload = { project_id: null, id: 'rec-1' };

    // Act
    const read = () => payloadOf(payload).read(payload, 'body');

    // Assess
    expect(read).toThrow('body.project_id: must be a string, got null');
  });
});

describe('times from 2000 to 2100, and nothing else', () => {
  it.each([
    ['the first instant of 2000', '2000-01-01T00:00:00Z', Date.UTC(2000, 0, 1)],
    ['the last millisecond before 2100', '2099-12-31T23:59:59.999Z', Date.UTC(2100, 0, 1) - 1],
    ['the first instant of 2000 in epoch milliseconds', Date.UTC(2000, 0, 1), Date.UTC(2000, 0, 1)],
    ['the last millisecond before 2100 in epoch milliseconds', Date.UTC(2100, 0, 1) - 1, Date.UTC(2100, 0, 1) - 1],
  ])('accepts %s', (_, time, failedAt) => {
    expect(parse({ project_id: PROJECT_ID, record_id: 'r', failed_at: time })).toMatchObject({
      ok: true,
      failure: { failedAt },
    });
  });

  it.each([
    ['the last millisecond of 1999', '1999-12-31T23:59:59.999Z'],
    ['the first instant of 2100', '2100-01-01T00:00:00Z'],
    ['the last millisecond of 1999 in epoch milliseconds', Date.UTC(2000, 0, 1) - 1],
    ['the first instant of 2100 in epoch milliseconds', Date.UTC(2100, 0, 1)],
  ])('refuses %s, saying which range it must be in', (_, time) => {
    expect(parse({ project_id: PROJECT_ID, record_id: 'r', failed_at: time })).toEqual({
      ok: false,
      error: `body.failed_at: must be a time between 2000 and 2100 (epoch milliseconds, not seconds or nanoseconds), got ${time}`,
    });
  });

  it('quotes at most 32 characters of a time it refuses', () => {
    // Prepare
    const time = '1999-12-31T23:59:59.999999999+00:00';

    // Act
    const result = parse({ project_id: PROJECT_ID, record_id: 'r', failed_at: time });

    // Assess
    expect(time.length).toBeGreaterThan(32);
    expect(result).toEqual({
      ok: false,
      error: `body.failed_at: must be a time between 2000 and 2100 (epoch milliseconds, not seconds or nanoseconds), got ${time.slice(0, 32)}`,
    });
  });

  it('refuses a number too large for JSON to hold (read as Infinity), naming the field', () => {
    // Act
    const result = normaliseBody(`{"project_id":"${PROJECT_ID}","record_id":"r","failed_at":1e400}`, options);

    // Assess
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/^body\.failed_at: /) });
  });

  it('refuses a time text longer than 64 characters before reading it', () => {
    expect(parse({ project_id: PROJECT_ID, record_id: 'r', failed_at: `${START}${' '.repeat(64)}` })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^body\.failed_at: /),
    });
  });
});
