/**
 * The simulated gateway's keys: which AK/SK pairs it accepts, and the lockout
 * bookkeeping around the pure signature check of gateway-auth.ts. "More than
 * five consecutive AK/SK authentication failures lock the key for five
 * minutes" (docs/workspace-api.md, "Errors").
 */

import type { IncomingMessage } from 'node:http';
import { accessKeyOf, verifySignature } from './gateway-auth.js';
import { header } from './simulator-wire.js';
import { type Answer, error } from './workspace-routes.js';

export interface SimulatorCredential {
  readonly ak: string;
  readonly sk: string;
  readonly securityToken?: string;
}

const LOCKOUT_THRESHOLD = 5;
const LOCKOUT_MS = 5 * 60_000;

export class GatewayKeys {
  /** 401 answers given, by AK. */
  readonly authFailures = new Map<string, number>();
  private readonly credentials = new Map<string, SimulatorCredential>();
  private readonly consecutiveFailures = new Map<string, number>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(
    credentials: readonly SimulatorCredential[],
    private readonly maxSkewMs: number,
  ) {
    for (const credential of credentials) this.add(credential);
  }

  add(credential: SimulatorCredential): void {
    this.credentials.set(credential.ak, credential);
  }

  revoke(ak: string): void {
    this.credentials.delete(ak);
  }

  isLocked(ak: string): boolean {
    return (this.lockedUntil.get(ak) ?? 0) > Date.now();
  }

  /** The AK when the SDK-HMAC-SHA256 signature holds; otherwise the 401 to answer. */
  authenticate(req: IncomingMessage, segments: readonly string[], search: string, body: Buffer): string | Answer {
    const named = accessKeyOf(header(req, 'authorization'));
    if (named && this.isLocked(named))
      return this.refuse(named, 'APIG.0301', 'Incorrect IAM authentication information: the access key is locked.');
    const verdict = verifySignature(
      { method: req.method ?? 'GET', segments, search, header: (name) => header(req, name), body },
      (ak) => this.credentials.get(ak),
      this.maxSkewMs,
    );
    if (!verdict.ok) return this.refuse(verdict.ak, verdict.code, verdict.message);
    this.consecutiveFailures.set(verdict.ak, 0);
    return verdict.ak;
  }

  private refuse(ak: string | undefined, code: string, message: string): Answer {
    if (ak) {
      this.authFailures.set(ak, (this.authFailures.get(ak) ?? 0) + 1);
      const streak = (this.consecutiveFailures.get(ak) ?? 0) + 1;
      this.consecutiveFailures.set(ak, streak);
      if (streak > LOCKOUT_THRESHOLD) this.lockedUntil.set(ak, Date.now() + LOCKOUT_MS);
    }
    return error(401, code, message);
  }
}
