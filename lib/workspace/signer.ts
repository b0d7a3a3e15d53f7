/**
 * Huawei Cloud API signing, SDK-HMAC-SHA256 ("AK/SK authentication").
 *
 * The algorithm is Huawei's API signing guide (see docs/workspace-api.md, "Signing"): a
 * canonical request is hashed, wrapped in a string to sign with the
 * X-Sdk-Date, and signed with HMAC-SHA256 under the secret key. One byte off
 * and Huawei answers 401 APIG.0303; five of those in a row lock the key.
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { basicIsoDate } from '../platform/sigv4.js';

/** The algorithm name in the Authorization header and the string to sign. */
export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';
/** The SHA-256 of an empty body, as hex. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** AK/SK, plus the security token that temporary credentials carry. */
export interface SigningCredentials {
  readonly ak: string;
  readonly sk: string;
  readonly securityToken?: string | undefined;
}

/** Query parameters; a repeated key carries an array of values. */
export type QueryParams = Readonly<Record<string, string | readonly string[]>>;

/** Everything that goes into a signature, with the path as raw (decoded) segments. */
export interface RequestToSign {
  readonly method: string;
  /** The Host header as sent: `host` or `host:port`. */
  readonly host: string;
  readonly pathSegments: readonly string[];
  readonly query?: QueryParams | undefined;
  /** Extra headers to sign (e.g. `content-type`). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The exact bytes that will be sent; absent or empty for no body. */
  readonly body?: string | Uint8Array | undefined;
  /** Sent and signed as X-Project-Id, as Huawei's SDK does. */
  readonly projectId?: string | undefined;
  readonly date: Date;
}

/** What a caller puts on the wire: the encoded path and query, and every header to send. */
export interface SignedRequest {
  readonly pathAndQuery: string;
  readonly headers: Record<string, string>;
  readonly signedHeaderNames: readonly string[];
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const ALL_UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

/**
 * Percent-encodes a string the way Huawei's signer does: UTF-8 bytes, only
 * `A-Z a-z 0-9 - . _ ~` left bare, `%XX` in upper case.
 */
export function huaweiEncode(value: string): string {
  if (ALL_UNRESERVED.test(value)) return value;
  let out = '';
  for (const char of value) {
    if (UNRESERVED.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** The path as sent on the request line: each segment encoded, no trailing slash. */
export function encodePath(pathSegments: readonly string[]): string {
  return `/${pathSegments.map(huaweiEncode).join('/')}`;
}

/** The canonical URI: the encoded path with a trailing slash added for signing only. */
export function canonicalUri(pathSegments: readonly string[]): string {
  const path = encodePath(pathSegments);
  return path.endsWith('/') ? path : `${path}/`;
}

/** Keys sorted, a repeated key's values sorted, `k=v` pairs encoded and joined with `&`. */
export function canonicalQuery(query: QueryParams | undefined): string {
  if (!query) return '';
  const pairs: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const raw = query[key]!;
    const values = typeof raw === 'string' ? [raw] : [...raw].sort();
    for (const value of values) pairs.push(`${huaweiEncode(key)}=${huaweiEncode(value)}`);
  }
  return pairs.join('&');
}

/** `YYYYMMDDTHHmmssZ` in UTC, the X-Sdk-Date format. */
export function formatSdkDate(date: Date): string {
  return basicIsoDate(date.getTime());
}

/** Parses an X-Sdk-Date back to a Date, or undefined when it is not in that format. */
export function parseSdkDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The SHA-256 of `data`, as lower-case hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

interface CanonicalParts {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  /** Lower-case name to value, for exactly the signed headers. */
  readonly signedHeaders: Readonly<Record<string, string>>;
  readonly bodyHash: string;
}

/** METHOD, URI, query, header block, header list and body hash, each on its own line. */
export function canonicalRequest(parts: CanonicalParts): string {
  const names = Object.keys(parts.signedHeaders).sort();
  const headerBlock = names.map((name) => `${name}:${parts.signedHeaders[name]!.trim()}\n`).join('');
  return [
    parts.method.toUpperCase(),
    parts.canonicalUri,
    parts.canonicalQuery,
    headerBlock,
    names.join(';'),
    parts.bodyHash,
  ].join('\n');
}

/** The string to sign: the algorithm, the X-Sdk-Date and the canonical request's hash, one per line. */
export function stringToSign(sdkDate: string, canonical: string): string {
  return `${SIGNING_ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

/** The signature: HMAC-SHA256 of the string to sign under the secret key, as hex. */
export function signatureOf(sk: string, toSign: string): string {
  return createHmac('sha256', sk).update(toSign).digest('hex');
}

/**
 * Signs a request: returns the encoded path and query to put on the request
 * line and every header to send (the signed ones plus Authorization).
 *
 * @example
 * const signed = signRequest({ method: 'POST', host, pathSegments: ['v2', projectId, 'script-executions', 'retry'],
 *   headers: { 'content-type': 'application/json' }, body, projectId, date: new Date() }, credentials);
 */
export function signRequest(request: RequestToSign, credentials: SigningCredentials): SignedRequest {
  const sdkDate = formatSdkDate(request.date);
  const signed: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) signed[name.toLowerCase()] = value;
  signed['host'] = request.host;
  signed['x-sdk-date'] = sdkDate;
  if (request.projectId !== undefined) signed['x-project-id'] = request.projectId;
  if (credentials.securityToken) signed['x-security-token'] = credentials.securityToken;

  const body = request.body ?? '';
  const canonical = canonicalRequest({
    method: request.method,
    canonicalUri: canonicalUri(request.pathSegments),
    canonicalQuery: canonicalQuery(request.query),
    signedHeaders: signed,
    bodyHash: body.length === 0 ? EMPTY_BODY_SHA256 : sha256Hex(body),
  });
  const names = Object.keys(signed).sort();
  const signature = signatureOf(credentials.sk, stringToSign(sdkDate, canonical));
  const query = canonicalQuery(request.query);
  return {
    pathAndQuery: `${encodePath(request.pathSegments)}${query ? `?${query}` : ''}`,
    headers: {
      ...signed,
      authorization: `${SIGNING_ALGORITHM} Access=${credentials.ak}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
    },
    signedHeaderNames: names,
  };
}

/** The three fields of an `Authorization: SDK-HMAC-SHA256 …` header. */
export interface AuthorizationHeader {
  readonly access: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/** The parts of an SDK-HMAC-SHA256 Authorization header, or undefined when it is not one. */
export function parseAuthorization(value: string | undefined): AuthorizationHeader | undefined {
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
    value ?? '',
  );
  if (!m) return undefined;
  return { access: m[1]!, signedHeaders: m[2]!.split(';'), signature: m[3]! };
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
