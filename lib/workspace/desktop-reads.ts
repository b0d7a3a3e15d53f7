/**
 * One invocation's view of its failures' desktops (docs/workspace-api.md,
 * "Desktops"): each desktop read once per invocation, and the ids asked for
 * in the same turn of the event loop read together, in as few list requests
 * as fit (the records of one batch reach their desktop check together). An id
 * the list leaves out is asked for alone: a 404 says it is gone. Every call
 * goes through the key gate and the circuit breaker (withKey), and counts in
 * the invocation's error budget. Built per invocation (lib/ways-in/runtime.ts).
 */

import { CircuitOpenError } from './circuit-breakers.js';
import type { PreparedRequest } from './client.js';
import { isNotFound, type WorkspaceDesktops } from './desktop-calls.js';
import { type DesktopAction, type DesktopDetail, type DesktopState, desktopStateOf } from './desktops.js';
import type { ErrorBudget } from './error-budget.js';
import { certainlyNotApplied, describeRefusal, isWorkspaceApiError, type WorkspaceApiError } from './errors.js';
import { type KeyedCalls, KeyRefusedError, withKey } from './key-calls.js';
import type { SigningCredentials } from './signer.js';
import type { ProjectRef } from './types.js';

/** A desktop as read now: there (with its state), gone (404), or not read (the call failed: `error` says why). */
export type DesktopReading =
  | { readonly kind: 'present'; readonly state: DesktopState; readonly detail: DesktopDetail }
  | { readonly kind: 'gone'; readonly evidence: string }
  | { readonly kind: 'unreadable'; readonly error: unknown };

/** The desktop calls readings and starts are made with: Workspace's (WorkspaceDesktops), or a model's in tests. */
export type DesktopCalls = Pick<WorkspaceDesktops, 'readDesktops' | 'showDesktop' | 'runDesktops' | 'describeAction'>;

/**
 * What a start (os-start, SOFT) came to. `already`: Workspace refused it
 * because the desktop is starting or on (its `failed_operation_list`, or a
 * 409 WKS.00010032). `not-sent`: it certainly did not reach Workspace (a
 * refused key, an open circuit, a throttle). `unknown`: the answer was lost
 * and it may have started; it is never sent again blindly, the next read
 * says (`powering-on`).
 */
export type StartResult =
  | { readonly kind: 'started'; readonly jobId?: string | undefined; readonly requestId?: string | undefined }
  | { readonly kind: 'already'; readonly evidence: string }
  | { readonly kind: 'gone'; readonly evidence: string }
  | { readonly kind: 'refused'; readonly error: WorkspaceApiError }
  | { readonly kind: 'not-sent'; readonly error: unknown }
  | { readonly kind: 'unknown'; readonly error: unknown };

/** The code of an action a desktop's state denies (docs/workspace-api.md, "Errors of the desktop calls"). */
export const OPERATION_CONFLICT = 'WKS.00010032';

const START = (desktopId: string): DesktopAction => ({ desktopIds: [desktopId], opType: 'os-start', type: 'SOFT' });

interface Pending {
  readonly keys: KeyedCalls;
  readonly project: ProjectRef;
  readonly waiters: Map<string, (reading: DesktopReading) => void>;
}

/**
 * One invocation's desktop reads and starts: each desktop read once, the ids asked for in one turn read together, every
 * call through the key gate and breaker. Build a new one per invocation.
 */
export class InvocationDesktops {
  private readonly read = new Map<string, Promise<DesktopReading>>();
  private pending = new Map<string, Pending>();
  private scheduled = false;
  /** List and detail requests sent (for tests and the bench). */
  requests = 0;

  constructor(
    private readonly calls: DesktopCalls,
    private readonly budget?: ErrorBudget | undefined,
  ) {}

  /** Each desktop's reading: one per desktop per invocation, the ids of one turn read together. */
  async statesOf(
    keys: KeyedCalls,
    project: ProjectRef,
    desktopIds: readonly string[],
  ): Promise<ReadonlyMap<string, DesktopReading>> {
    const readings = await Promise.all(desktopIds.map((id) => this.stateOf(keys, project, id)));
    return new Map(desktopIds.map((id, i) => [id, readings[i]!]));
  }

