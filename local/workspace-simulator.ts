import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { accessKeyOf, verifySignature } from './gateway-auth.js';
import type { ExecutionRecord } from '../lib/workspace-types.js';

/**
 * A local Huawei Cloud Workspace: the script-execution calls of
 * WORKSPACE_API.md over real HTTP on 127.0.0.1, with signature verification
 * as the API gateway does it, state (records, tasks, retries), counters, and
 * fault injection. `npm start`, the tests and the benchmark run against it.
 *
 * @example
 * const sim = await WorkspaceSimulator.start({ credentials: [{ ak: 'AK', sk: 'SK' }] });
 * sim.seedRecords(projectId, [{ id: 'r1', status: 'FAILED', script_task_id: 't1' }]);
 * // point WORKSPACE_ENDPOINTS at {"cn-north-4": sim.url}
 * await sim.stop();
 */

export interface SimulatorCredential {
  readonly ak: string;
  readonly sk: string;
  readonly securityToken?: string;
}

/** Random faults, each a share of requests (0–1), applied before any state changes. */
export interface FaultRates {
  readonly latencyMs?: number;
  readonly throttle429?: number;
  readonly error500?: number;
  readonly unavailable503?: number;
  readonly reset?: number;
  readonly malformed?: number;
  readonly stall?: number;
  /** How long a stall lasts (default 30 s: past any client timeout). */
  readonly stallMs?: number;
}

export type ForcedFault = '429' | '500' | '502' | '503' | '504' | 'reset' | 'malformed' | 'stall' | 'wks-busy';

export interface SimulatorOptions {
  readonly credentials?: readonly SimulatorCredential[];
  readonly faults?: FaultRates;
  /** Random source for faults and ids (seed it for repeatable runs). */
  readonly random?: () => number;
  /** Allowed clock skew of X-Sdk-Date (default 15 minutes). */
  readonly maxSkewMs?: number;
  /** Treat every record and task id as a known failed one (benchmarks: no seeding of thousands of ids). */
  readonly acceptAnyId?: boolean;
}

/** One accepted retry, as the simulator recorded it. */
export interface RetryRecord {
  readonly projectId: string;
  readonly target: { readonly recordId?: string; readonly taskId?: string };
  readonly newTaskId: string;
  readonly ak: string;
  readonly at: Date;
}

interface ProjectState {
  readonly records: Map<string, ExecutionRecord>;
  readonly tasks: Set<string>;
}

const LOCKOUT_THRESHOLD = 5;
const LOCKOUT_MS = 5 * 60_000;

