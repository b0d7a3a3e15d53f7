/**
 * Workspace's desktops as the simulator keeps them, without HTTP
 * (docs/workspace-api.md, "Desktops" and "What the simulator models"): power
 * states that change over time on the injected clock after an action, the
 * jobs that follow actions, starts that fail, maintenance mode, deleted
 * desktops, and whether a script can run on a desktop now.
 *
 * Time is read, never waited for: a desktop started at t reads SHUTOFF (or
 * HIBERNATED) with task_status `powering-on` until t + bootSeconds, ACTIVE
 * with login_status UNREGISTER from then, and REGISTERED from
 * t + bootSeconds + registerSeconds. A start that fails ends at
 * t + bootSeconds too, back in the state it started from.
 */

import type {
  DesktopDetail,
  DesktopOperation,
  FailedDesktopOperation,
  WorkspaceJob,
  WorkspaceSubJob,
} from '../lib/workspace/desktops.js';
import { huaweiTime } from '../lib/workspace/record-query.js';

export type PowerStatus = 'ACTIVE' | 'SHUTOFF' | 'HIBERNATED' | 'ERROR';

/** A desktop to seed: its id and any of its words; the rest default to a running, registered desktop. */
export interface DesktopSeed {
  readonly desktop_id: string;
  readonly computer_name?: string;
  /** '' as while Workspace deletes it. */
  readonly status?: PowerStatus | '';
  /** Kept while no action is in progress (e.g. `deleting`, with status ''). */
  readonly task_status?: string;
  /** Once the desktop has registered (default REGISTERED); UNREGISTER while it is not ACTIVE. */
  readonly login_status?: 'REGISTERED' | 'CONNECTED' | 'DISCONNECTED' | 'UNREGISTER';
  readonly in_maintenance_mode?: boolean;
}

/** Why a start fails: the sub-job's `error_code` and `fail_reason`. */
export interface StartFailure {
  readonly code: string;
  readonly reason: string;
}

export interface DesktopFleetOptions {
  /** Seconds from an accepted action to its end (default 30). */
  readonly bootSeconds?: number;
  /** Seconds from ACTIVE to REGISTERED (default 10). */
  readonly registerSeconds?: number;
  /** Share (0–1) of starts that fail, rolled with `random` (default 0). */
  readonly startFailureShare?: number;
  /** Random source for `startFailureShare` (seed it for repeatable runs). */
  readonly random?: () => number;
  /** The most desktops one list page holds, whatever `limit` asks (default 500): a Workspace that pages shorter. */
  readonly maxPageSize?: number;
}

/** An action as the simulator received it, for counters. */
export interface SentAction {
  readonly projectId: string;
  readonly desktopIds: readonly string[];
  readonly opType: DesktopOperation;
  readonly at: Date;
}

/** What BatchRunDesktops answers: accepted (with a job when any desktop was), or refused as a whole. */
export type ActionResult =
  | { readonly ok: true; readonly jobId?: string | undefined; readonly failed: readonly FailedDesktopOperation[] }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

/** How a script run on a desktop ends when the desktop cannot run it. */
export interface ScriptRefusal {
  readonly status: 'FAILED';
  readonly reason: string;
  readonly result_code: string;
}

/** The simulator's own codes: no Huawei source gives these (docs/workspace-api.md, "Desktops"). */
export const DESKTOP_NOT_FOUND = 'WKS.DESKTOP_NOT_FOUND';
export const DESKTOP_NOT_READY = 'WKS.DESKTOP_NOT_READY';
export const JOB_NOT_FOUND = 'WKS.JOB_NOT_FOUND';
export const START_FAILED = 'WKS.DESKTOP_START_FAILED';
/** Operation conflict: the code Huawei's Terraform provider reads for an action a desktop's state denies. */
export const OPERATION_CONFLICT = 'WKS.00010032';

const OPERATIONS: Readonly<
  Record<DesktopOperation, { readonly task: string; readonly from: readonly PowerStatus[]; readonly to: PowerStatus }>
> = {
  'os-start': { task: 'powering-on', from: ['SHUTOFF', 'HIBERNATED'], to: 'ACTIVE' },
  'os-stop': { task: 'powering-off', from: ['ACTIVE'], to: 'SHUTOFF' },
  'os-hibernate': { task: 'powering-off', from: ['ACTIVE'], to: 'HIBERNATED' },
  reboot: { task: 'rebooting', from: ['ACTIVE'], to: 'ACTIVE' },
};

