import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/app-config.js';
import { loadIngressConfig } from '../../lib/ingress/ingress-config.js';
import { parseSmnMessage } from '../../lib/ingress/smn-message.js';
import * as v from '../../lib/platform/valibot.js';
import { loadPolicy } from '../../lib/policy/policy-config.js';
import { parseManualPayload } from '../../lib/ways-in/manual.js';
import { WorkspaceCredentials } from '../../lib/workspace/credentials.js';

/**
 * The messages lib/platform/valibot.ts gives every check a schema does not word itself: a predicate that follows the
 * field's name, naming the type or the size refused, never the value (a refused field of an SMN delivery or a console
 * payload is logged and dead-lettered).
 */
const SECRET = 'sk-do-not-repeat-me';
const problem = (schema: v.GenericSchema, input: unknown) => {
  const result = v.safeParse(schema, input);
  if (result.success) throw new Error('expected a problem');
  return result.issues.map((issue) => issue.message);
};

describe("the project's validation messages", () => {
  it.each([
    ['a wrong type', v.string(), 42, 'must be a string, got number'],
    ['an object expected', v.object({}), 'x', 'must be an object, got string'],
    ['an array given', v.string(), [SECRET], 'must be a string, got array'],
    ['null given', v.number(), null, 'must be a number, got null'],
    ['a choice', v.picklist(['retry', 'give-up']), SECRET, 'must be one of "retry" | "give-up", got string'],
    ['a length', v.pipe(v.string(), v.maxLength(3)), SECRET, 'length must be <=3, got 19'],
    ['a number too big', v.pipe(v.number(), v.maxValue(10)), 11, 'must be <=10, got 11'],
    ['a pattern', v.pipe(v.string(), v.regex(/^a$/)), SECRET, 'is not valid (regex)'],
    ['nothing given', v.string(), undefined, 'is required'],
    ['a check named in two words', v.pipe(v.string(), v.startsWith('a')), SECRET, 'is not valid (starts with)'],
    ['nothing allowed', v.never(), SECRET, 'must be a never, got string'],
    ['a literal', v.literal('v1'), 2, 'must be "v1", got number'],
  ])('%s: %j', (_, schema, input, message) => {
    expect(problem(schema as v.GenericSchema, input)).toEqual([message]);
  });

  it('names a field an object does not know by its path, and a missing one as required', () => {
    const result = v.safeParse(v.strictObject({ a: v.string() }), { b: 1 });
    expect(result.success).toBe(false);
    expect(result.issues?.map((i) => [i.path?.map((p) => p.key), i.message])).toEqual([
      [['a'], 'is required'],
      [['b'], 'is not a known field'],
    ]);
  });

  it('never repeats a refused value of an SMN delivery in its reason', () => {
    for (const field of ['type', 'message', 'topic_urn', 'subject', 'signing_cert_url']) {
      const parsed = parseSmnMessage({ [field]: field === 'topic_urn' ? SECRET.repeat(200) : [SECRET] }, {});
      expect(parsed.ok).toBe(false);
      expect(JSON.stringify(parsed)).not.toContain(SECRET);
    }
    const badType = parseSmnMessage({ type: SECRET }, {});
    expect(badType).toEqual({
      ok: false,
      reason:
        'body.type: must be one of "SubscriptionConfirmation" | "Notification" | "UnsubscribeConfirmation", got string',
    });
  });
});

