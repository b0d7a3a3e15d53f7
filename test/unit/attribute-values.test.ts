import { describe, expect, it } from 'vitest';
import { fromAttributes, toAttributes } from '../../lib/platform/attribute-values.js';

/** The ledger's items as DynamoDB's JSON carries them (lib/platform/attribute-values.ts). */

const chain = {
  pk: 'p#record#r1',
  state: 'claimed',
  attempts: 2,
  rev: 7,
  lease_until: 1_764_460_000_123,
  ratio: 0.25,
  forced: false,
  tasks: ['t0', 't1'],
  history: [{ attempt: 1, at: '2026-11-29T22:00:00.000Z', outcome: 'retried', task_id: 't1', reason: undefined }],
  nothing: null,
  empty: '',
  current_task: undefined,
};

describe('attribute values for the DynamoDB wire', () => {
  it('maps strings, numbers, booleans, null, lists and maps as the DocumentClient does, leaving undefined out', () => {
    // Act
    const attributes = toAttributes(chain);

    // Assess
    expect(attributes).toEqual({
      pk: { S: 'p#record#r1' },
      state: { S: 'claimed' },
      attempts: { N: '2' },
      rev: { N: '7' },
      lease_until: { N: '1764460000123' },
      ratio: { N: '0.25' },
      forced: { BOOL: false },
      tasks: { L: [{ S: 't0' }, { S: 't1' }] },
      history: {
        L: [
          {
            M: {
              attempt: { N: '1' },
              at: { S: '2026-11-29T22:00:00.000Z' },
              outcome: { S: 'retried' },
              task_id: { S: 't1' },
            },
          },
        ],
      },
      nothing: { NULL: true },
      empty: { S: '' },
    });
  });

  it('reads back what it wrote, without the undefined attributes', () => {
    // Act
    const back = fromAttributes(toAttributes(chain));

    // Assess
    const { current_task: _, ...defined } = chain;
    expect(back).toEqual({
      ...defined,
      history: [{ attempt: 1, at: '2026-11-29T22:00:00.000Z', outcome: 'retried', task_id: 't1' }],
    });
    expect(Object.keys(back)).not.toContain('current_task');
  });

  it('refuses a number DynamoDB cannot hold, naming the attribute', () => {
    expect(() => toAttributes({ pk: 'k', history: [{ at: Number.NaN }] })).toThrow(/history\[0\]\.at: NaN/);
    expect(() => toAttributes({ pk: 'k', lease_until: Number.POSITIVE_INFINITY })).toThrow(/lease_until: Infinity/);
  });

  it('refuses a value that is not plain data rather than storing it as an empty map', () => {
    expect(() => toAttributes({ pk: 'k', at: new Date(0) })).toThrow(/attribute at: a Date cannot be stored/);
    expect(() => toAttributes({ pk: 'k', f: () => 1 })).toThrow(/attribute f: a function cannot be stored/);
  });

  it('reads sets and binaries an operator may have written, and refuses an integer beyond 2^53 rather than rounding it', () => {
    expect(fromAttributes({ ss: { SS: ['a', 'b'] }, ns: { NS: ['1', '2'] } })).toEqual({
      ss: new Set(['a', 'b']),
      ns: new Set([1, 2]),
    });
    expect(() => fromAttributes({ big: { N: '9007199254740993' } })).toThrow(/big: 9007199254740993 is beyond/);
  });
});

describe('numbers stored are numbers read', () => {
  it('refuses to store an integer beyond 2^53 (an epoch-nanosecond failed_at), which it would refuse to read back, as the DocumentClient refused it', () => {
    expect(() => toAttributes({ pk: 'k', failed_at: 1_732_900_000_000_000_000 })).toThrow(
      /failed_at: 1732900000000000000 is beyond/,
    );
    expect(() => toAttributes({ pk: 'k', history: [{ at: -1e300 }] })).toThrow(/history\[0\]\.at/);
    expect(fromAttributes(toAttributes({ pk: 'k', n: Number.MAX_SAFE_INTEGER, f: -0.5, tiny: 1e-7 }))).toEqual({
      pk: 'k',
      n: Number.MAX_SAFE_INTEGER,
      f: -0.5,
      tiny: 1e-7,
    });
  });
});

describe('sets and bytes', () => {
  it('writes back the sets and bytes it reads (bytes as base64, as the JSON wire carries them), and refuses an empty or mixed set by name', () => {
    const item = {
      pk: 'k',
      ss: new Set(['a', 'b']),
      ns: new Set([1, -2.5]),
      b: new Uint8Array([1, 2]),
      bs: new Set([new Uint8Array([3])]),
    };
    expect(toAttributes(item)).toEqual({
      pk: { S: 'k' },
      ss: { SS: ['a', 'b'] },
      ns: { NS: ['1', '-2.5'] },
      b: { B: 'AQI=' },
      bs: { BS: ['Aw=='] },
    });
    expect(fromAttributes(toAttributes(item))).toEqual(item);
    expect(() => toAttributes({ pk: 'k', tags: new Set() })).toThrow(/tags: an empty set/);
    expect(() => toAttributes({ pk: 'k', tags: new Set(['a', 1]) })).toThrow(/tags: a set of mixed/);
  });
});
