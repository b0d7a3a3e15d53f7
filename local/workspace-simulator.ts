/**
 * A local Huawei Cloud Workspace: the script-execution calls of
 * docs/workspace-api.md over real HTTP on 127.0.0.1. The gateway's part is
 * here (signature verification via gateway-auth.ts, key lockout, faults,
 * counters); what Workspace keeps and what a retry does is in
 * workspace-state.ts; which fault hits which request is in simulator-faults.ts.
 * `npm start`, the tests and the benchmark run against it.
 *
 * @example
 * const sim = await WorkspaceSimulator.start({ credentials: [{ ak: 'AK', sk: 'SK' }] });
 * sim.seedRecords(projectId, [{ id: 'r1', status: 'FAILED', script_task_id: 't1' }]);
 * sim.forceFaults('stall-after'); // the next retry is applied, then its answer is lost
 * // point WORKSPACE_ENDPOINTS at {"cn-north-4": sim.url}
 * await sim.stop();
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ExecutionRecord } from '../lib/workspace/types.js';
import { GatewayKeys, type SimulatorCredential } from './key-lockout.js';
import type { TaskType } from './record-filters.js';
import type { AppliedRetry } from './retry-log.js';
import {
  chooseFault,
  type FaultKind,
  type FaultRates,
  type PlannedFault,
  type SimulatorRoute,
} from './simulator-faults.js';
import { deliverBeforeFault, type ErrorShape, loseAnswer, readBody, send, sleep } from './simulator-wire.js';
import type { DesktopFleet } from './workspace-desktops.js';
import { answer, routeOf } from './workspace-routes.js';
import { type RunEnd, WorkspaceState, type WorkspaceStateOptions } from './workspace-state.js';

export type { SimulatorCredential } from './key-lockout.js';
export type { AppliedRetry, Rerun } from './retry-log.js';
export type { FaultKind, FaultRates, ForcedFault, PlannedFault, SimulatorRoute } from './simulator-faults.js';
export type { ErrorShape } from './simulator-wire.js';

export interface SimulatorOptions extends WorkspaceStateOptions {
  readonly credentials?: readonly SimulatorCredential[];
  readonly faults?: FaultRates;
  /** Random source for faults (seed it for repeatable runs): one number per request. */
  readonly random?: () => number;
  /** Allowed clock skew of X-Sdk-Date (default 15 minutes). */
  readonly maxSkewMs?: number;
  /** How error bodies are laid out (default `error_code`: `{"error_code", "error_msg"}`). */
  readonly errorShape?: ErrorShape;
  /**
   * Called as each request arrives, before anything else: a test changes Workspace's state here
   * as other clients would between two calls (runs that end, records re-run by someone else).
   */
  readonly onRequest?: (
    request: { readonly route: SimulatorRoute; readonly routeCall: number; readonly query: URLSearchParams },
    state: WorkspaceState,
  ) => void;
}

/** Kept for callers of the first simulator: an applied retry. */
export type RetryRecord = AppliedRetry;

const DEFAULT_STALL_MS = 30_000;

