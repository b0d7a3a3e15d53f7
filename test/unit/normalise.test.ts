import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, normaliseBody } from '../../lib/events/normalise.js';
import { inCloudEvent, inEventBridge, inSns } from '../helpers/envelopes.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

const options = {
  checkRegion: (region: string) => (region === 'cn-north-4' ? undefined : `region ${region} has no Workspace endpoint`),
};
const parse = (value: unknown) => normaliseBody(typeof value === 'string' ? value : JSON.stringify(value), options);
const plain = {
  project_id: PROJECT_ID,
  record_id: 'rec-1',
  task_id: 'task-1',
  status: 'FAILED',
  reason: 'timed out',
  event_id: 'evt-1',
  failed_at: '2026-11-29T00:00:00Z',
};
const record = { ...failedRecord({ id: 'rec-2', script_task_id: 'task-2' }), project_id: PROJECT_ID };

describe('accepted shapes', () => {
  it('reads the plain failure JSON', () => {
    expect(parse(plain)).toEqual({
      ok: true,
      failure: expect.objectContaining({
        projectId: PROJECT_ID,
        recordId: 'rec-1',
        taskId: 'task-1',
        status: 'FAILED',
        reason: 'timed out',
        eventId: 'evt-1',
        failedAt: Date.parse('2026-11-29T00:00:00Z'),
        shape: 'plain',
      }),
    });
  });

  it('reads a Workspace execution record (plus project_id)', () => {
    const result = parse(record);
    expect(result).toEqual({
      ok: true,
      failure: expect.objectContaining({
        recordId: 'rec-2',
        taskId: 'task-2',
        resultCode: 'WKS.SCRIPT_TIMEOUT',
        scriptId: 'script-1',
        failedAt: Date.parse(record.end_time!),
        shape: 'record',
      }),
    });
  });

  it.each([
    ['SNS', inSns, 'sns'],
    ['EventBridge', inEventBridge, 'eventbridge'],
    ['CloudEvent', inCloudEvent, 'cloudevent'],
  ] as const)(
    'unwraps either shape from an %s envelope, taking its id as the event id when the payload has none',
    (_, wrap, shape) => {
      const fromPlain = parse(wrap({ ...plain, event_id: undefined }));
      const fromRecord = parse(wrap(record));
      expect(fromPlain).toMatchObject({ ok: true, failure: { recordId: 'rec-1', shape: `${shape}>plain` } });
      expect(fromRecord).toMatchObject({ ok: true, failure: { recordId: 'rec-2', shape: `${shape}>record` } });
      expect((fromPlain as { failure: { eventId?: string } }).failure.eventId).toMatch(/^(sns|eb|ce)-/);
    },
  );

  it('reads a CloudEvent with data_base64 and SNS carrying an EventBridge event', () => {
    const b64 = { specversion: '1.0', id: 'x', data_base64: Buffer.from(JSON.stringify(plain)).toString('base64') };
    expect(parse(b64)).toMatchObject({ ok: true, failure: { recordId: 'rec-1', shape: 'cloudevent>plain' } });
    expect(parse(inSns(inEventBridge(plain)))).toMatchObject({ ok: true, failure: { shape: 'sns>eventbridge>plain' } });
  });

  it('accepts a task-only failure and epoch-millisecond times', () => {
    expect(parse({ project_id: PROJECT_ID, task_id: 't1', failed_at: 1_790_000_000_000 })).toMatchObject({
      ok: true,
      failure: { taskId: 't1', failedAt: 1_790_000_000_000 },
    });
  });
});

