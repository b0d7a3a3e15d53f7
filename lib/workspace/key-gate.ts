/**
 * Key safety at any concurrency. Huawei's API gateway locks an access key
 * after more than five refused signatures in a row (docs/key-safety.md), and
 * a locked key also breaks every other tool that shares it. So a key fingerprint
 * this container has not seen accepted sends ONE call first; every other call
 * with that version waits for its answer. An acceptance opens the gate for the
 * container; a refusal (a 401 that a fresh read of the secret did not cure)
 * closes it for the cool-down, here and, through SharedRefusals, in every
 * container. Time comes from an injected clock so the cool-down is testable.
 */

import { createHash } from 'node:crypto';
import type { SigningCredentials } from './signer.js';

/**
 * A key fingerprint's fingerprint: sha256 over the access key, the secret key and
 * the token, so any new value in the secret is a new version, and the
 * fingerprint (stored and logged) can never be turned back into the key.
 */
export function keyFingerprintOf(credentials: SigningCredentials): string {
  const material = ['workspace-key-version', credentials.ak, credentials.sk, credentials.securityToken ?? ''].join(
    '\0',
  );
  return createHash('sha256').update(material).digest('hex').slice(0, 32);
}

/** Refusals shared by every container (lib/workspace/key-refusals.ts keeps them in the ledger table). */
export interface SharedRefusals {
  /** Until when (epoch ms) the fleet refuses this key fingerprint; 0 when it does not. */
  refusedUntil(fingerprint: string): Promise<number>;
  record(fingerprint: string, refusedUntil: number): Promise<void>;
}

/** What a call with an admitted key fingerprint reports: exactly one of these (later ones are ignored). */
export interface KeyPass {
  readonly fingerprint: string;
  /** True when this call is the one that finds out whether the key fingerprint is accepted. */
  readonly probe: boolean;
  /** Workspace accepted the signature: the gate opens for the container. */
  accepted(): void;
  /** Workspace refused it after a fresh read of the secret: closed here and, when `share`, in the fleet. */
  refused(share?: boolean): Promise<void>;
  /** The call said nothing about the key (no call, a transient error): the next waiting call probes. */
  release(): void;
  /** True once the gate refuses this key fingerprint: a pass given before that must not be used for a call now. */
  closed(): boolean;
}

/** Go with a pass that reports the call's outcome, or refused for `retryAfterMs`. */
export type Admission =
  | { readonly kind: 'go'; readonly pass: KeyPass }
  | { readonly kind: 'refused'; readonly retryAfterMs: number };

/** How long a refused key fingerprint is not used, and the clock. */
export interface KeyGateOptions {
  /** How long a refused key fingerprint is not used (AUTH_COOLDOWN_SECONDS). */
  readonly cooldownMs: number;
  readonly now?: () => number;
}

interface KeyState {
  accepted: boolean;
  /** Epoch ms until which the version is not used. */
  refusedUntil: number;
  /** Set while one call probes; resolved when it reports. */
  probe?: Promise<void> | undefined;
  endProbe?: (() => void) | undefined;
}

/** The container's gate: one per runtime, kept across invocations. */
export class KeyGate {
  private readonly states = new Map<string, KeyState>();
  private readonly now: () => number;

  constructor(private readonly options: KeyGateOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  /** One invocation's view of the gate: the shared refusal of each key fingerprint is read at most once in it. */
  forInvocation(shared?: SharedRefusals, onStoreError?: (error: unknown) => void): InvocationKeyGate {
    return new InvocationKeyGate(this, shared, onStoreError);
  }

  /**
   * Admits a call with this key fingerprint: at once when the version was accepted
   * here, after the probing call's answer when one is out, as the probe when
   * none is; refused while the version is refused here or in the fleet.
   */
  async admit(
    fingerprint: string,
    sharedUntil: () => Promise<number>,
    share: (until: number) => Promise<void>,
  ): Promise<Admission> {
    const state = this.state(fingerprint);
    if (state.refusedUntil > this.now()) return this.refusal(state);
    for (;;) {
      const fleetUntil = await sharedUntil();
      // Nothing below awaits until this call returns or waits: no other call can slip in between the checks.
      state.refusedUntil = Math.max(state.refusedUntil, fleetUntil);
      if (state.refusedUntil > this.now()) return this.refusal(state);
      if (state.accepted) return { kind: 'go', pass: this.pass(fingerprint, state, false, share) };
      if (state.probe) {
        await state.probe;
        continue;
      }
      let resolve!: () => void;
      state.probe = new Promise<void>((r) => (resolve = r));
      state.endProbe = () => {
        state.probe = undefined;
        state.endProbe = undefined;
        resolve();
      };
      return { kind: 'go', pass: this.pass(fingerprint, state, true, share) };
    }
  }

  private refusal(state: KeyState): Admission {
    state.accepted = false;
    return { kind: 'refused', retryAfterMs: state.refusedUntil - this.now() };
  }

  private pass(fingerprint: string, state: KeyState, probe: boolean, share: (until: number) => Promise<void>): KeyPass {
    let reported = false;
    const report = (): boolean => {
      if (reported) return false;
      reported = true;
      return true;
    };
    const endProbe = () => {
      if (probe) state.endProbe?.();
    };
    return {
      fingerprint,
      probe,
      accepted: () => {
        if (!report()) return;
        state.accepted = true;
        endProbe();
      },
      refused: async (shareIt = true) => {
        if (!report()) return;
        const now = this.now();
        const first = state.refusedUntil <= now;
        state.refusedUntil = Math.max(state.refusedUntil, now + this.options.cooldownMs);
        state.accepted = false;
        endProbe();
        // Only the call that closed the gate tells the fleet; the others were answered the same.
        if (first && shareIt) await share(state.refusedUntil);
      },
      release: () => {
        if (report()) endProbe();
      },
      closed: () => state.refusedUntil > this.now(),
    };
  }

  private state(fingerprint: string): KeyState {
    let state = this.states.get(fingerprint);
    if (!state) {
      state = { accepted: false, refusedUntil: 0 };
      this.states.set(fingerprint, state);
    }
    return state;
  }
}

/**
 * The gate as one invocation sees it: the fleet's refusal of a key fingerprint is
 * read once (the first admission of that version waits for it, the others
 * share it); a store that cannot be read or written counts as "no refusal",
 * because this container's own gate still lets only one call through.
 */
export class InvocationKeyGate {
  private readonly reads = new Map<string, Promise<number>>();

  constructor(
    private readonly gate: KeyGate,
    private readonly shared: SharedRefusals | undefined,
    private readonly onStoreError: (error: unknown) => void = () => undefined,
  ) {}

  admit(fingerprint: string): Promise<Admission> {
    return this.gate.admit(
      fingerprint,
      () => this.fleetUntil(fingerprint),
      (until) => this.share(fingerprint, until),
    );
  }

  private fleetUntil(fingerprint: string): Promise<number> {
    let read = this.reads.get(fingerprint);
    if (!read) {
      read = this.shared
        ? this.shared.refusedUntil(fingerprint).catch((error: unknown) => (this.onStoreError(error), 0))
        : Promise.resolve(0);
      this.reads.set(fingerprint, read);
    }
    return read;
  }

  private async share(fingerprint: string, until: number): Promise<void> {
    await this.shared?.record(fingerprint, until).catch((error: unknown) => this.onStoreError(error));
  }
}
