import type { Message } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { sendableAttributes } from '../../ops/dead-letter-queue.js';
import {
  describeDeadLetter,
  formatAge,
  matchesReason,
  REDRIVE_REASON,
  renderDeadLetters,
} from '../../ops/dead-letter-view.js';

const P = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const text = (value: string) => ({
  DataType: 'String',
  StringValue: value,
  StringListValues: [],
  BinaryListValues: [],
});
const NOW = Date.parse('2026-11-29T12:00:00Z');

function deadLetter(reason: string, overrides: Partial<Message> = {}): Message {
  return {
    MessageId: 'm-1',
    Body: JSON.stringify({ project_id: P, record_id: 'rec-1', task_id: 'task-1' }),
    MessageAttributes: {
      reason: text(reason),
      error_code: text('WKS.00210404'),
      attempts: { DataType: 'Number', StringValue: '1' },
      rule_id: text('timeout'),
      decided_at: text('2026-11-29T09:55:00.000Z'),
      first_seen_at: text('2026-11-29T09:50:00.000Z'),
      tenant: text('kept as the event carried it'),
    },
    Attributes: { SentTimestamp: String(Date.parse('2026-11-29T09:55:01Z')) },
    ...overrides,
  };
}

describe('ops dead-letters and replay: what a dead letter says', () => {
  it('reads the reason, error code, attempts, rule, failure and age from a dead letter', () => {
    const row = describeDeadLetter(deadLetter('workspace-refused: 404 WKS.00210404'), NOW);
    expect(row).toMatchObject({
      message_id: 'm-1',
      reason: 'workspace-refused: 404 WKS.00210404',
      error_code: 'WKS.00210404',
      attempts: 1,
      rule_id: 'timeout',
      age_seconds: 7500,
      failure: { project_id: P, record_id: 'rec-1' },
    });
    expect(renderDeadLetters([row])).toMatch(
      /2h 5m\s+0a1b2c3d… record#rec-1\s+workspace-refused: 404 WKS.00210404\s+WKS.00210404\s+1\s+timeout\s+m-1/,
    );
  });

  it('says when a body was cut to fit, with the whole size and digest', () => {
    const cut = { body_bytes: { DataType: 'Number', StringValue: '307220' }, body_sha256: text('ab'.repeat(32)) };
    const row = describeDeadLetter(
      deadLetter('invalid-event: body: 307220 bytes, larger than 65536', {
        Body: '{"project_id":"',
        MessageAttributes: { ...deadLetter('x').MessageAttributes, ...cut },
      }),
      NOW,
    );
    expect(row.body_cut).toEqual({ original_bytes: 307220, sha256: 'ab'.repeat(32) });
    expect(renderDeadLetters([row])).toContain('(body cut: first of 307220 bytes)');
  });

  it('says when a message came by the redrive policy (no reason attribute), aged from when SQS received it', () => {
    const row = describeDeadLetter(deadLetter('', { MessageAttributes: {}, Body: 'not json' }), NOW);
    expect(row).toMatchObject({ reason: REDRIVE_REASON, attempts: undefined, age_seconds: 7499, failure: undefined });
    expect(renderDeadLetters([row])).toContain('(unreadable body)');
  });

  it('chooses messages to replay by a part of their reason, rule id or error code, any case; all without --reason', () => {
    const row = describeDeadLetter(deadLetter('permission-denied: The account lacks a permission'), NOW);
    expect(matchesReason(row, 'PERMISSION-denied')).toBe(true);
    expect(matchesReason(row, 'wks.00210404')).toBe(true);
    expect(matchesReason(row, 'timeout')).toBe(true);
    expect(matchesReason(row, 'max-age')).toBe(false);
    expect(matchesReason(row, undefined)).toBe(true);
    expect(matchesReason(describeDeadLetter(deadLetter('', { MessageAttributes: {} }), NOW), 'redrive')).toBe(true);
  });

  it('re-sends every attribute with its type and value only (SQS refuses the empty list fields it returns)', () => {
    const attributes = sendableAttributes(deadLetter('x').MessageAttributes);
    expect(Object.keys(attributes)).toEqual([
      'reason',
      'error_code',
      'attempts',
      'rule_id',
      'decided_at',
      'first_seen_at',
      'tenant',
    ]);
    expect(attributes['attempts']).toEqual({ DataType: 'Number', StringValue: '1' });
    expect(attributes['reason']).toEqual({ DataType: 'String', StringValue: 'x' });
  });

  it('formats ages a person reads at a glance', () => {
    expect([0, 59, 90, 7500, 200_000].map(formatAge)).toEqual(['0s', '59s', '1m 30s', '2h 5m', '2d 7h']);
  });
});