describe('times as Workspace writes them (docs/workspace-api.md, "Times")', () => {
  const NOON = Date.UTC(2026, 10, 29, 12, 0, 0);
  // A host away from UTC: a zone-less time read in the host's zone would land eight hours off.
  const savedZone = process.env['TZ'];
  beforeAll(() => {
    process.env['TZ'] = 'Asia/Shanghai';
  });
  afterAll(() => {
    if (savedZone === undefined) delete process.env['TZ'];
    else process.env['TZ'] = savedZone;
  });

  it.each([
    ['with Z', '2026-11-29T12:00:00Z'],
    ['with an offset', '2026-11-29T20:00:00+08:00'],
    ['without a zone (UTC)', '2026-11-29T12:00:00'],
    ['with a space and no zone (UTC)', '2026-11-29 12:00:00'],
    ['with a fraction', '2026-11-29T12:00:00.000Z'],
  ])('reads start_time, end_time and failed_at %s as the same instant', (_, time) => {
    // Act
    const fromRecord = parse({ ...record, start_time: time, end_time: time });
    const started = parse({ ...record, start_time: time, end_time: undefined });
    const fromPlain = parse({ ...plain, failed_at: time });

    // Assess
    expect(fromRecord).toMatchObject({ ok: true, failure: { failedAt: NOON } });
    expect(started).toMatchObject({ ok: true, failure: { failedAt: NOON } });
    expect(fromPlain).toMatchObject({ ok: true, failure: { failedAt: NOON } });
  });
});

describe('null is absent', () => {
  it('reads a timed-out run reported with result_code, reason and end_time null as a failure to decide on, not a poison pill', () => {
    // Prepare: what a producer copying a record still running out of Workspace sends once it times out.
    const timedOut = {
      ...record,
      status: 'FAILED',
      result_code: null,
      reason: null,
      end_time: null,
      script_id: null,
      resource_id: null,
      event_id: null,
      region: null,
    };

    // Act
    const result = parse(timedOut);

    // Assess
    expect(result).toEqual({
      ok: true,
      failure: expect.objectContaining({
        recordId: 'rec-2',
        status: 'FAILED',
        resultCode: undefined,
        reason: undefined,
        scriptId: undefined,
        failedAt: Date.parse(record.start_time!),
      }),
    });
  });

  it('reads null ids and times of the plain shape as absent, and a null routing key as no routing key', () => {
    const result = parse({
      project_id: PROJECT_ID,
      task_id: null,
      record_id: 'rec-1',
      failed_at: null,
      endpoint: null,
      status: null,
    });

    expect(result).toEqual({
      ok: true,
      failure: expect.objectContaining({
        recordId: 'rec-1',
        taskId: undefined,
        failedAt: undefined,
        status: undefined,
        shape: 'plain',
      }),
    });
  });
});

