import { type BaseIssue, setGlobalMessage } from 'valibot';

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

export * from 'valibot';