interface Transition {
  readonly op: DesktopOperation;
  readonly endsAt: number;
  readonly failure?: StartFailure | undefined;
}

interface SimDesktop {
  readonly id: string;
  readonly name: string;
  readonly created: string;
  status: PowerStatus | '';
  taskStatus: string;
  login: NonNullable<DesktopSeed['login_status']>;
  inMaintenance: boolean;
  /** When it last became ACTIVE (ms); it registers registerSeconds later. */
  activeSince: number;
  transition?: Transition | undefined;
}

interface SimSubJob {
  readonly id: string;
  readonly desktopId: string;
  readonly endsAt: number;
  readonly failure?: StartFailure | undefined;
}

interface SimJob {
  readonly id: string;
  readonly op: DesktopOperation;
  readonly beganAt: number;
  readonly subJobs: readonly SimSubJob[];
}

interface ProjectDesktops {
  readonly desktops: Map<string, SimDesktop>;
  readonly deleted: Set<string>;
  readonly jobs: Map<string, SimJob>;
}

export class DesktopFleet {
  /** Every action received, accepted or not, in order. */
  readonly actions: SentAction[] = [];
  private readonly projects = new Map<string, ProjectDesktops>();
  private readonly plannedFailures = new Map<string, StartFailure[]>();
  private readonly bootMs: number;
  private readonly registerMs: number;

  constructor(
    private readonly now: () => Date,
    private readonly newId: () => string,
    private readonly options: DesktopFleetOptions = {},
  ) {
    this.bootMs = (options.bootSeconds ?? 30) * 1000;
    this.registerMs = (options.registerSeconds ?? 10) * 1000;
  }

  /** Adds or replaces a desktop; an ACTIVE one (the default) is registered already. */
  seed(projectId: string, seed: DesktopSeed): void {
    const project = this.project(projectId);
    project.deleted.delete(seed.desktop_id);
    project.desktops.set(seed.desktop_id, {
      id: seed.desktop_id,
      name: seed.computer_name ?? `DESKTOP-${seed.desktop_id.slice(0, 8).toUpperCase()}`,
      created: huaweiTime(this.now()),
      status: seed.status ?? 'ACTIVE',
      taskStatus: seed.task_status ?? '',
      login: seed.login_status ?? 'REGISTERED',
      inMaintenance: seed.in_maintenance_mode ?? false,
      activeSince: -Infinity,
    });
  }

  /** The desktop no longer exists: its detail is 404, lists leave it out, a script on it fails. */
  delete(projectId: string, desktopId: string): void {
    const project = this.project(projectId);
    project.desktops.delete(desktopId);
    project.deleted.add(desktopId);
  }

  /** Puts a desktop in maintenance mode or takes it out; it stays so whatever else happens. */
  setMaintenance(projectId: string, desktopId: string, on: boolean): void {
    this.existing(projectId, desktopId).inMaintenance = on;
  }

  /** The next start of this desktop fails with this code and reason (planned failures are used in order). */
  failNextStart(
    desktopId: string,
    failure: StartFailure = { code: START_FAILED, reason: 'Failed to start the desktop: insufficient resources.' },
  ): void {
    this.plannedFailures.set(desktopId, [...(this.plannedFailures.get(desktopId) ?? []), failure]);
  }

  /** os-start actions that named this desktop, accepted or not. */
  startsOf(desktopId: string): number {
    return this.actions.filter((action) => action.opType === 'os-start' && action.desktopIds.includes(desktopId))
      .length;
  }

  clearCounters(): void {
    this.actions.length = 0;
  }

  /** ShowDesktopDetail: the desktop as of now, or undefined when unknown or deleted. */
  detail(projectId: string, desktopId: string): DesktopDetail | undefined {
    const desktop = this.project(projectId).desktops.get(desktopId);
    return desktop && this.view(desktop);
  }

