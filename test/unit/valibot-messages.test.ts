import { describe, expect, it } from 'vitest';
import { parseSmnMessage } from '../../lib/ingress/smn-message.js';
import * as v from '../../lib/platform/valibot.js';

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
