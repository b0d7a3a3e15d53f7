/**
 * The HTTP side of answering on dynalite's server as dynalite does: reading a body within its limit, replaying a
 * read request to its listener, and sending JSON answers with its headers (request id, CRC32, content type).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { isDynaliteError } from './dynalite-internals.js';

const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** The request's body, or undefined once it has answered 413 for a body over dynalite's limit. */
export function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_REQUEST_BYTES) {
        req.removeAllListeners();
        res.statusCode = 413;
        res.end();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The request again, its body already read, for dynalite's listener to read as if it had just arrived. */
export function replayed(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from(body.length > 0 ? [body] : []);
  return Object.assign(replay, { headers: req.headers, url: req.url, method: req.method, socket: req.socket }) as never;
}

/** Answers as dynalite does: a request id, the body's CRC32, the request's JSON content type. */
export function send(req: IncomingMessage, res: ServerResponse, data: unknown, statusCode = 200): void {
  const body = JSON.stringify(data);
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  res.statusCode = statusCode;
  res.setHeader('x-amzn-RequestId', requestId());
  res.setHeader('x-amz-crc32', crc32(body));
  res.setHeader('Content-Type', contentType === 'application/x-amz-json-1.0' ? contentType : 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body, 'utf8'));
  res.end(body);
}

/** A 52-character request id like dynalite's. */
function requestId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(39)))
    .toString('base64')
    .toUpperCase()
    .replace(/\+|\//g, '0');
}

/** Answers `err`: dynalite's own errors as they are, anything else as a 500. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (isDynaliteError(err)) return send(req, res, err.body, err.statusCode);
  const message = err instanceof Error ? err.message : String(err);
  send(req, res, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message }, 500);
}

/** Whether dynalite would read this request at all (a JSON POST); others go to it to answer as it does. */
export function isJsonPost(req: IncomingMessage): boolean {
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  return req.method === 'POST' && (contentType === 'application/json' || contentType === 'application/x-amz-json-1.0');
}

/** Whether the request carries a SigV4 signature (header or query), as dynalite requires. */
export function hasAuthentication(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  if (auth) return auth.trim().startsWith('AWS4-');
  return new URL(req.url ?? '/', 'http://localhost').searchParams.has('X-Amz-Algorithm');
}
