/**
 * Reading the environment through one zod schema per function. Each variable
 * is a key of the schema; a blank value counts as unset, so its default
 * applies. Every problem becomes part of one ConfigError that names the
 * variable, and the field inside a JSON value: `MAX_CONCURRENCY must be …`,
 * `SWEEP_PROJECTS[0].project_id: must be a safe id`.
 */

import * as z from './zod.js';

/** A configuration value that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The environment to read: process.env, or a test's own. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The start of a value, quoted, for a message: enough to recognise it, never a whole long value. */
export function excerpt(value: unknown, length = 40): string {
  return JSON.stringify(String(value).slice(0, length));
}

/**
 * A set variable; unset or blank fails with "is required" (or `message`).
 * Messages for a variable itself are predicates ("is …", "must be …"): they
 * follow its name.
 */
export function required(message = 'is required') {
  return z.string({ error: message });
}

/**
 * A whole number from `min` to `max`, in decimal digits only: coercion alone
 * would also read "1e3", "0x10" or "+5", spellings that were never accepted.
 */
export function wholeNumber(min: number, max: number) {
  const problem = {
    error: (issue: { input?: unknown }) =>
      `must be a whole number between ${min} and ${max}, got ${excerpt(issue.input)}`,
  };
  return z.pipe(
    z.string().check(z.regex(/^\d+$/, problem)),
    z.coerce.number<string>().check(z.int(problem), z.minimum(min, problem), z.maximum(max, problem)),
  );
}

/** true/1 or false/0, in any case: the spellings this project has always accepted. */
export function flag() {
  return z.stringbool({
    truthy: ['true', '1'],
    falsy: ['false', '0'],
    error: (issue) => `must be true or false, got ${excerpt(issue.input)}`,
  });
}

/** A URL (a queue URL, say), required. */
export function url(what: string) {
  return required().check(
    z.refine(URL.canParse, { error: (issue) => `must be ${what}, got ${excerpt(issue.input, 80)}` }),
  );
}

/** A comma-separated list of at least one item, each checked by `item` (a problem names its index). */
export function commaList<T extends z.ZodMiniType<unknown, string>>(item: T) {
  const entries = z.transform((raw: string) =>
    raw
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  );
  return z.pipe(z.pipe(required(), entries), z.array(item).check(z.minLength(1, 'must list at least one value')));
}

/** A JSON document checked by `schema`; a problem inside it names the field. */
export function jsonValue<T extends z.ZodMiniType>(schema: T, requiredMessage?: string) {
  const parsed = z.transform((text: string, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: `is not valid JSON (${(error as Error).message})`, input: text });
      return z.NEVER;
    }
  });
  return z.pipe(z.pipe(required(requiredMessage), parsed), schema);
}

/** `NAME must …` for the variable itself; `NAME[0].field: …` for a field inside its JSON value. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const [variable, ...field] = issue.path;
  if (field.length === 0) return `${String(variable)} ${issue.message}`;
  return `${String(variable)}${field.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('')}: ${issue.message}`;
}

/**
 * Parses the variables `schema` names (and only those), trimmed, blank as
 * unset. Throws one ConfigError listing every problem, each naming its variable.
 */
export function readEnv<S extends z.ZodMiniObject>(schema: S, env: Env): z.output<S> {
  const values = Object.fromEntries(Object.keys(schema.shape).map((name) => [name, env[name]?.trim() || undefined]));
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map(describeIssue).join('; '));
  return parsed.data;
}
