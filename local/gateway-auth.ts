/**
 * How the simulator checks an SDK-HMAC-SHA256 signature, as Huawei's API
 * gateway does (docs/workspace-api.md, "Signing"): the request as received is canonicalised again (each path
 * segment decoded and encoded once, the query sorted, the signed headers as
 * sent, the body hashed) and signed with the secret key of the AK it names.
 */

import {
  canonicalRequest,
  EMPTY_BODY_SHA256,
  huaweiEncode,
  parseAuthorization,
  parseSdkDate,
  sha256Hex,
  signatureOf,
  signaturesEqual,
  stringToSign,
} from '../lib/workspace/signer.js';

export interface ReceivedRequest {
  readonly method: string;
  /** Path segments as they came on the request line (still percent-encoded). */
  readonly segments: readonly string[];
  /** The raw query string, with its leading `?` (or empty). */
  readonly search: string;
  readonly header: (name: string) => string | undefined;
  readonly body: Buffer;
}

export interface KnownKey {
  readonly sk: string;
  readonly securityToken?: string | undefined;
}

export type Verdict =
  | { readonly ok: true; readonly ak: string }
  | { readonly ok: false; readonly ak?: string | undefined; readonly code: string; readonly message: string };

export function verifySignature(
  req: ReceivedRequest,
  keyOf: (ak: string) => KnownKey | undefined,
  maxSkewMs: number,
  now = Date.now(),
): Verdict {
  const auth = parseAuthorization(req.header('authorization'));
  if (!auth)
    return {
      ok: false,
      code: 'APIG.0301',
      message: 'Incorrect IAM authentication information: no SDK-HMAC-SHA256 Authorization header.',
    };
  const refuse = (code: string, message: string): Verdict => ({ ok: false, ak: auth.access, code, message });
  const key = keyOf(auth.access);
  if (!key) return refuse('APIG.0301', 'Incorrect IAM authentication information: unknown access key.');
  const sdkDate = parseSdkDate(req.header('x-sdk-date') ?? '');
  if (!sdkDate || Math.abs(sdkDate.getTime() - now) > maxSkewMs) {
    return refuse(
      'APIG.0303',
      'Incorrect app authentication information: X-Sdk-Date missing or more than 15 minutes off.',
    );
  }
  if (!auth.signedHeaders.includes('host') || !auth.signedHeaders.includes('x-sdk-date')) {
    return refuse('APIG.0303', 'Incorrect app authentication information: host and x-sdk-date must be signed.');
  }
  if (key.securityToken !== undefined && req.header('x-security-token') !== key.securityToken) {
    return refuse('APIG.0303', 'Incorrect app authentication information: security token mismatch.');
  }
  const signedHeaders: Record<string, string> = {};
  for (const name of auth.signedHeaders) signedHeaders[name] = req.header(name) ?? '';
  const canonical = canonicalRequest({
    method: req.method,
    canonicalUri: `/${req.segments.map((s) => huaweiEncode(safeDecode(s))).join('/')}/`,
    canonicalQuery: canonicalQueryFromSearch(req.search),
    signedHeaders,
    bodyHash: req.body.length === 0 ? EMPTY_BODY_SHA256 : sha256Hex(req.body),
  });
  const expected = signatureOf(key.sk, stringToSign(req.header('x-sdk-date')!, canonical));
  if (!signaturesEqual(expected, auth.signature))
    return refuse('APIG.0303', 'Incorrect app authentication information: signature mismatch.');
  return { ok: true, ak: auth.access };
}

/** The access key an Authorization header names, if it is one. */
export function accessKeyOf(authorization: string | undefined): string | undefined {
  return parseAuthorization(authorization)?.access;
}

function canonicalQueryFromSearch(search: string): string {
  if (search.length <= 1) return '';
  const byKey = new Map<string, string[]>();
  for (const pair of search.slice(1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : safeDecode(pair.slice(eq + 1));
    byKey.set(key, [...(byKey.get(key) ?? []), value]);
  }
  return [...byKey.keys()]
    .sort()
    .flatMap((key) =>
      byKey
        .get(key)!
        .sort()
        .map((value) => `${huaweiEncode(key)}=${huaweiEncode(value)}`),
    )
    .join('&');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
