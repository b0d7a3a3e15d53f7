/**
 * SMN signing certificates, fetched over HTTPS only from allowed hosts and kept
 * per container. SMN's guide: download the X.509 certificate from
 * signing_cert_url, always over HTTPS, checking the server's identity
 * (https://support.huaweicloud.com/intl/en-us/usermanual-smn/smn_ug_a9003.html);
 * TLS verification is node's default (the system CAs), never turned off here.
 */

import { X509Certificate } from 'node:crypto';
import { type HostRule, urlProblem } from './host-rules.js';

/** A signing certificate, or why none can be had (`kind` decides the status: 403 or 503). */
export type CertificateResult =
  | { readonly ok: true; readonly certificate: X509Certificate }
  /**
   * `untrusted`: the URL itself is refused (403); `unavailable`: the host could not give us a certificate now (503).
   */
  | { readonly ok: false; readonly kind: 'untrusted' | 'unavailable'; readonly reason: string };

/**
 * Which hosts certificates may come from, the download's timeout, and how long a certificate is kept (default one
 * hour).
 */
export interface CertificateCacheOptions {
  readonly allowedHosts: readonly HostRule[];
  readonly timeoutMs: number;
  readonly ttlMs?: number;
  /** Injected for tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** A PEM certificate is a few KB; anything much larger is not one. */
const MAX_CERTIFICATE_BYTES = 16 * 1024;
/** A handful of regions' certificates at most; the bound keeps a flood of distinct URLs from growing memory. */
const MAX_ENTRIES = 32;

/**
 * The container's SMN signing certificates, by URL: a URL outside the allowed hosts is refused before any download, a
 * certificate is kept for `ttlMs` (a failed download is not), and concurrent asks for one URL share one download.
 */
export class CertificateCache {
  private readonly entries = new Map<string, { promise: Promise<CertificateResult>; fetchedAt: number }>();
  /** Downloads made, for tests and logs. */
  downloads = 0;

  constructor(private readonly options: CertificateCacheOptions) {}

  async get(url: string): Promise<CertificateResult> {
    const problem = urlProblem('signing_cert_url', url, this.options.allowedHosts);
    if (problem) return { ok: false, kind: 'untrusted', reason: problem };
    const now = (this.options.now ?? Date.now)();
    const cached = this.entries.get(url);
    if (cached && now - cached.fetchedAt < (this.options.ttlMs ?? 3_600_000)) return cached.promise;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    const promise = this.download(url).then((result) => {
      // A failed download is not kept: the next delivery (SMN retries after a 5xx) tries again.
      if (!result.ok) this.entries.delete(url);
      return result;
    });
    this.entries.set(url, { promise, fetchedAt: now });
    return promise;
  }

  private async download(url: string): Promise<CertificateResult> {
    this.downloads++;
    const fetchImpl = this.options.fetch ?? fetch;
    let text: string;
    try {
      // redirect: 'error': a redirect could lead to a host we did not allow.
      const response = await fetchImpl(url, { redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs) });
      if (!response.ok)
        return { ok: false, kind: 'unavailable', reason: `signing certificate download answered ${response.status}` };
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.byteLength > MAX_CERTIFICATE_BYTES)
        return { ok: false, kind: 'unavailable', reason: 'signing certificate download is larger than 16 KB' };
      text = new TextDecoder().decode(bytes);
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      return {
        ok: false,
        kind: 'unavailable',
        reason: `signing certificate could not be downloaded (${e.cause?.code ?? e.name})`,
      };
    }
    try {
      return { ok: true, certificate: new X509Certificate(text) };
    } catch {
      return { ok: false, kind: 'unavailable', reason: 'signing certificate download is not an X.509 certificate' };
    }
  }
}
