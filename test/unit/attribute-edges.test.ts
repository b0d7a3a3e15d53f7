import { describe, expect, it } from 'vitest';
import { fromAttribute, fromAttributes, toAttribute, toAttributes } from '../../lib/platform/attribute-values.js';

/**
 * The edges of the ledger's attribute values (lib/platform/attribute-values.ts):
 * holes in lists, maps without a prototype, bytes that are a view of a larger
 * buffer, and the name each refusal gives the value it refuses.
 */

describe('writing', () => {
  it('leaves the undefined elements of a list out, and names the others by their index', () => {
    expect(toAttribute(['a', undefined, 'c'], 'tasks')).toEqual({ L: [{ S: 'a' }, { S: 'c' }] });
    expect(() => toAttribute(['a', undefined, Number.NaN], 'tasks')).toThrow(
      'attribute tasks[2]: NaN cannot be stored (DynamoDB numbers are finite)',
    );
  });

  it('names a nested attribute by its path', () => {
    expect(() => toAttributes({ pk: 'k', wait: { since: Number.POSITIVE_INFINITY } })).toThrow(
      'attribute wait.since: Infinity cannot be stored (DynamoDB numbers are finite)',
    );
    expect(() => toAttributes({ pk: 'k', n: 2 ** 60 })).toThrow(
      `attribute n: ${2 ** 60} is beyond JavaScript's exact integers`,
    );
    expect(() => toAttributes({ a: { b: [{ c: 2 ** 60 }] } })).toThrow(
      new RangeError(`attribute a.b[0].c: ${2 ** 60} is beyond JavaScript's exact integers`),
    );
    expect(() => toAttributes({ a: { b: [1, { c: Number.NaN }] } })).toThrow(TypeError);
  });

  it('stores a map without a prototype as a map', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(toAttribute(bare, 'm')).toEqual({ M: { a: { N: '1' } } });
  });

  it('refuses an object of another kind by its constructor, or as an object when it has none', () => {
    class Lease {}
    expect(() => toAttribute(new Lease(), 'lease')).toThrow(
      'attribute lease: a Lease cannot be stored (plain objects, arrays and scalars only)',
    );
    const orphan = Object.create(Object.create(null) as object) as object;
    expect(() => toAttribute(orphan, 'x')).toThrow(
      'attribute x: a object cannot be stored (plain objects, arrays and scalars only)',
    );
    expect(() => toAttribute(10n, 'big')).toThrow('attribute big: a bigint cannot be stored');
  });

  it('writes only the bytes a view shows, not its whole buffer', () => {
    const view = new Uint8Array([9, 1, 2, 9]).subarray(1, 3);
    expect(toAttribute(view, 'b')).toEqual({ B: 'AQI=' });
    expect(toAttribute(new Set([view]), 'bs')).toEqual({ BS: ['AQI='] });
  });

  it('refuses a number in a set by its place in the set', () => {
    expect(() => toAttribute(new Set([1, Number.NaN]), 'ns')).toThrow('attribute ns{1}: NaN cannot be stored');
    expect(() => toAttribute(new Set(), 'tags')).toThrow(
      'attribute tags: an empty set cannot be stored (DynamoDB has no empty sets)',
    );
    expect(() => toAttribute(new Set([new Uint8Array([1]), 'a']), 'tags')).toThrow(
      'attribute tags: a set of mixed or unsupported values cannot be stored',
    );
    expect(() => toAttribute(new Set([{}]), 'tags')).toThrow(
      'attribute tags: a set of mixed or unsupported values cannot be stored',
    );
  });

  it('writes booleans and null as such', () => {
    expect(toAttribute(true, 'b')).toEqual({ BOOL: true });
    expect(toAttribute(null, 'n')).toEqual({ NULL: true });
  });
});

describe('reading', () => {
  it('reads each type, nested, with null, booleans and bytes as the DocumentClient does', () => {
    expect(
      fromAttributes({
        t: { BOOL: true },
        f: { BOOL: false },
        n: { NULL: true },
        l: { L: [{ N: '1' }, { M: { s: { S: 'x' } } }] },
        b: { B: 'AQI=' },
        bs: { BS: ['AQI=', 'Aw=='] },
        e: { S: '' },
      }),
    ).toEqual({
      t: true,
      f: false,
      n: null,
      l: [1, { s: 'x' }],
      b: new Uint8Array([1, 2]),
      bs: new Set([new Uint8Array([1, 2]), new Uint8Array([3])]),
      e: '',
    });
  });

  it('reads bytes as a Uint8Array, not a Buffer', () => {
    const bytes = fromAttribute({ B: 'AQI=' }, 'b');
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  });

  it('names what it cannot read by its path', () => {
    expect(() => fromAttributes({ wait: { M: { at: { N: '9007199254740993' } } } })).toThrow(
      "attribute wait.at: 9007199254740993 is beyond JavaScript's exact integers",
    );
    expect(() => fromAttributes({ l: { L: [{ N: '1' }, { N: '9007199254740993' }] } })).toThrow(
      'attribute l[1]: 9007199254740993',
    );
    expect(() => fromAttributes({ ns: { NS: ['1', '9007199254740993'] } })).toThrow('attribute ns: 9007199254740993');
    expect(() => fromAttribute({ N: '9007199254740993' }, 'refused_until')).toThrow(
      new RangeError("attribute refused_until: 9007199254740993 is beyond JavaScript's exact integers"),
    );
    expect(() => fromAttributes({ a: { L: [{ M: { b: { N: '9007199254740993' } } }] } })).toThrow(
      new RangeError("attribute a[0].b: 9007199254740993 is beyond JavaScript's exact integers"),
    );
    expect(() => fromAttributes({ odd: { X: 'y' } as never })).toThrow(
      'attribute odd: no value of a known type in ["X"]',
    );
  });

  it('reads a fraction or a large integer within 2^53 as the number it is', () => {
    expect(fromAttribute({ N: '9007199254740991' }, 'n')).toBe(9_007_199_254_740_991);
    expect(fromAttribute({ N: '-9007199254740991' }, 'n')).toBe(-9_007_199_254_740_991);
    expect(fromAttribute({ N: '-2.25' }, 'n')).toBe(-2.25);
    expect(fromAttribute({ N: '0.5' }, 'n')).toBe(0.5);
  });
});