describe('what valibot alone would let through, refused', () => {
  it.each([
    ['an object', v.object({ a: v.optional(v.string()) })],
    ['a strict object', v.strictObject({ a: v.optional(v.string()) })],
    ['a record', v.record(v.string(), v.string())],
    ['a partial object', v.partial(v.object({ a: v.string() }))],
  ])('an array for %s', (_, schema) => {
    expect(problem(schema as v.GenericSchema, [])).toEqual(['must be an object, got array']);
    expect(v.safeParse(schema as v.GenericSchema, {}).success).toBe(true);
  });

  it('names every field a strict object does not know, not only the first', () => {
    expect(() => loadPolicy('{"foo":1,"max_attempts":2,"bar":2}')).toThrow(
      'RETRY_POLICY.foo: is not a known field; RETRY_POLICY.bar: is not a known field',
    );
    expect(parseManualPayload({ project_id: 'p', task_id: 't', foo: 1, bar: 2 }, () => undefined)).toEqual({
      errors: [{ field: '(payload)', problem: 'unknown field(s) foo, bar' }],
    });
  });

  it("names each unknown field once, a nested object's beside its parent's", () => {
    expect(() =>
      loadPolicy(
        '{"rules":[{"id":"a","verdict":"retry","statuses":["x"],"desktop":{"wak":true},"typo":1}],"extra1":1,"extra2":2}',
      ),
    ).toThrow(
      /^RETRY_POLICY\.rules\.0\.desktop\.wak: is not a known field; RETRY_POLICY\.rules\.0\.typo: is not a known field; RETRY_POLICY\.extra1: is not a known field; RETRY_POLICY\.extra2: is not a known field$/,
    );
  });

  it('keeps to the entries of a picked object, to abortEarly, and to the schema through ~standard', () => {
    const abc = v.strictObject({ a: v.optional(v.string()), b: v.optional(v.string()), c: v.optional(v.string()) });
    const keysOf = (result: { issues?: readonly v.BaseIssue<unknown>[] | undefined }) =>
      result.issues?.map((issue) => issue.path?.map((item) => item.key).join('.'));
    expect(keysOf(v.safeParse(v.pick(abc, ['a']), { b: '1', c: '2' }))).toEqual(['b', 'c']);
    expect(keysOf(v.safeParse(v.strictObject({}), { a: 1, b: 2 }, { abortEarly: true }))).toEqual(['a']);
    const reserved = JSON.parse('{"__proto__":1,"constructor":2}');
    expect(keysOf(v.safeParse(v.record(v.string(), v.number()), reserved, { abortEarly: true }))).toEqual([
      '__proto__',
    ]);
    expect(v.strictObject({})['~standard'].validate([])).toMatchObject({ issues: [{ received: 'Array' }] });
    expect(v.record(v.string(), v.unknown())['~standard'].validate(reserved)).toHaveProperty('issues');
  });

  it.each([
    '{"projects":[]}',
    '{"scripts":[{"max_attempts":0}]}',
    '{"projects":{"abc":[]}}',
    '{"backoff":[]}',
    '{"rules":[{"id":"a","verdict":"retry","result_codes":["X"],"desktop":[]}]}',
  ])('refuses the policy %s, where an object is wanted', (json) => {
    expect(() => loadPolicy(json)).toThrow(/must be an object, got array/);
  });

  it.each(['constructor', 'prototype', '__proto__'])('refuses the reserved id %s, which a record would drop', (id) => {
    expect(() => loadPolicy(`{"projects":{"${id}":{"max_attempts":2}}}`)).toThrow(
      `RETRY_POLICY.projects.${id}: is a reserved name, not an id`,
    );
  });

  it.each([
    [{ ak: 'A', sk: 'S', projects: [{ ak: 'A0', sk: 'S0' }] }, 'secret s: field projects is missing'],
    [{ ak: 'A', sk: 'S', projects: { constructor: { ak: 'a', sk: 'b' } } }, 'field projects.constructor is missing'],
    [['ak'], 'secret s: field (root) is missing'],
  ])('refuses the secret %j instead of signing with the default key', async (secret, message) => {
    const credentials = new WorkspaceCredentials('s', { load: async () => secret, reload: async () => secret });
    await expect(credentials.forProject('0')).rejects.toThrow(message);
  });

  it('names every wrong variable of the ingress at once, the one required unless another is set included', () => {
    expect(() => loadIngressConfig({ FAILURE_QUEUE_URL: 'nope' })).toThrow(
      'FAILURE_QUEUE_URL must be a queue URL, got "nope"; TRUSTED_TOPIC_URNS is required unless INGRESS_TOKEN_SECRET_ID is set',
    );
  });

  it('quotes a whole number too large for a number as it was written, once', () => {
    const env = {
      WORKSPACE_REGION: 'cn-north-4',
      CREDENTIALS_SECRET_ID: 's',
      DLQ_URL: 'http://q/dlq',
      SOURCE_QUEUE_URL: 'http://q/source',
      LEDGER_TABLE: 't',
      MAX_CONCURRENCY: '9'.repeat(400),
    };
    expect(() => loadConfig(env)).toThrow(/^MAX_CONCURRENCY must be a whole number between 1 and 100, got "9{40}"$/);
  });
});
