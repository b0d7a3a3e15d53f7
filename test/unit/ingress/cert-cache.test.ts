import selfsigned from 'selfsigned';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateCache } from '../../../lib/ingress/cert-cache.js';
import { parseHostRule } from '../../../lib/ingress/host-rules.js';

const URL_OK = 'https://smn.cn-north-4.myhuaweicloud.com/smn/SMN_cn-north-4_a.pem';
let pem: string;

beforeAll(async () => {
  pem = (await selfsigned.generate([{ name: 'commonName', value: 'smn' }], { keySize: 2048, algorithm: 'sha256' }))
    .cert;
});

/** A fetch that answers from a script and records what it was asked. */
function scripted(answers: Array<() => Response | Promise<Response>>) {
  const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
  const fetchImpl = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return answers[Math.min(calls.length - 1, answers.length - 1)]!();
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

const cache = (fetchImpl: typeof fetch, now = () => 0) =>
  new CertificateCache({
    allowedHosts: [parseHostRule('smn.*.myhuaweicloud.com')!],
    timeoutMs: 1000,
    fetch: fetchImpl,
    now,
  });

describe('the certificate cache', () => {
  it('downloads once for concurrent and later deliveries, without following redirects', async () => {
    const { calls, fetchImpl } = scripted([() => new Response(pem)]);
    const certificates = cache(fetchImpl);
    const results = await Promise.all([certificates.get(URL_OK), certificates.get(URL_OK), certificates.get(URL_OK)]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.init?.redirect).toBe('error');
  });

  it('never asks a host that is not allowed', async () => {
    const { calls, fetchImpl } = scripted([() => new Response(pem)]);
    expect(await cache(fetchImpl).get('https://smn.example.com/x.pem')).toMatchObject({ ok: false, kind: 'untrusted' });
    expect(calls).toHaveLength(0);
  });

  it('does not keep a failed download: the next delivery tries again', async () => {
    const { calls, fetchImpl } = scripted([() => new Response('no', { status: 500 }), () => new Response(pem)]);
    const certificates = cache(fetchImpl);
    expect(await certificates.get(URL_OK)).toEqual({
      ok: false,
      kind: 'unavailable',
      reason: 'signing certificate download answered 500',
    });
    expect((await certificates.get(URL_OK)).ok).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it('refuses an answer that is too large or not a certificate, and downloads again after an hour', async () => {
    const { fetchImpl: big } = scripted([() => new Response('x'.repeat(17 * 1024))]);
    expect(await cache(big).get(URL_OK)).toMatchObject({
      ok: false,
      reason: 'signing certificate download is larger than 16 KB',
    });
    const { fetchImpl: garbage } = scripted([
      () => new Response('-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----'),
    ]);
    expect(await cache(garbage).get(URL_OK)).toMatchObject({
      ok: false,
      reason: 'signing certificate download is not an X.509 certificate',
    });
    let now = 0;
    const { calls, fetchImpl } = scripted([() => new Response(pem)]);
    const certificates = cache(fetchImpl, () => now);
    await certificates.get(URL_OK);
    now = 3_599_000;
    await certificates.get(URL_OK);
    now = 3_600_001;
    await certificates.get(URL_OK);
    expect(calls).toHaveLength(2);
  });
});
