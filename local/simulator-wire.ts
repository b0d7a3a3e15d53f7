/**
 * How the simulator's answers and faults reach the socket: an answer as
 * Workspace's gateway sends it (JSON, X-Request-Id), a before-state fault in
 * place of an answer, or an after-state fault that loses an answer already
 * decided (docs/workspace-api.md, "What the simulator models").
 */

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AfterFaultKind, BeforeFaultKind } from './simulator-faults.js';
import { type Answer, error } from './workspace-routes.js';

/**
 * How an error body is laid out (docs/workspace-api.md, "Errors"): `error_code`
 * is `{"error_code", "error_msg"}` (the gateway's, the default), `code` is
 * `{"code", "message"}`, `nested` is `{"error": {"code", "message"}}`. Huawei's
 * SDKs read all three, so the client must too.
 */
export type ErrorShape = 'error_code' | 'code' | 'nested';

/** An error answer's body in `shape`; any other answer unchanged. */
export function shapeError(answer: Answer, shape: ErrorShape): Answer {
  if (shape === 'error_code' || answer.status < 400) return answer;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return answer;
  }
  const { error_code: code, error_msg: message } = (parsed ?? {}) as { error_code?: unknown; error_msg?: unknown };
  if (typeof code !== 'string') return answer;
  const body = shape === 'code' ? { code, message } : { error: { code, message } };
  return { status: answer.status, body: JSON.stringify(body) };
}

export function send(res: ServerResponse, answer: Answer, shape: ErrorShape = 'error_code'): void {
  if (res.destroyed) return;
  const { status, body } = shapeError(answer, shape);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': randomBytes(16).toString('hex'),
  });
  res.end(body);
}

/** Answers (or drops) a request in place of Workspace; nothing was done. */
export async function deliverBeforeFault(
  res: ServerResponse,
  kind: BeforeFaultKind,
  stallMs: number,
  shape?: ErrorShape,
): Promise<void> {
  switch (kind) {
    case 'reset':
      res.socket?.destroy();
      return;
    case 'stall':
      await holdThenDrop(res, stallMs);
      return;
    case 'malformed':
      return send(res, { status: 200, body: '{"task_id": "unterminated' }, shape);
    case 'wks-busy':
      return send(res, error(500, 'WKS.00211401', 'Operation failed, try again later.'), shape);
    case '429':
      res.setHeader('retry-after', '1');
      return send(res, error(429, 'APIG.0308', 'The request is throttled.'), shape);
    case '500':
      return send(res, error(500, 'APIG.0601', 'Internal server error.'), shape);
    default:
      return send(res, error(Number(kind), 'APIG.0201', 'Backend unavailable.'), shape);
  }
}

/** Workspace did the work; the caller never gets a usable answer for it. */
export async function loseAnswer(
  res: ServerResponse,
  kind: AfterFaultKind,
  answer: Answer,
  stallMs: number,
  shape?: ErrorShape,
): Promise<void> {
  switch (kind) {
    case 'stall-after':
      return holdThenDrop(res, stallMs);
    case 'reset-after':
      res.socket?.destroy();
      return;
    case 'garbled-after':
      // The whole (shortened) body arrives, so the client fails on the JSON, not on the transfer.
      return send(
        res,
        { status: answer.status, body: answer.body.slice(0, Math.max(1, Math.floor(answer.body.length / 2))) },
        shape,
      );
    case '5xx-after':
      return send(res, error(502, 'APIG.0201', 'Backend timeout.'), shape);
  }
}

/** Keeps the socket open with no answer for `ms` (or until the client gives up), then destroys it. */
function holdThenDrop(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      res.socket?.off('close', finish);
      if (!res.destroyed) res.socket?.destroy();
      resolve();
    };
    const timer = setTimeout(finish, ms);
    if (!res.socket || res.socket.destroyed) finish();
    else res.socket.once('close', finish);
  });
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
