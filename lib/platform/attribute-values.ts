/**
 * Plain items to DynamoDB attribute values and back, in the JSON form the
 * wire carries (lib/platform/dynamodb-client.ts): the same mapping the
 * DocumentClient makes with `removeUndefinedValues` (string S, number N,
 * boolean BOOL, null NULL, array L, object M, Set SS/NS/BS, bytes B; undefined
 * left out), in one pass. Bytes travel as base64 text, as the JSON protocol
 * carries them. Items written by the DocumentClient read back the same, and
 * the other way round (test/unit/attribute-values.test.ts checks both against
 * @aws-sdk/util-dynamodb; test/integration/ledger.test.ts on dynalite). Data types:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes
 */

/** One attribute value as DynamoDB's JSON carries it: exactly one of these is set. */
export interface AttributeValue {
  S?: string;
  N?: string;
  BOOL?: boolean;
  NULL?: boolean;
  L?: AttributeValue[];
  M?: Attributes;
  SS?: string[];
  NS?: string[];
  /** base64 */
  B?: string;
  BS?: string[];
}

/** An item as attribute values, by attribute name. */
export type Attributes = Record<string, AttributeValue>;

/**
 * A value that cannot be stored or read, thrown inside the walk with the path below the value it was met in; the
 * attribute's whole name is put together only then, so a walk that succeeds builds no names.
 */
class Unstorable {
  /** Path segments from the innermost out: `.key`, `[i]`, `{i}`. */
  readonly below: string[] = [];
  constructor(
    readonly kind: typeof TypeError | typeof RangeError,
    readonly reason: string,
  ) {}
}

/** `error`, with `segment` added to its path when it is a value the walk cannot take (no closure per step). */
function within(error: unknown, segment: string): unknown {
  if (error instanceof Unstorable) error.below.push(segment);
  return error;
}

/** `error` as the caller sees it: an Unstorable named by `where` and its path, anything else as it was. */
function named(error: unknown, where: string): unknown {
  if (!(error instanceof Unstorable)) return error;
  return new error.kind(`attribute ${where}${error.below.reverse().join('')}: ${error.reason}`);
}

/**
 * An item as attribute values, its undefined fields left out; throws a TypeError naming the attribute that cannot be
 * stored.
 */
export function toAttributes(item: Readonly<Record<string, unknown>>): Attributes {
  const out: Attributes = {};
  for (const key in item) {
    const value = item[key];
    if (value !== undefined) out[key] = toAttribute(value, key);
  }
  return out;
}

/** One value as an attribute value; `where` names it in the TypeError thrown for a value DynamoDB cannot store. */
export function toAttribute(value: unknown, where: string): AttributeValue {
  try {
    return encode(value);
  } catch (error) {
    throw named(error, where);
  }
}

/** A nested map, its undefined fields left out. */
function encodeMap(record: Readonly<Record<string, unknown>>): Attributes {
  const out: Attributes = {};
  for (const key in record) {
    const value = record[key];
    if (value === undefined) continue;
    try {
      out[key] = encode(value);
    } catch (error) {
      throw within(error, `.${key}`);
    }
  }
  return out;
}

function encode(value: unknown): AttributeValue {
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'number':
      // DynamoDB has no NaN or infinity: refuse here, with the attribute's name, rather than as a ValidationException.
      if (!Number.isFinite(value))
        throw new Unstorable(TypeError, `${value} cannot be stored (DynamoDB numbers are finite)`);
      // Beyond 2^53 it would be stored and then refused when read (toNumber): refused here, as the DocumentClient
      // refused it.
      if (!Number.isSafeInteger(value) && Number.isInteger(value))
        throw new Unstorable(RangeError, `${value} is beyond JavaScript's exact integers`);
      return { N: String(value) };
    case 'boolean':
      return { BOOL: value };
    case 'object':
      if (value === null) return { NULL: true };
      // What fromAttribute reads (an operator's or an earlier version's sets and bytes) is written back as it was:
      // transitions carry every attribute of a chain into its next write.
      if (value instanceof Uint8Array) return { B: toBase64(value) };
      if (value instanceof Set) return encodeSet(value as Set<unknown>);
      if (Array.isArray(value)) {
        const list: AttributeValue[] = [];
        // The length as the walk began, as forEach read it: an array that grows while it is read is not followed.
        for (let i = 0, length = value.length; i < length; i++) {
          const v: unknown = value[i];
          if (v === undefined) continue;
          try {
            list.push(encode(v));
          } catch (error) {
            throw within(error, `[${i}]`);
          }
        }
        return { L: list };
      }
      if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
        return { M: encodeMap(value as Record<string, unknown>) };
      }
      throw new Unstorable(
        TypeError,
        `a ${value.constructor?.name ?? 'object'} cannot be stored (plain objects, arrays and scalars only)`,
      );
    default:
      throw new Unstorable(TypeError, `a ${typeof value} cannot be stored`);
  }
}

/**
 * A set as DynamoDB holds it: strings SS, numbers NS, bytes BS; none empty, none mixed (as the DocumentClient maps
 * them).
 */
function encodeSet(set: Set<unknown>): AttributeValue {
  const values = [...set];
  if (values.length === 0)
    throw new Unstorable(TypeError, 'an empty set cannot be stored (DynamoDB has no empty sets)');
  if (values.every((v) => typeof v === 'string')) return { SS: values as string[] };
  if (values.every((v) => typeof v === 'number')) return { NS: values.map((v, i) => encodeSetMember(v, i)) };
  if (values.every((v) => v instanceof Uint8Array)) return { BS: values.map((v) => toBase64(v as Uint8Array)) };
  throw new Unstorable(TypeError, 'a set of mixed or unsupported values cannot be stored');
}

/** One number of a number set, its place in the set named if it cannot be stored. */
function encodeSetMember(value: unknown, i: number): string {
  try {
    return encode(value).N!;
  } catch (error) {
    throw within(error, `{${i}}`);
  }
}

/** An item read back from attribute values (sets as Set, bytes as Uint8Array). */
export function fromAttributes(attributes: Readonly<Attributes>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in attributes) out[key] = fromAttribute(attributes[key]!, key);
  return out;
}

/** Every type DynamoDB answers with, read as the DocumentClient reads it (sets as Set, binary as bytes). */
export function fromAttribute(value: AttributeValue, where: string): unknown {
  try {
    return decode(value);
  } catch (error) {
    throw named(error, where);
  }
}

function decode(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return toNumber(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined)
    return value.L.map((v, i) => {
      try {
        return decode(v);
      } catch (error) {
        throw within(error, `[${i}]`);
      }
    });
  if (value.M !== undefined) {
    const map = value.M;
    const out: Record<string, unknown> = {};
    for (const key in map) {
      try {
        out[key] = decode(map[key]!);
      } catch (error) {
        throw within(error, `.${key}`);
      }
    }
    return out;
  }
  if (value.SS !== undefined) return new Set(value.SS);
  if (value.NS !== undefined) return new Set(value.NS.map(toNumber));
  if (value.B !== undefined) return fromBase64(value.B);
  if (value.BS !== undefined) return new Set(value.BS.map(fromBase64));
  throw new Unstorable(TypeError, `no value of a known type in ${JSON.stringify(Object.keys(value))}`);
}

/**
 * Beyond 2^53 a JS number would round silently: refused (the DocumentClient answers a BigInt there, which no ledger
 * item holds).
 */
function toNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) && Number.isInteger(n))
    throw new Unstorable(RangeError, `${text} is beyond JavaScript's exact integers`);
  return n;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Bytes as the DocumentClient reads them: a Uint8Array (not a Buffer). */
function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'base64'));
}
