import { describe, expect, it } from 'vitest';
import { ENVELOPES, envelopeOf } from '../../lib/events/envelopes.js';
import { normaliseBody } from '../../lib/events/normalise.js';
import { PAYLOADS, payloadOf } from '../../lib/events/payloads.js';
import { inCloudEvent, inEventBridge, inSns, plainEventFor, recordEvent, WRAP } from '../helpers/envelopes.js';
import { failedRecord, PROJECT_ID } from '../helpers/factories.js';

/**
 * The registry of accepted shapes (lib/events/envelopes.ts, payloads.ts)
 * against the one builder per shape that every test, the model and the chaos
 * run send (test/helpers/envelopes.ts): what a builder makes is the entry
 * that reads it, so the tests send what the queue accepts.
 */

const record = failedRecord({ id: 'rec-7', script_task_id: 'task-7' });
const payload = plainEventFor(PROJECT_ID, record);

describe('the envelope registry', () => {
  it('names each shape once', () => {
    // Act
    const names = [...ENVELOPES, ...PAYLOADS].map((entry) => entry.name);

    // Assess
    expect(names).toEqual(['sns', 'eventbridge', 'cloudevent', 'record', 'plain']);
  });

  it.each(ENVELOPES.map((entry) => [entry.name, entry] as const))(
    'recognises the %s builder, takes its id and opens it to the payload',
    (name, entry) => {
      // Prepare
      const built = WRAP[name](payload, 'id-1');

      // Act
      const recognised = envelopeOf(built);
      const opened = entry.open(built, 'body');

      // Assess
      expect(recognised?.name).toBe(name);
      expect(entry.idOf(built)).toBe('id-1');
      expect(opened.content).toEqual(payload);
    },
  );

  it('opens a CloudEvent carried as data_base64, naming that field in the path', () => {
    // Prepare
    const built = inCloudEvent(payload, 'id-2', 'data_base64');

    // Act
    const opened = envelopeOf(built)?.open(built, 'body');

    // Assess
    expect(opened).toEqual({ content: payload, path: 'body.data_base64' });
  });

  it('takes no payload for an envelope, nor an envelope for a payload', () => {
    // Act
    const payloads = [recordEvent(PROJECT_ID, record), plainEventFor(PROJECT_ID, record, 'task')].map(envelopeOf);

    // Assess
    expect(payloads).toEqual([undefined, undefined]);
    expect(envelopeOf(inSns(payload))?.name).toBe('sns');
  });

  it.each([
    ['the record as an event', 'record', recordEvent(PROJECT_ID, record), { recordId: 'rec-7', taskId: 'task-7' }],
    [
      'the plain event naming record and task',
      'plain',
      plainEventFor(PROJECT_ID, record),
      { recordId: 'rec-7', taskId: 'task-7' },
    ],
    [
      'the plain event naming the record only',
      'plain',
      plainEventFor(PROJECT_ID, record, 'record'),
      { recordId: 'rec-7', taskId: undefined },
    ],
    [
      'the plain event naming the task only',
      'plain',
      plainEventFor(PROJECT_ID, record, 'task'),
      { recordId: undefined, taskId: 'task-7' },
    ],
  ] as const)('reads %s as the %s payload', (_, name, built, named) => {
    // Act
    const entry = payloadOf(built);
    const failure = entry.read(built, 'body');

    // Assess
    expect(entry.name).toBe(name);
    expect(failure).toMatchObject({ projectId: PROJECT_ID, ...named });
  });
});

/**
 * An envelope is what docs/getting-events-in.md ("What to send") names: an SNS
 * notification is `Type: "Notification"` with `Message` JSON text, an
 * EventBridge event has `detail-type` and `detail`, a structured CloudEvent
 * has `specversion` and `data` or `data_base64`. An object with only one half
 * of such a pair is no envelope: it is the payload, read (or refused) as one.
 */