  /** ListDesktopsDetail: matching desktops in seeding order, one page of them, and how many match. */
  list(
    projectId: string,
    filters: { desktopIds?: readonly string[]; status?: string; inMaintenanceMode?: boolean },
    offset: number,
    limit: number,
  ): { desktops: DesktopDetail[]; total_count: number } {
    const ids = filters.desktopIds?.length ? new Set(filters.desktopIds) : undefined;
    const matching = [...this.project(projectId).desktops.values()]
      .filter((desktop) => !ids || ids.has(desktop.id))
      .map((desktop) => this.view(desktop))
      .filter(
        (desktop) =>
          (filters.status === undefined || desktop.status === filters.status) &&
          (filters.inMaintenanceMode === undefined || desktop.in_maintenance_mode === filters.inMaintenanceMode),
      );
    const size = Math.min(limit, this.options.maxPageSize ?? limit);
    return { desktops: matching.slice(offset, offset + size), total_count: matching.length };
  }

  /**
   * BatchRunDesktops. Each desktop whose state allows the operation starts
   * its transition, all under one job; the others are listed in
   * `failed_operation_list` (unknown: DESKTOP_NOT_FOUND; a state that denies
   * it, a transition in progress included: OPERATION_CONFLICT). When no
   * desktop could be acted on, the whole request is refused with the first
   * one's error (404 or 409), and no job is made.
   */
  run(projectId: string, desktopIds: readonly string[], opType: DesktopOperation): ActionResult {
    const now = this.now().getTime();
    this.actions.push({ projectId, desktopIds: [...desktopIds], opType, at: new Date(now) });
    const project = this.project(projectId);
    const operation = OPERATIONS[opType];
    const failed: (FailedDesktopOperation & { status: number })[] = [];
    const subJobs: SimSubJob[] = [];
    for (const desktopId of desktopIds) {
      const desktop = project.desktops.get(desktopId);
      if (!desktop) {
        failed.push({
          status: 404,
          desktop_id: desktopId,
          error_code: DESKTOP_NOT_FOUND,
          error_msg: `The desktop ${desktopId} does not exist.`,
        });
        continue;
      }
      this.settle(desktop, now);
      if (desktop.transition || desktop.status === '' || !operation.from.includes(desktop.status)) {
        const status = desktop.transition ? OPERATIONS[desktop.transition.op].task : desktop.status;
        failed.push({
          status: 409,
          desktop_id: desktopId,
          desktop_name: desktop.name,
          error_code: OPERATION_CONFLICT,
          error_msg: `Operation conflict. The desktop current instance status is [${status}] and deny operation [${opType}], resource id [${desktopId}].`,
        });
        continue;
      }
      const failure = opType === 'os-start' ? this.startFailure(desktopId) : undefined;
      desktop.transition = { op: opType, endsAt: now + this.bootMs, failure };
      subJobs.push({ id: this.newId(), desktopId, endsAt: now + this.bootMs, failure });
    }
    if (subJobs.length === 0) {
      const first = failed[0] ?? {
        status: 400,
        error_code: 'WKS.00211102',
        error_msg: 'desktop_ids must name at least one desktop.',
      };
      return { ok: false, status: first.status, code: first.error_code!, message: first.error_msg! };
    }
    const job: SimJob = { id: this.newId(), op: opType, beganAt: now, subJobs };
    project.jobs.set(job.id, job);
    return { ok: true, jobId: job.id, failed: failed.map(({ status: _status, ...entry }) => entry) };
  }

  /** ShowJob: RUNNING until every desktop's part ends; then SUCCESS, or FAIL when any part failed. */
  job(projectId: string, jobId: string): WorkspaceJob | undefined {
    const job = this.project(projectId).jobs.get(jobId);
    if (!job) return undefined;
    const now = this.now().getTime();
    const subJobs: WorkspaceSubJob[] = job.subJobs.map((sub) => {
      const ended = now >= sub.endsAt;
      return {
        id: sub.id,
        job_type: job.op,
        entities: { desktop_id: sub.desktopId },
        status: !ended ? 'RUNNING' : sub.failure ? 'FAILED' : 'SUCCESS',
        begin_time: huaweiTime(new Date(job.beganAt)),
        ...(ended ? { end_time: huaweiTime(new Date(sub.endsAt)) } : {}),
        ...(ended && sub.failure ? { error_code: sub.failure.code, fail_reason: sub.failure.reason } : {}),
      };
    });
    const running = subJobs.some((sub) => sub.status === 'RUNNING');
    const firstFailure = job.subJobs.find((sub) => sub.failure && now >= sub.endsAt)?.failure;
    const endsAt = Math.max(...job.subJobs.map((sub) => sub.endsAt));
    return {
      id: job.id,
      job_type: 'executeDesktopsAction',
      status: running ? 'RUNNING' : firstFailure ? 'FAIL' : 'SUCCESS',
      begin_time: huaweiTime(new Date(job.beganAt)),
      ...(running ? {} : { end_time: huaweiTime(new Date(endsAt)) }),
      ...(!running && firstFailure ? { job_error_code: firstFailure.code, fail_reason: firstFailure.reason } : {}),
      sub_jobs_total: subJobs.length,
      sub_jobs: subJobs,
    };
  }