describe('poison pills, each with a precise reason', () => {
  it.each([
    ['not JSON', 'hello {', /^body: not valid JSON/],
    ['a JSON array', '[1,2]', /^body: must be a JSON object$/],
    ['no project', { record_id: 'r' }, /^body\.project_id: is required$/],
    ['neither task nor record', { project_id: PROJECT_ID }, /^body: needs task_id or record_id$/],
    ['a path traversal', { project_id: '../admin', record_id: 'r' }, /^body\.project_id: must contain only letters/],
    ['an encoded slash', { project_id: PROJECT_ID, record_id: 'a%2Fb' }, /^body\.record_id: must contain only/],
    ['a dot segment', { project_id: PROJECT_ID, task_id: '..' }, /^body\.task_id: must contain only/],
    [
      'an over-long id',
      { project_id: PROJECT_ID, record_id: 'a'.repeat(65) },
      /^body\.record_id: must be at most 64 characters/,
    ],
    [
      'an over-long reason',
      { project_id: PROJECT_ID, record_id: 'r', reason: 'x'.repeat(2049) },
      /^body\.reason: must be at most 2048 characters/,
    ],
    ['a wrong type', { project_id: PROJECT_ID, record_id: 42 }, /^body\.record_id: must be a string, got number$/],
    [
      'a bad time',
      { project_id: PROJECT_ID, record_id: 'r', failed_at: 'yesterday' },
      /^body\.failed_at: must be a time like 2021-10-01T12:00:00Z \(without a zone: UTC\) or epoch milliseconds$/,
    ],
    [
      'a date without a time',
      { project_id: PROJECT_ID, record_id: 'r', failed_at: '2026-11-29' },
      /^body\.failed_at: must be a time like/,
    ],
    ['a null project (null is absent)', { project_id: null, record_id: 'r' }, /^body\.project_id: is required$/],
    [
      'a time in epoch seconds',
      { project_id: PROJECT_ID, record_id: 'r', failed_at: 1_790_000_000 },
      /^body\.failed_at: must be a time between 2000 and 2100 \(epoch milliseconds, not seconds or nanoseconds\), got 1790000000$/,
    ],
    [
      'a time in epoch nanoseconds (beyond what the ledger can store exactly)',
      { project_id: PROJECT_ID, id: 'r', end_time: 1.79e18 },
      /^body\.end_time: must be a time between 2000 and 2100/,
    ],
    [
      'an ISO time far in the future',
      { project_id: PROJECT_ID, record_id: 'r', failed_at: '2200-01-01T00:00:00Z' },
      /^body\.failed_at: must be a time between 2000 and 2100/,
    ],
    [
      'an unknown region',
      { project_id: PROJECT_ID, record_id: 'r', region: 'xx-evil-1' },
      /^body\.region: region xx-evil-1 has no Workspace endpoint/,
    ],
    [
      'an endpoint',
      { project_id: PROJECT_ID, record_id: 'r', endpoint: 'https://evil.example.com' },
      /^body\.endpoint: events cannot choose where a request goes/,
    ],
    [
      'a host in an envelope payload',
      inSns({ project_id: PROJECT_ID, record_id: 'r', host: 'evil' }),
      /^body\.Message\.host: events cannot choose/,
    ],
    [
      'a __proto__ key',
      `{"project_id":"${PROJECT_ID}","record_id":"r","__proto__":{"polluted":true}}`,
      /^body: key "__proto__" is not allowed$/,
    ],
    [
      'a constructor key',
      { project_id: PROJECT_ID, record_id: 'r', x: { constructor: 1 } },
      /key "constructor" is not allowed/,
    ],
    ['deep nesting', `${'['.repeat(50)}${']'.repeat(50)}`, /nested deeper than 10 levels/],
    ['an SNS Message that is not JSON', { Type: 'Notification', Message: 'oops' }, /^body\.Message: not valid JSON/],
    ['too many envelopes', inSns(inSns(inSns(inSns(plain)))), /more than 3 nested envelopes/],
  ])('refuses %s', (_, input, reason) => {
    const result = parse(input);
    expect(result.ok).toBe(false);
    expect((result as { error: string }).error).toMatch(reason);
  });

  it('accepts envelopes nested exactly 3 deep (docs/getting-events-in.md, "What to send")', () => {
    expect(parse(inSns(inEventBridge(inCloudEvent(plain))))).toMatchObject({
      ok: true,
      failure: { recordId: 'rec-1', shape: 'sns>eventbridge>cloudevent>plain' },
    });
  });

  it('never throws: an error it did not foresee is reported by its name only', () => {
    // Prepare
    const failing = {
      checkRegion: () => {
        throw new TypeError('secret detail');
      },
    };

    // Act
    const result = normaliseBody(JSON.stringify({ ...plain, region: 'cn-north-4' }), failing);

    // Assess
    expect(result).toEqual({ ok: false, error: 'body: could not be read (TypeError)' });
  });

  it('refuses an oversized body', () => {
    const result = parse({ ...plain, padding: 'x'.repeat(MAX_BODY_BYTES) });
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/^body: \d+ bytes, larger than 65536$/) });
  });
});