  stateOf(keys: KeyedCalls, project: ProjectRef, desktopId: string): Promise<DesktopReading> {
    const key = `${project.projectId}#${desktopId}`;
    let reading = this.read.get(key);
    if (!reading) {
      reading = new Promise((resolve) => this.enqueue(keys, project, desktopId, resolve));
      this.read.set(key, reading);
    }
    return reading;
  }

  /** Sends os-start (SOFT) for one desktop; its reading in this invocation is forgotten (it is changing). */
  async start(keys: KeyedCalls, project: ProjectRef, desktopId: string): Promise<StartResult> {
    this.read.delete(`${project.projectId}#${desktopId}`);
    try {
      const answer = await withKey(keys, (credentials) =>
        this.calls.runDesktops(project, START(desktopId), credentials),
      );
      this.budget?.record(true);
      const refused = answer.failed.find((entry) => entry.desktop_id === undefined || entry.desktop_id === desktopId);
      if (refused)
        return { kind: 'already', evidence: `${refused.error_code ?? '-'} ${refused.error_msg ?? ''}`.trim() };
      return { kind: 'started', jobId: answer.jobId, requestId: answer.requestId };
    } catch (error) {
      if (isWorkspaceApiError(error)) this.budget?.record(false);
      return startFailure(error);
    }
  }

  /** The start as it would be sent, for a dry run (no signature, no key). */
  describeStart(project: ProjectRef, desktopId: string, credentials: SigningCredentials): PreparedRequest {
    return this.calls.describeAction(project, START(desktopId), credentials);
  }

  private enqueue(
    keys: KeyedCalls,
    project: ProjectRef,
    desktopId: string,
    resolve: (reading: DesktopReading) => void,
  ): void {
    const group = `${project.projectId}#${keys.endpoint}`;
    const pending = this.pending.get(group) ?? { keys, project, waiters: new Map() };
    pending.waiters.set(desktopId, resolve);
    this.pending.set(group, pending);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const groups = [...this.pending.values()];
      this.pending = new Map();
      for (const each of groups) void this.flush(each);
    });
  }

  /**
   * One list read for the group's ids; each id it leaves out asked for alone. Never rejects: a failure is each id's
   * reading.
   */
  private async flush({ keys, project, waiters }: Pending): Promise<void> {
    const ids = [...waiters.keys()];
    let found: ReadonlyMap<string, DesktopDetail>;
    let missing: readonly string[];
    try {
      this.requests++;
      ({ found, missing } = await withKey(keys, (credentials) => this.calls.readDesktops(project, ids, credentials)));
      this.budget?.record(true);
    } catch (error) {
      if (isWorkspaceApiError(error)) this.budget?.record(false);
      for (const resolve of waiters.values()) resolve({ kind: 'unreadable', error });
      return;
    }
    for (const [id, detail] of found) waiters.get(id)?.({ kind: 'present', state: desktopStateOf(detail), detail });
    await Promise.all(missing.map(async (id) => waiters.get(id)?.(await this.confirm(keys, project, id))));
  }

  /** Desktop detail for an id the list did not give: present after all, or gone (404). */
  private async confirm(keys: KeyedCalls, project: ProjectRef, desktopId: string): Promise<DesktopReading> {
    try {
      this.requests++;
      const detail = await withKey(keys, (credentials) => this.calls.showDesktop(project, desktopId, credentials));
      this.budget?.record(true);
      return { kind: 'present', state: desktopStateOf(detail), detail };
    } catch (error) {
      if (isNotFound(error)) {
        this.budget?.record(true);
        return { kind: 'gone', evidence: describeRefusal(error as WorkspaceApiError) };
      }
      if (isWorkspaceApiError(error)) this.budget?.record(false);
      return { kind: 'unreadable', error };
    }
  }
}

function startFailure(error: unknown): StartResult {
  if (error instanceof KeyRefusedError || error instanceof CircuitOpenError) return { kind: 'not-sent', error };
  if (!isWorkspaceApiError(error)) return { kind: 'not-sent', error };
  if (error.code === OPERATION_CONFLICT) return { kind: 'already', evidence: describeRefusal(error) };
  if (isNotFound(error)) return { kind: 'gone', evidence: describeRefusal(error) };
  if (error.kind === 'auth' || certainlyNotApplied(error)) return { kind: 'not-sent', error };
  if (error.kind === 'permanent') return { kind: 'refused', error };
  return { kind: 'unknown', error };
}
