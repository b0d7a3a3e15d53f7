/**
 * AWS Signature Version 4 for the requests lib/platform/aws-json.ts sends: a
 * body, headers, a path with nothing to encode and no query. It replaces the
 * general signer (`aws4`) on that path because a general signer redoes, on
 * every call, work whose inputs do not change between calls; this one keeps:
 *
 * - the signing key, derived once per UTC day (four HMACs), not per request;
 * - the `x-amz-date` of the current second.
 *
 * What is signed is what AWS's algorithm says, nothing left out: every header
 * the request carries (names in lower case, sorted; values with line breaks
 * and runs of spaces and tabs made one space, and trimmed, as the SDK's signer
 * does), `x-amz-date`, and `x-amz-security-token` when the credentials are
 * temporary. docs/aws-signing.md gives the algorithm step by
 * step and the published vectors the tests check it against.
 *
 * Algorithm: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */

import { createHmac, hash } from 'node:crypto';

/** An access key, its secret and, for temporary credentials (a Lambda's role), the session token. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** A request as it will be sent. */
export interface SigV4Request {
  readonly method: string;
  /** The path as sent, which must need neither encoding nor normalising: `/`, or segments of unreserved characters. */
  readonly path: string;
  /** Every header that will be sent, `host` among them; each name once, in any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The exact body that will be sent. */
  readonly body: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/**
 * A path SigV4 signs as it is (AWS JSON services post to `/`): `/`, or non-empty segments of RFC 3986's unreserved
 * characters, none of them `.` or `..`, with at most a trailing `/`. Anything else AWS would encode or normalise first.
 */
const PATH_AS_SIGNED = /^(?:\/|(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~]+)+\/?)$/;
/** Headers the signer sets; a request that brings its own would be signed with two of them. */
const SET_BY_SIGNER = new Set(['authorization', 'x-amz-date', 'x-amz-security-token']);
/** What a header value needs before it is signed: a line break, a tab, a run of spaces, a space at either end. */
const NOT_CANONICAL = /[\t\r\n]| {2}|^ | $/;

let dateSecond = Number.NaN;
let dateText = '';

/** `YYYYMMDDTHHMMSSZ` in UTC: ISO 8601's basic format, as `x-amz-date` (and Huawei's `X-Sdk-Date`) carry it. */
export function basicIsoDate(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== dateSecond) {
    const iso = new Date(second * 1000).toISOString();
    dateText = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    dateSecond = second;
  }
  return dateText;
}

/** Signs the requests of one set of credentials to one service in one region. */
export class SigV4Signer {
  private keyDay = '';
  private key: Buffer = Buffer.alloc(0);
  private readonly scopeTail: string;
  private readonly credentialPrefix: string;

  private readonly secretAccessKey: string;
  private readonly sessionToken: string | undefined;
  /** The token as it is signed, made canonical once: it is the same on every request. */
  private readonly signedToken: string | undefined;

  /** The credentials are copied: what the signer keeps can never mix an old key with a new one. */
  constructor(
    credentials: AwsCredentials,
    private readonly region: string,
    private readonly service: string,
  ) {
    this.secretAccessKey = credentials.secretAccessKey;
    this.sessionToken = credentials.sessionToken || undefined;
    this.signedToken = this.sessionToken && canonicalValue(this.sessionToken);
    this.scopeTail = `/${region}/${service}/aws4_request`;
    this.credentialPrefix = `${ALGORITHM} Credential=${credentials.accessKeyId}/`;
  }

  /**
   * The headers to send: the request's own, then `x-amz-date`, `x-amz-security-token` (temporary credentials only)
   * and `authorization`. Throws a TypeError for a request this signer cannot sign as it would be sent.
   */
  sign(request: SigV4Request, nowMs: number = Date.now()): Record<string, string> {
    if (!PATH_AS_SIGNED.test(request.path))
      throw new TypeError(
        `path ${JSON.stringify(request.path)} is not one this signer sends unencoded and unnormalised`,
      );
    const amzDate = basicIsoDate(nowMs);
    const sent: Record<string, string> = { ...request.headers, 'x-amz-date': amzDate };
    const token = this.sessionToken;
    if (token) sent['x-amz-security-token'] = token;

    const signed = canonicalHeaders(request.headers, amzDate, this.signedToken);
    const canonical = `${request.method}\n${request.path}\n\n${signed.block}\n${signed.names}\n${hash('sha256', request.body, 'hex')}`;
    const day = amzDate.slice(0, 8);
    const scope = `${day}${this.scopeTail}`;
    const toSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${hash('sha256', canonical, 'hex')}`;
    const signature = createHmac('sha256', this.signingKey(day)).update(toSign).digest('hex');
    sent['authorization'] = `${this.credentialPrefix}${scope}, SignedHeaders=${signed.names}, Signature=${signature}`;
    return sent;
  }

  /** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request"), kept for the day. */
  private signingKey(day: string): Buffer {
    if (day !== this.keyDay) {
      const kDate = hmac(`AWS4${this.secretAccessKey}`, day);
      this.key = hmac(hmac(hmac(kDate, this.region), this.service), 'aws4_request');
      this.keyDay = day;
    }
    return this.key;
  }
}

/**
 * A header value as SigV4 signs it, as the SDK's signer makes it: line breaks become spaces, each run of spaces and
 * tabs one space, and a space at either end goes. Most values need none of it and are returned as they are.
 */
export function canonicalValue(value: string): string {
  if (!NOT_CANONICAL.test(value)) return value;
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** The canonical header block (`name:value\n` each, sorted by name) and the signed names joined by `;`. */
function canonicalHeaders(
  headers: Readonly<Record<string, string>>,
  amzDate: string,
  signedToken: string | undefined,
): { block: string; names: string } {
  const values = new Map<string, string>([['x-amz-date', amzDate]]);
  if (signedToken !== undefined) values.set('x-amz-security-token', signedToken);
  // Own names only: the spread that makes what is sent copies no other.
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (SET_BY_SIGNER.has(lower)) throw new TypeError(`header ${name} is set by the signer, not by the request`);
    if (values.has(lower)) throw new TypeError(`header ${lower} is given twice`);
    values.set(lower, canonicalValue(headers[name]!));
  }
  if (!values.has('host')) throw new TypeError('the request has no host header; SigV4 signs it');
  const names = [...values.keys()].sort();
  let block = '';
  for (const name of names) block += `${name}:${values.get(name)}\n`;
  return { block, names: names.join(';') };
}
