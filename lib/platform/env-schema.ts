/**
 * Reading the environment through one valibot schema per function. Each
 * variable is a key of the schema; a blank value counts as unset, so its
 * default applies. Every problem becomes part of one ConfigError that names
 * the variable, and the field inside a JSON value: `MAX_CONCURRENCY must be …`,
 * `SWEEP_PROJECTS[0].project_id: must be a safe id`.
 *
 * A default is given as the variable would spell it (`'300'`, `'false'`): valibot checks a default with the schema it
 * stands in for, as it would the variable.
 */

import * as v from './valibot.js';
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
  return v.string(message);
}

/** The schema of one variable's text: what `commaList` checks each item with. */
export type TextSchema<T = unknown> = v.GenericSchema<string, T>;

/**
 * A whole number from `min` to `max`, in decimal digits only: coercion alone
 * would also read "1e3", "0x10" or "+5", spellings that were never accepted.
 */
export function wholeNumber(min: number, max: number) {
  const problem = (input: unknown) => `must be a whole number between ${min} and ${max}, got ${excerpt(input)}`;
  return v.pipe(
    v.string((issue) => problem(issue.input)),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const number = Number(dataset.value);
      if (/^\d+$/.test(dataset.value) && number >= min && number <= max) return number;
      addIssue({ message: problem(dataset.value) });
      return NEVER;
    }),
  );
}

const TRUE = new Set(['true', '1']);
const FALSE = new Set(['false', '0']);

/** true/1 or false/0, in any case: the spellings this project has always accepted. */
export function flag() {
  return v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const spelled = dataset.value.toLowerCase();
      if (TRUE.has(spelled)) return true;
      if (FALSE.has(spelled)) return false;
      addIssue({ message: `must be true or false, got ${excerpt(dataset.value)}` });
      return NEVER;
    }),
  );
}

/** A URL (a queue URL, say), required. */
export function url(what: string) {
  return v.pipe(
    required(),
    v.check(URL.canParse, (issue) => `must be ${what}, got ${excerpt(issue.input, 80)}`),
  );
}

/** A comma-separated list of at least one item, each checked by `item` (a problem names its index). */
export function commaList<T>(item: TextSchema<T>) {
  return v.pipe(
    required(),
    v.transform((raw: string) =>
      raw
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    ),
    v.array(item),
    v.minLength(1, 'must list at least one value'),
  );
}

/** A JSON document checked by `schema`; a problem inside it names the field. */
export function jsonValue<T>(schema: v.GenericSchema<unknown, T>, requiredMessage?: string) {
  return v.pipe(
    required(requiredMessage),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return JSON.parse(dataset.value) as unknown;
      } catch (error) {
        addIssue({ message: `is not valid JSON (${(error as Error).message})` });
        return NEVER;
      }
    }),
    schema,
  );
}

/** `NAME must …` for the variable itself; `NAME[0].field: …` for a field inside its JSON value. */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  const [variable, ...field] = v.issuePath(issue);
  if (field.length === 0) return `${String(variable)} ${issue.message}`;
  return `${String(variable)}${field.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('')}: ${issue.message}`;
}

/** An object schema whose keys are variable names: what `readEnv` reads. */
export type EnvSchema = v.ObjectSchema<v.ObjectEntries, undefined>;

/** The variables as read: trimmed, a blank one unset. */
export type RawVariables = Readonly<Record<string, string | undefined>>;

/**
 * Parses the variables `schema` names (and only those), trimmed, blank as
 * unset. Throws one ConfigError listing every problem, each naming its
 * variable once: the schema's, then those of `checks`, which look at the
 * variables as read (a variable required unless another is set).
 */
export function readEnv<S extends EnvSchema>(
  schema: S,
  env: Env,
  ...checks: Array<(raw: RawVariables) => string | undefined>
): v.InferOutput<S> {
  const values: RawVariables = Object.fromEntries(
    Object.keys(schema.entries).map((name) => [name, env[name]?.trim() || undefined]),
  );
  const parsed = v.safeParse(schema, values);
  const problems = new Set(parsed.success ? [] : parsed.issues.map(describeIssue));
  for (const check of checks) {
    const problem = check(values);
    if (problem) problems.add(problem);
  }
  if (!parsed.success || problems.size) throw new ConfigError([...problems].join('; '));
  return parsed.output;
}
