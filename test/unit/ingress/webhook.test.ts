import { describe, expect, it } from 'vitest';
import { parseTokenSecret, TokenSource } from '../../../lib/ingress/token-source.js';
import { parseWebhookEvents, presentedToken, sameToken } from '../../../lib/ingress/webhook.js';

describe('the bearer token', () => {
  it('matches only the exact token', () => {
    expect(sameToken('a-long-enough-token-1', 'a-long-enough-token-1')).toBe(true);
    for (const other of ['a-long-enough-token-', 'a-long-enough-token-12', 'A-long-enough-token-1', ''])
      expect(sameToken(other, 'a-long-enough-token-1')).toBe(false);
  });

  it('is read as "Bearer <token>" from Authorization, and also bare from a custom header', () => {
    expect(presentedToken({ authorization: 'Bearer abc' }, 'authorization')).toBe('abc');
    expect(presentedToken({ authorization: 'bearer   abc' }, 'authorization')).toBe('abc');
    expect(presentedToken({ authorization: 'Basic abc' }, 'authorization')).toBeUndefined();
    expect(presentedToken({ authorization: 'abc' }, 'authorization')).toBeUndefined();
    expect(presentedToken({ 'x-ingress-token': 'abc' }, 'x-ingress-token')).toBe('abc');
    expect(presentedToken({ authorization: 'Bearer abc' }, 'x-ingress-token')).toBeUndefined();
  });

  it('comes from the secret as a string or {"token"}, at least 16 characters, and errors name the secret only', () => {
    expect(parseTokenSecret('s', 'sixteen-chars-ok')).toBe('sixteen-chars-ok');
    expect(parseTokenSecret('s', '{"token":"sixteen-chars-ok"}')).toBe('sixteen-chars-ok');
    expect(() => parseTokenSecret('s', 'short-secret')).toThrow('secret s: the token must be at least 16 characters');
    expect(() => parseTokenSecret('s', '{"tok":"sixteen-chars-ok"}')).toThrow('secret s has no "token" string');
  });

  it('is read again after a mismatch at most once a minute, and after its TTL', async () => {
    let now = 0;
    let reads = 0;
    const source = new TokenSource(
      async () => `token-${++reads}`,
      300_000,
      () => now,
    );
    expect(await source.current()).toBe('token-1');
    expect(await source.reread()).toBeUndefined();
    now = 61_000;
    expect(await source.reread()).toBe('token-2');
    now = 200_000;
    expect(await source.current()).toBe('token-2');
    now = 400_000;
    expect(await source.current()).toBe('token-3');
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const source = new TokenSource(
      async () => (fail ? Promise.reject(new Error('down')) : 'token-ok'),
      300_000,
      () => 0,
    );
    await expect(source.current()).rejects.toThrow('down');
    fail = false;
    expect(await source.current()).toBe('token-ok');
  });
});

describe('webhook bodies', () => {
  const event = { specversion: '1.0', id: 'e1', source: '/x', type: 't', data: {} };

  it('are one event, or an array of 1 to 20 objects', () => {
    expect(parseWebhookEvents(JSON.stringify(event), {})).toEqual({ ok: true, value: [event] });
    expect(parseWebhookEvents(JSON.stringify(Array(20).fill(event)), {})).toMatchObject({
      ok: true,
      value: { length: 20 },
    });
    expect(parseWebhookEvents(JSON.stringify({ events: [event, event] }), {})).toEqual({
      ok: true,
      value: [event, event],
    });
    expect(parseWebhookEvents(JSON.stringify({ events: [event, 1] }), {})).toEqual({
      ok: false,
      reason: 'body.events[1] must be a JSON object',
    });
    expect(parseWebhookEvents('[]', {})).toEqual({ ok: false, reason: 'body is an empty batch' });
    expect(parseWebhookEvents(JSON.stringify([event, 'x']), {})).toEqual({
      ok: false,
      reason: 'body[1] must be a JSON object',
    });
    expect(parseWebhookEvents('"x"', {})).toEqual({
      ok: false,
      reason: 'body must be a JSON object or an array of them',
    });
  });

  it('rebuild a binary-mode CloudEvent (ce-* headers, data as the body) in structured form', () => {
    const headers = {
      'ce-specversion': '1.0',
      'ce-id': 'e9',
      'ce-source': '/eg',
      'ce-type': 'failed',
      'content-type': 'application/json',
    };
    expect(parseWebhookEvents('{"project_id":"p"}', headers)).toEqual({
      ok: true,
      value: [
        {
          specversion: '1.0',
          id: 'e9',
          source: '/eg',
          type: 'failed',
          datacontenttype: 'application/json',
          data: { project_id: 'p' },
        },
      ],
    });
  });
});

describe('what goes on the queue', () => {
  it('never quotes the body in a JSON error, and drops attribute values SQS would refuse', async () => {
    const { attributes } = await import('../../../lib/ingress/enqueue.js');
    const parsed = parseWebhookEvents('{"token": "s3cret-value", oops}', {});
    expect(parsed).toEqual({ ok: false, reason: 'body is not valid JSON (at position 26)' });
    expect(Object.keys(attributes({ ingress: 'webhook', event_id: 'bad\u0000id', event_type: '' }))).toEqual([
      'ingress',
    ]);
  });
});
