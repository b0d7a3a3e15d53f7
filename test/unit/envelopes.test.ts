import { describe, expect, it } from 'vitest';
import { ENVELOPES, envelopeOf } from '../../lib/events/envelopes.js';
import { PAYLOADS, payloadOf } from '../../lib/events/payloads.js';
import { inCloudEvent, inSns, plainEventFor, recordEvent, WRAP } from '../helpers/envelopes.js';
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