export class WorkspaceSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Records, tasks and the retry log; drive it directly to seed or inspect. */
  readonly state: WorkspaceState;
  /** Requests received, by `METHOD route` (route with ids replaced by `{id}`). */
  readonly requestsByRoute = new Map<string, number>();
  /** Faults injected, by kind. */
  readonly faultsInjected = new Map<FaultKind, number>();
  connectionsOpened = 0;
  requestsReceived = 0;
  faults: FaultRates;

  private plan: PlannedFault[] = [];
  private readonly callsByRoute = new Map<SimulatorRoute, number>();
  private readonly keys: GatewayKeys;
  private readonly sockets = new Set<Socket>();
  private readonly random: () => number;
  private readonly errorShape: ErrorShape;
  private readonly onRequest: SimulatorOptions['onRequest'];

  private constructor(
    private readonly server: Server,
    options: SimulatorOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.state = new WorkspaceState(options);
    this.faults = options.faults ?? {};
    this.random = options.random ?? Math.random;
    this.errorShape = options.errorShape ?? 'error_code';
    this.onRequest = options.onRequest;
    this.keys = new GatewayKeys(options.credentials ?? [], options.maxSkewMs ?? 15 * 60_000);
  }

  static async start(options: SimulatorOptions = {}): Promise<WorkspaceSimulator> {
    let simulator: WorkspaceSimulator | undefined;
    // A client that gives up mid-request aborts the body read: that request is simply over.
    // Request lines up to the gateway's 32 KB (a list of 500 desktop ids takes 24 KB; Node's default stops at 16 KB).
    const server = createServer(
      { maxHeaderSize: 64 * 1024 },
      (req, res) => void simulator!.handle(req, res).catch(() => res.destroy()),
    );
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    simulator = new WorkspaceSimulator(server, options);
    server.on('connection', (socket: Socket) => {
      simulator!.connectionsOpened++;
      simulator!.sockets.add(socket);
      socket.on('close', () => simulator!.sockets.delete(socket));
    });
    return simulator;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Desktops: seed them, delete them, plan failed starts, count starts (local/workspace-desktops.ts). */
  get desktops(): DesktopFleet {
    return this.state.desktops;
  }

  /** Every applied retry, in order, including those whose answer a fault lost (`answerLost`). */
  get retries(): AppliedRetry[] {
    return this.state.log.entries;
  }

  /** 401 answers given, by AK. */
  get authFailures(): Map<string, number> {
    return this.keys.authFailures;
  }

  /** Accept this key pair from now on (e.g. a rotated key). */
  addCredential(credential: SimulatorCredential): void {
    this.keys.add(credential);
  }

  /** Refuse this AK from now on (a revoked or rotated-out key). */
  revokeCredential(ak: string): void {
    this.keys.revoke(ak);
  }

  seedRecords(projectId: string, records: readonly ExecutionRecord[]): void {
    this.state.seedRecords(projectId, records);
  }

  seedTask(projectId: string, taskId: string, taskType?: TaskType): void {
    this.state.seedTask(projectId, taskId, taskType);
  }

  recordsOfTask(projectId: string, taskId: string): ExecutionRecord[] {
    return this.state.recordsOfTask(projectId, taskId);
  }

  finishRun(projectId: string, recordId: string, end: RunEnd): ExecutionRecord {
    return this.state.finishRun(projectId, recordId, end);
  }

  /** Applied retries that named this record or task id. */
  retryCount(id: string): number {
    return this.state.log.retryCount(id);
  }

  /** Applied retries that ran this record's execution again (a task retry re-runs each failed record). */
  rerunsOf(recordId: string): number {
    return this.state.log.rerunsOf(recordId);
  }

  /** Applied retries that ran this run (`<record id>#<run number>`, see `state.runKey`) again. */
  rerunsOfRun(runKey: string): number {
    return this.state.log.rerunsOfRun(runKey);
  }

  /** The next requests get these faults, in order; after-state kinds wait for the next retry POST. */
  forceFaults(...kinds: FaultKind[]): void {
    this.plan.push(...kinds.map((kind) => ({ kind })));
  }

  /**
   * Plans faults by call number and/or route, e.g. `{ kind: 'reset-after', route: 'retry', call: 2 }`: the second retry
   * POST.
   */
  planFaults(...entries: PlannedFault[]): void {
    this.plan.push(...entries);
  }

  /** No more injected faults: random rates zeroed, planned faults dropped. */
  clearFaults(): void {
    this.faults = {};
    this.plan = [];
  }

  /**
   * Clears counters, call numbers, the retry log and the desktop actions received (not records, tasks and desktops).
   */
  resetCounters(): void {
    this.state.log.clear();
    this.state.desktops.clearCounters();
    for (const map of [this.requestsByRoute, this.keys.authFailures, this.faultsInjected, this.callsByRoute])
      map.clear();
    this.connectionsOpened = 0;
    this.requestsReceived = 0;
  }

  /** True when the key has been locked out by repeated authentication failures. */
  isLocked(ak: string): boolean {
    return this.keys.isLocked(ak);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://simulator');
    const segments = url.pathname.split('/').slice(1);
    const route = routeOf(method, segments);
    const routeCall = (this.callsByRoute.get(route) ?? 0) + 1;
    this.callsByRoute.set(route, routeCall);
    const position = { route, call: ++this.requestsReceived, routeCall };
    const byRoute = `${method} /${segments.map((s, i) => (i === 1 || i === 3 ? '{id}' : s)).join('/')}`;
    this.requestsByRoute.set(byRoute, (this.requestsByRoute.get(byRoute) ?? 0) + 1);
    this.onRequest?.({ route, routeCall, query: url.searchParams }, this.state);
    const body = await readBody(req);

    if (this.faults.latencyMs) await sleep(this.faults.latencyMs);
    const fault = chooseFault(position, this.plan, this.faults, this.random);
    if (fault?.planned !== undefined) this.plan.splice(fault.planned, 1);
    if (fault) this.faultsInjected.set(fault.kind, (this.faultsInjected.get(fault.kind) ?? 0) + 1);
    const stallMs = this.faults.stallMs ?? DEFAULT_STALL_MS;
    if (fault?.timing === 'before') return deliverBeforeFault(res, fault.kind, stallMs, this.errorShape);

    const verdict = this.keys.authenticate(req, segments, url.search, body);
    const lostBy = fault?.kind;
    const result =
      typeof verdict === 'string'
        ? answer(this.state, { method, segments, query: url.searchParams, body }, { ak: verdict, lostBy })
        : verdict;
    if (fault?.timing === 'after') return loseAnswer(res, fault.kind, result, stallMs, this.errorShape);
    send(res, result, this.errorShape);
  }
}