describe('prototype-polluting keys', () => {
  const text = `{"__proto__":{"polluted":true},"project_id":"${PROJECT_ID}","record_id":"r"}`;

  it('are what JSON.parse keeps: an own "__proto__" property, which a later copy turns into a prototype', () => {
    // JSON.parse never touches Object.prototype itself; the danger is the own key it leaves for code that copies the
    // object.
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    const copied = Object.assign({}, parsed) as { polluted?: boolean };
    expect(copied.polluted).toBe(true);
    expect(Object.hasOwn(copied, 'polluted')).toBe(false);
  });

  it.each([
    ['at the top', text, /^body: key "__proto__" is not allowed$/],
    [
      'written with escapes (JSON.parse decodes the key)',
      `{"\\u005f\\u005fproto\\u005f\\u005f":{},"project_id":"${PROJECT_ID}","record_id":"r"}`,
      /^body: key "__proto__" is not allowed$/,
    ],
    [
      'nested in an array',
      `{"project_id":"${PROJECT_ID}","record_id":"r","x":[{"__proto__":{}}]}`,
      /^body: key "__proto__" is not allowed$/,
    ],
    [
      'inside an SNS Message',
      JSON.stringify({ Type: 'Notification', Message: text }),
      /^body\.Message: key "__proto__" is not allowed$/,
    ],
    [
      'inside a CloudEvent data_base64',
      JSON.stringify({ specversion: '1.0', id: 'x', data_base64: Buffer.from(text).toString('base64') }),
      /key "__proto__" is not allowed$/,
    ],
    [
      'as "prototype"',
      `{"project_id":"${PROJECT_ID}","record_id":"r","x":{"prototype":{}}}`,
      /^body: key "prototype" is not allowed$/,
    ],
  ])('are refused %s', (_, input, reason) => {
    expect(parse(input)).toEqual({ ok: false, error: expect.stringMatching(reason) });
  });
});

describe('the depth scan and the routing keys, at their edges', () => {
  const nest = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const withValue = (value: string) => `{"project_id":"${PROJECT_ID}","record_id":"r","extra":${value}}`;

  it('accepts JSON nested exactly 10 deep and refuses 11', () => {
    expect(parse(withValue(nest(9)))).toMatchObject({ ok: true });
    expect(parse(withValue(nest(10)))).toEqual({ ok: false, error: 'body: JSON nested deeper than 10 levels' });
  });

  it('counts brackets in structure only, not inside strings, escaped quotes included', () => {
    const text = withValue(`{"note":"${'['.repeat(20)} \\" ${'{'.repeat(20)}","list":[1,[2]]}`);
    expect(parse(text)).toMatchObject({ ok: true });
    expect(parse(withValue(`["a\\\\", ${nest(9)}]`))).toEqual({
      ok: false,
      error: 'body: JSON nested deeper than 10 levels',
    });
  });

  it('lets closing brackets bring the depth back down', () => {
    const wide = withValue(`[${Array.from({ length: 20 }, () => nest(8)).join(',')}]`);
    expect(parse(wide)).toMatchObject({ ok: true });
  });

  it.each(['endpoint', 'url', 'host', 'base_url', 'endpoint_url', 'hostname'])(
    'refuses a %s field: events never choose where a request goes',
    (key) => {
      expect(parse({ project_id: PROJECT_ID, record_id: 'r', [key]: 'https://evil.example.com' })).toEqual({
        ok: false,
        error: `body.${key}: events cannot choose where a request goes`,
      });
    },
  );

  it('accepts a body of exactly the size limit', () => {
    const base = JSON.stringify({ project_id: PROJECT_ID, record_id: 'r', padding: '' });
    const exact = JSON.stringify({
      project_id: PROJECT_ID,
      record_id: 'r',
      padding: 'x'.repeat(MAX_BODY_BYTES - base.length),
    });
    expect(Buffer.byteLength(exact)).toBe(MAX_BODY_BYTES);
    expect(parse(exact)).toMatchObject({ ok: true });
  });
});