  /**
   * Whether a script can run on this desktop now: undefined when it can, or
   * when the simulator does not know the desktop (scripts then run as they
   * always have); otherwise how the run fails. Deleted: not found. Not
   * ACTIVE, or starting: not running. ACTIVE but not registered yet: its
   * agent is not registered. Maintenance mode does not stop a script.
   */
  scriptRefusal(projectId: string, desktopId: string | undefined): ScriptRefusal | undefined {
    if (desktopId === undefined) return undefined;
    const project = this.project(projectId);
    if (project.deleted.has(desktopId))
      return { status: 'FAILED', reason: `The desktop ${desktopId} does not exist.`, result_code: DESKTOP_NOT_FOUND };
    const desktop = project.desktops.get(desktopId);
    if (!desktop) return undefined;
    const view = this.view(desktop);
    if (view.status !== 'ACTIVE' || view.task_status)
      return {
        status: 'FAILED',
        reason: `Desktop is not running (status ${view.status || 'none'}${view.task_status ? `, ${view.task_status}` : ''}).`,
        result_code: DESKTOP_NOT_READY,
      };
    if (view.login_status === 'UNREGISTER')
      return { status: 'FAILED', reason: 'Desktop agent is not registered yet.', result_code: DESKTOP_NOT_READY };
    return undefined;
  }

  /** The desktop as of now, its finished transition applied first. */
  private view(desktop: SimDesktop): DesktopDetail {
    const now = this.now().getTime();
    this.settle(desktop, now);
    const registered =
      desktop.status === 'ACTIVE' && !desktop.transition && now >= desktop.activeSince + this.registerMs;
    return {
      desktop_id: desktop.id,
      computer_name: desktop.name,
      status: desktop.status,
      task_status: desktop.transition ? OPERATIONS[desktop.transition.op].task : desktop.taskStatus,
      login_status: registered ? desktop.login : 'UNREGISTER',
      in_maintenance_mode: desktop.inMaintenance,
      created: desktop.created,
    };
  }

  /** Ends a transition whose time has come: the operation's state, or (a failed start) the state it started from. */
  private settle(desktop: SimDesktop, now: number): void {
    const transition = desktop.transition;
    if (!transition || now < transition.endsAt) return;
    desktop.transition = undefined;
    desktop.taskStatus = '';
    if (transition.failure) return;
    desktop.status = OPERATIONS[transition.op].to;
    if (desktop.status === 'ACTIVE') desktop.activeSince = transition.endsAt;
  }

  private startFailure(desktopId: string): StartFailure | undefined {
    const planned = this.plannedFailures.get(desktopId);
    if (planned?.length) return planned.shift();
    const share = this.options.startFailureShare ?? 0;
    if (share > 0 && (this.options.random ?? Math.random)() < share)
      return { code: START_FAILED, reason: 'Failed to start the desktop: insufficient resources.' };
    return undefined;
  }

  private existing(projectId: string, desktopId: string): SimDesktop {
    const desktop = this.project(projectId).desktops.get(desktopId);
    if (!desktop) throw new Error(`project ${projectId} has no desktop ${desktopId}`);
    return desktop;
  }

  private project(projectId: string): ProjectDesktops {
    let project = this.projects.get(projectId);
    if (!project)
      this.projects.set(projectId, (project = { desktops: new Map(), deleted: new Set(), jobs: new Map() }));
    return project;
  }
}