describe('an envelope is recognised by both halves of its pair, never by one', () => {
  const options = { checkRegion: () => undefined };
  const parse = (value: unknown) => normaliseBody(JSON.stringify(value), options);
  const inner = plainEventFor(PROJECT_ID, failedRecord({ id: 'rec-inner', script_task_id: 'task-inner' }));
  const outer = plainEventFor(PROJECT_ID, failedRecord({ id: 'rec-outer', script_task_id: 'task-outer' }));

  it.each([
    ['Type "Notification" without a Message', { ...outer, Type: 'Notification', MessageId: 'm-1' }],
    ['a Message without Type "Notification"', { ...outer, Message: JSON.stringify(inner) }],
    ['a Message with another Type', { ...outer, Type: 'Note', Message: JSON.stringify(inner) }],
    ['a detail without a detail-type', { ...outer, detail: inner }],
    ['a detail-type without a detail', { ...outer, 'detail-type': 'Workspace Script Execution Failed' }],
    ['a specversion without data', { ...outer, specversion: '1.0', id: 'ce-1' }],
    ['data without a specversion', { ...outer, data: inner }],
    [
      'data_base64 without a specversion',
      { ...outer, data_base64: Buffer.from(JSON.stringify(inner)).toString('base64') },
    ],
  ])('reads an object with %s as the payload itself', (_, event) => {
    // Act
    const envelope = envelopeOf(event);
    const result = parse(event);

    // Assess
    expect(envelope).toBeUndefined();
    expect(result).toMatchObject({
      ok: true,
      failure: { recordId: 'rec-outer', taskId: 'task-outer', shape: 'plain' },
    });
  });

  it('refuses an SNS subscription confirmation: its Message is not a failure, and it names no project', () => {
    // Prepare
    const confirmation = {
      Type: 'SubscriptionConfirmation',
      MessageId: 'm-2',
      Token: 'token',
      TopicArn: 'arn:aws:sns:us-east-1:1:t',
      Message: JSON.stringify(inner),
      SubscribeURL: 'https://sns.example.com/confirm',
    };

    // Act
    const result = parse(confirmation);

    // Assess
    expect(result).toEqual({ ok: false, error: 'body.project_id: is required' });
  });

  it('refuses a CloudEvent that carries nothing, for want of the failure it should hold', () => {
    // Act
    const result = parse({ specversion: '1.0', id: 'ce-2', source: '/workspace', type: 'failed' });

    // Assess
    expect(result).toEqual({ ok: false, error: 'body.project_id: is required' });
  });

  it('refuses an SNS notification whose Message is an object rather than JSON text', () => {
    // Act
    const result = parse({ Type: 'Notification', MessageId: 'm-3', Message: inner });

    // Assess
    expect(result).toEqual({ ok: false, error: 'body.Message: must be a string (SNS notification)' });
  });
});

describe('what an envelope carries, and the path its errors name', () => {
  const options = { checkRegion: () => undefined };
  const parse = (value: unknown) => normaliseBody(JSON.stringify(value), options);
  const noProject = { record_id: 'rec-1', task_id: 'task-1' };

  it.each([
    ['an SNS Message', inSns(noProject), 'body.Message.project_id: is required'],
    ['an EventBridge detail', inEventBridge(noProject), 'body.detail.project_id: is required'],
    ['a CloudEvent data object', inCloudEvent(noProject), 'body.data.project_id: is required'],
    ['a CloudEvent data text', inCloudEvent(JSON.stringify(noProject)), 'body.data.project_id: is required'],
    [
      'a CloudEvent data_base64',
      inCloudEvent(noProject, 'ce-3', 'data_base64'),
      'body.data_base64.project_id: is required',
    ],
  ])('names the field of %s it cannot take by its path', (_, event, error) => {
    expect(parse(event)).toEqual({ ok: false, error });
  });

  it.each([
    ['an EventBridge detail', inEventBridge('not an object'), 'body.detail: must be a JSON object'],
    ['a CloudEvent data text that is not JSON', inCloudEvent('{oops'), /^body\.data: not valid JSON/],
    ['a CloudEvent data text that is JSON but no object', inCloudEvent('[1]'), 'body.data: must be a JSON object'],
  ])('refuses %s that is no failure, naming the path', (_, event, error) => {
    expect(parse(event)).toEqual({
      ok: false,
      error: typeof error === 'string' ? error : expect.stringMatching(error),
    });
  });

  it('reads a CloudEvent whose data is the failure as JSON text', () => {
    // Prepare
    const event = inCloudEvent(JSON.stringify(payload), 'ce-4');

    // Act
    const opened = envelopeOf(event)?.open(event, 'body');

    // Assess
    expect(opened).toEqual({ content: payload, path: 'body.data' });
  });

  it('opens an EventBridge event to its detail and an SNS notification to its Message, naming each in the path', () => {
    // Prepare
    const bridged = inEventBridge(payload, 'eb-1');
    const notified = inSns(payload, 'sns-1');

    // Act
    const fromBridge = envelopeOf(bridged)?.open(bridged, 'body.Message');
    const fromSns = envelopeOf(notified)?.open(notified, 'body');

    // Assess
    expect(fromBridge).toEqual({ content: payload, path: 'body.Message.detail' });
    expect(fromSns).toEqual({ content: payload, path: 'body.Message' });
  });

  it.each([
    ['an SNS MessageId', { ...inSns(payload), MessageId: 7 }],
    ['an EventBridge id', { ...inEventBridge(payload), id: 7 }],
    ['a CloudEvent id', { ...inCloudEvent(payload), id: 7 }],
  ])('takes %s that is not text as no id', (_, event) => {
    // Act
    const id = envelopeOf(event)?.idOf(event);
    const result = parse({ ...event });

    // Assess
    expect(id).toBeUndefined();
    expect(result).toMatchObject({ ok: true, failure: { eventId: undefined } });
  });

  it('takes the outermost envelope id as the event id when envelopes nest', () => {
    // Act
    const result = parse(inSns(inEventBridge(payload, 'eb-inner'), 'sns-outer'));

    // Assess
    expect(result).toMatchObject({ ok: true, failure: { eventId: 'sns-outer', shape: 'sns>eventbridge>plain' } });
  });
});