export class WorkspaceSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every accepted retry, in order. */
  readonly retries: RetryRecord[] = [];
  /** Requests received, by `METHOD route` (route with ids replaced by `{id}`). */
  readonly requestsByRoute = new Map<string, number>();
  /** 401 answers given, by AK. */
  readonly authFailures = new Map<string, number>();
  connectionsOpened = 0;
  requestsReceived = 0;
  /** Faults injected, by kind. */
  readonly faultsInjected = new Map<string, number>();
  faults: FaultRates;

  private readonly credentials = new Map<string, SimulatorCredential>();
  private readonly projects = new Map<string, ProjectState>();
  private readonly forced: ForcedFault[] = [];
  private readonly consecutiveAuthFailures = new Map<string, number>();
  private readonly lockedUntil = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly random: () => number;
  private readonly maxSkewMs: number;
  private readonly acceptAnyId: boolean;

  private constructor(
    private readonly server: Server,
    options: SimulatorOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.faults = options.faults ?? {};
    this.random = options.random ?? Math.random;
    this.maxSkewMs = options.maxSkewMs ?? 15 * 60_000;
    this.acceptAnyId = options.acceptAnyId ?? false;
    for (const credential of options.credentials ?? []) this.credentials.set(credential.ak, credential);
  }

  static async start(options: SimulatorOptions = {}): Promise<WorkspaceSimulator> {
    let simulator: WorkspaceSimulator | undefined;
    const server = createServer((req, res) => void simulator!.handle(req, res));
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

  /** Accept this key pair from now on (e.g. a rotated key). */
  addCredential(credential: SimulatorCredential): void {
    this.credentials.set(credential.ak, credential);
  }

  /** Refuse this AK from now on (a revoked or rotated-out key). */
  revokeCredential(ak: string): void {
    this.credentials.delete(ak);
  }

  /** Seed execution records of a project; their `script_task_id`s become known tasks. */
  seedRecords(projectId: string, records: readonly ExecutionRecord[]): void {
    const project = this.project(projectId);
    for (const record of records) {
      project.records.set(record.id, record);
      if (record.script_task_id) project.tasks.add(record.script_task_id);
    }
  }

  /** Make a task id known without records (a task-level failure). */
  seedTask(projectId: string, taskId: string): void {
    this.project(projectId).tasks.add(taskId);
  }

  /** The next requests get these faults, in order, whatever the random rates say. */
  forceFaults(...faults: ForcedFault[]): void {
    this.forced.push(...faults);
  }

  /** No more injected faults: random rates zeroed, forced faults dropped. */
  clearFaults(): void {
    this.faults = {};
    this.forced.length = 0;
  }

  /** How many retries were accepted for a record or task id. */
  retryCount(id: string): number {
    return this.retries.filter((r) => r.target.recordId === id || r.target.taskId === id).length;
  }

  /** Clears counters (not state). */
  resetCounters(): void {
    this.retries.length = 0;
    this.requestsByRoute.clear();
    this.authFailures.clear();
    this.connectionsOpened = 0;
    this.requestsReceived = 0;
  }

  private project(projectId: string): ProjectState {
    let state = this.projects.get(projectId);
    if (!state) {
      state = { records: new Map(), tasks: new Set() };
      this.projects.set(projectId, state);
    }
    return state;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requestsReceived++;
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://simulator');
    const segments = url.pathname.split('/').slice(1);
    this.count(req.method ?? 'GET', segments);

    if (this.faults.latencyMs) await sleep(this.faults.latencyMs);
    if (await this.injectFault(res)) return;

    const ak = this.authenticate(req, segments, url.search, body, res);
    if (!ak) return;
    this.route(req.method ?? 'GET', segments, url.searchParams, body, ak, res);
  }

  private count(method: string, segments: readonly string[]): void {
    const route = `${method} /${segments.map((s, i) => (i === 1 || i === 3 ? '{id}' : s)).join('/')}`;
    this.requestsByRoute.set(route, (this.requestsByRoute.get(route) ?? 0) + 1);
  }

  /** Returns true when a fault answered (or dropped) the request. */
  private async injectFault(res: ServerResponse): Promise<boolean> {
    const fault = this.forced.shift() ?? this.randomFault();
    if (fault !== undefined) this.faultsInjected.set(fault, (this.faultsInjected.get(fault) ?? 0) + 1);
    switch (fault) {
      case undefined:
        return false;
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'stall':
        await sleep(this.faults.stallMs ?? 30_000);
        if (!res.destroyed) res.socket?.destroy();
        return true;
      case 'malformed':
        send(res, 200, '{"task_id": "unterminated');
        return true;
      case 'wks-busy':
        sendError(res, 500, 'WKS.00211401', 'Operation failed, try again later.');
        return true;
      case '429':
        res.setHeader('retry-after', '1');
        sendError(res, 429, 'APIG.0308', 'The request is throttled.');
        return true;
      default:
        sendError(res, Number(fault), fault === '500' ? 'APIG.0601' : 'APIG.0201', 'Backend unavailable.');
        return true;
    }
  }

  private randomFault(): ForcedFault | undefined {
    const f = this.faults;
    const roll = this.random();
    let edge = 0;
    for (const [fault, rate] of [
      ['429', f.throttle429],
      ['500', f.error500],
      ['503', f.unavailable503],
      ['reset', f.reset],
      ['malformed', f.malformed],
      ['stall', f.stall],
    ] as const) {
      edge += rate ?? 0;
      if (roll < edge) return fault;
    }
    return undefined;
  }

  /** Verifies the SDK-HMAC-SHA256 signature (local/gateway-auth.ts); answers 401 and returns undefined when it fails. */
  private authenticate(req: IncomingMessage, segments: readonly string[], search: string, body: Buffer, res: ServerResponse): string | undefined {
    const named = accessKeyOf(header(req, 'authorization'));
    if (named && (this.lockedUntil.get(named) ?? 0) > Date.now()) {
      return this.refuse(res, named, 'APIG.0301', 'Incorrect IAM authentication information: the access key is locked.');
    }
    const verdict = verifySignature({ method: req.method ?? 'GET', segments, search, header: (name) => header(req, name), body }, (ak) => this.credentials.get(ak), this.maxSkewMs);
    if (!verdict.ok) return this.refuse(res, verdict.ak, verdict.code, verdict.message);
    this.consecutiveAuthFailures.set(verdict.ak, 0);
    return verdict.ak;
  }

  private refuse(res: ServerResponse, ak: string | undefined, code: string, message: string): undefined {
    if (ak) {
      this.authFailures.set(ak, (this.authFailures.get(ak) ?? 0) + 1);
      const streak = (this.consecutiveAuthFailures.get(ak) ?? 0) + 1;
      this.consecutiveAuthFailures.set(ak, streak);
      // "More than five consecutive AK/SK authentication failures lock the key for five minutes."
      if (streak > LOCKOUT_THRESHOLD) this.lockedUntil.set(ak, Date.now() + LOCKOUT_MS);
    }
    sendError(res, 401, code, message);
    return undefined;
  }

  /** True when the key has been locked out by repeated authentication failures. */
  isLocked(ak: string): boolean {
    return (this.lockedUntil.get(ak) ?? 0) > Date.now();
  }

  private route(method: string, segments: readonly string[], query: URLSearchParams, body: Buffer, ak: string, res: ServerResponse): void {
    const [version, projectId, collection, id, extra] = segments;
    if (version !== 'v2' || !projectId || extra !== undefined) return sendError(res, 404, 'APIG.0101', 'The API does not exist or has not been published.');
    const project = this.project(projectId);
    if (collection === 'script-executions' && (id === 'retry' || id === 'stop')) {
      if (method !== 'POST') return sendError(res, 405, 'WKS.00000405', 'Method not allowed.');
      return id === 'retry' ? this.retry(projectId, project, body, ak, res) : this.stopExecution(project, body, res);
    }
    if (collection === 'script-execution-records') {
      if (method !== 'GET') return sendError(res, 405, 'WKS.00000405', 'Method not allowed.');
      if (id === undefined) return this.listRecords(project, query, res);
      const record = project.records.get(id);
      return record ? send(res, 200, JSON.stringify({ ...record, output: record.output ?? '' })) : sendError(res, 404, 'WKS.00210404', `Record ${id} not found.`);
    }
    sendError(res, 404, 'APIG.0101', 'The API does not exist or has not been published.');
  }

  private retry(projectId: string, project: ProjectState, body: Buffer, ak: string, res: ServerResponse): void {
    const target = parseTarget(body);
    if (!target) return sendError(res, 400, 'WKS.00211102', 'Invalid parameter: body must be {"record_id": string} or {"task_id": string}.');
    if (target.recordId !== undefined && !this.acceptAnyId && !project.records.has(target.recordId)) return sendError(res, 404, 'WKS.00210404', `Record ${target.recordId} not found.`);
    if (target.taskId !== undefined && !this.acceptAnyId && !project.tasks.has(target.taskId)) return sendError(res, 404, 'WKS.00210404', `Task ${target.taskId} not found.`);
    const newTaskId = randomBytes(16).toString('hex');
    project.tasks.add(newTaskId);
    this.retries.push({ projectId, target, newTaskId, ak, at: new Date() });
    send(res, 200, JSON.stringify({ task_id: newTaskId }));
  }

  private stopExecution(project: ProjectState, body: Buffer, res: ServerResponse): void {
    const target = parseTarget(body);
    if (!target) return sendError(res, 400, 'WKS.00211102', 'Invalid parameter: body must be {"record_id": string} or {"task_id": string}.');
    const known = target.recordId !== undefined ? project.records.has(target.recordId) : project.tasks.has(target.taskId!);
    if (!known) return sendError(res, 404, 'WKS.00210404', 'Record or task not found.');
    send(res, 200, '');
  }

  private listRecords(project: ProjectState, query: URLSearchParams, res: ServerResponse): void {
    const offset = Number(query.get('offset') ?? 0);
    const limit = Number(query.get('limit') ?? 10);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 100) {
      return sendError(res, 400, 'WKS.00211102', 'Invalid parameter: offset >= 0 and limit 1-100.');
    }
    const start = query.get('execute_time_start');
    const end = query.get('execute_time_end');
    const scriptIds = query.getAll('script_id');
    const resourceIds = query.getAll('resource_id');
    const matching = [...project.records.values()].filter(
      (r) =>
        (!query.get('status') || r.status === query.get('status')) &&
        (!query.get('script_task_id') || r.script_task_id === query.get('script_task_id')) &&
        (scriptIds.length === 0 || scriptIds.includes(r.script_id ?? '')) &&
        (resourceIds.length === 0 || resourceIds.includes(r.resource_id ?? '')) &&
        (!start || (r.start_time ?? '') >= start) &&
        (!end || (r.start_time ?? '') <= end),
    );
    send(res, 200, JSON.stringify({ count: matching.length, script_records: matching.slice(offset, offset + limit) }));
  }
}

function parseTarget(body: Buffer): { recordId?: string; taskId?: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { record_id: recordId, task_id: taskId } = parsed as { record_id?: unknown; task_id?: unknown };
  if (typeof recordId === 'string' && recordId !== '') return { recordId };
  if (typeof taskId === 'string' && taskId !== '') return { taskId };
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: string): void {
  if (res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': randomBytes(16).toString('hex'),
  });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, JSON.stringify({ error_code: code, error_msg: message }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
