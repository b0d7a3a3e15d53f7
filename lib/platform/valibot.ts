import {
  _addIssue,
  _standardSchema,
  type BaseIssue,
  strictObject as firstUnknownKeyObject,
  type GenericSchema,
  object as looseKeysObject,
  type ObjectPathItem,
  setGlobalMessage,
  record as valibotRecord,
} from 'valibot';

/**
 * valibot as every schema in lib/ uses it (`import * as v from '…/platform/valibot.js'`),
 * with this project's messages for the checks a schema does not word itself.
 * valibot's own messages quote the value they refused ("received \"…\""); ours
 * name only its type or, for a length or a number, its size: a refused field
 * of an SMN delivery or a console payload is reported in logs and dead-letter
 * reasons, and its value is not ours to repeat there. Each message is a
 * predicate that follows the field's name ("RETRY_POLICY.max_attempts: must
 * be a number, got string").
 */
export function projectMessage(issue: BaseIssue<unknown>): string {
  if (issue.kind === 'schema') {
    if (issue.type === 'strict_object' && issue.expected === 'never') return 'is not a known field';
    if (issue.input === undefined) return 'is required';
    return `must be ${expectation(issue.expected)}, got ${typeName(issue.input)}`;
  }
  // A length or a number: the size refused is said, the value is not.
  if (issue.type.endsWith('_length')) return `length must be ${issue.expected}, got ${issue.received}`;
  if (issue.type.endsWith('_value')) return `must be ${issue.expected}, got ${issue.received}`;
  return `is not valid (${issue.type.replaceAll('_', ' ')})`;
}

/**
 * valibot's expectation as words: `string` → "a string", `Object` → "an object", a choice of literals or types
 * (`("retry" | "give-up")`) → "one of "retry" | "give-up"".
 */
export function expectation(expected: string | null): string {
  if (expected === null) return 'valid';
  if (expected.startsWith('(') && expected.endsWith(')')) return `one of ${expected.slice(1, -1)}`;
  if (expected.startsWith('"')) return expected;
  const word = expected.toLowerCase();
  return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
}

/** A value's JSON type, never the value: `null`, `array`, `string`, `number`, `boolean`, `object`. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

setGlobalMessage(projectMessage);

/** The keys of an issue's path, outermost first: a field, then the fields and indexes inside it. */
export function issuePath(issue: BaseIssue<unknown>): Array<string | number> {
  return (issue.path ?? []).map((item) => item.key as string | number);
}

type Run = GenericSchema['~run'];
type RunDataset = Parameters<Run>[0];
type RunConfig = Parameters<Run>[1];
/** A run's dataset as the wrappers below read it. */
interface Dataset {
  value: unknown;
  typed?: boolean;
  issues?: BaseIssue<unknown>[];
}
/** What the wrappers below report an issue through: valibot's own, so lang, abort flags and messages are its. */
type AddIssue = (label: string, dataset: RunDataset, config: RunConfig, other?: Record<string, unknown>) => void;
const issueOf = (schema: GenericSchema): AddIssue => _addIssue.bind(undefined, schema as never) as unknown as AddIssue;

/**
 * `schema`, refusing an array before it sees one: valibot's object and record
 * schemas take an array for an object (its indexes as keys), where JSON, and
 * every schema here, mean an object. `extra` runs after `schema` on an object,
 * unless the run stops at its first issue and there is one.
 */
function objectsOnly<S extends GenericSchema>(
  schema: S,
  extra?: (schema: S, dataset: RunDataset, input: object, config: RunConfig) => void,
): S {
  const run = schema['~run'];
  return _standardSchema({
    ...schema,
    '~run'(this: S, dataset: RunDataset, config: RunConfig) {
      const input = dataset.value;
      if (Array.isArray(input)) {
        issueOf(this)('type', dataset, config, { received: 'Array' });
        return dataset;
      }
      const result = run.call(this, dataset, config);
      const stopped = config.abortEarly && (result as Dataset).issues;
      if (extra && !stopped && typeof input === 'object' && input !== null)
        extra(this, result as unknown as RunDataset, input, config);
      return result;
    },
  }) as S;
}

/** Where an issue about one of an object's keys points. */
function keyPath(input: object, key: string): ObjectPathItem {
  const object = input as Record<string, unknown>;
  return { type: 'object', origin: 'key', input: object, key, value: object[key] };
}

/** An object; an array is refused (see objectsOnly). */
export const object = ((...args: Parameters<typeof looseKeysObject>) =>
  objectsOnly(looseKeysObject(...args))) as typeof looseKeysObject;

/**
 * An object with no keys but its entries; an array is refused. valibot names
 * the first key it does not know; every other one is named too, so a payload
 * with two typos is corrected in one round.
 */
export const strictObject = ((...args: Parameters<typeof firstUnknownKeyObject>) =>
  objectsOnly(firstUnknownKeyObject(...args), (schema, dataset, input, config) => {
    // The keys this object named itself (a nested object's issues are in the list too, their paths longer).
    const named = new Set(
      ((dataset as Dataset).issues ?? [])
        .filter((issue) => issue.expected === 'never' && issue.path?.length === 1 && issue.path[0]?.input === input)
        .map((issue) => issue.path?.[0]?.key),
    );
    if (named.size === 0) return;
    for (const key of Object.keys(input))
      if (!named.has(key) && !Object.hasOwn(schema.entries, key))
        issueOf(schema)('key', dataset, config, { input: key, expected: 'never', path: [keyPath(input, key)] });
  })) as typeof firstUnknownKeyObject;

/** Keys valibot's record leaves out without a word, to keep them off an object's prototype. */
const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype'];

/** A record; an array is refused, and so is a reserved key (valibot would drop it and say nothing). */
export const record = ((...args: Parameters<typeof valibotRecord>) =>
  objectsOnly(valibotRecord(...args), (schema, dataset, input, config) => {
    for (const key of RESERVED_KEYS) {
      if (!Object.hasOwn(input, key)) continue;
      issueOf(schema)('key', dataset, config, {
        input: key,
        expected: 'an id',
        message: 'is a reserved name, not an id',
        path: [keyPath(input, key)],
      });
      if (config.abortEarly) return;
    }
  })) as typeof valibotRecord;

export * from 'valibot';
