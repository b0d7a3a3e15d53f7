import type { DesktopCalls } from '../../lib/workspace/desktop-reads.js';
import type { DesktopDetail } from '../../lib/workspace/desktops.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { SigningCredentials } from '../../lib/workspace/signer.js';
import { type ActionResult, DesktopFleet, type DesktopFleetOptions } from '../../local/workspace-desktops.js';

/** Desktop ids shaped as Workspace's (36-character UUIDs), numbered so a test can name them. */
export function desktopId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** The instant the desktop tests start at. */
export const DESKTOP_T0 = Date.parse('2026-11-29T10:00:00Z');

/** A desktop fleet on a clock the test moves by hand, with numbered ids for jobs. */
export function desktopFleet(options: DesktopFleetOptions = {}) {
  let clock = DESKTOP_T0;
  let ids = 0;
  const fleet = new DesktopFleet(
    () => new Date(clock),
    () => `job${++ids}`,
    options,
  );
  return { fleet, advanceSeconds: (seconds: number) => (clock += seconds * 1000) };
}

/** A list read of `ids` answered by the fleet, as `readDesktops` answers it; `omit` are left out of the list. */
export function listedByFleet(
  fleet: DesktopFleet,
  projectId: string,
  ids: Iterable<string>,
  omit: readonly string[] = [],
): { found: Map<string, DesktopDetail>; missing: string[]; calls: number } {
  const wanted = [...ids];
  const found = new Map<string, DesktopDetail>(
    fleet
      .list(projectId, { desktopIds: wanted }, 0, 500)
      .desktops.filter((d) => !omit.includes(d.desktop_id))
      .map((d) => [d.desktop_id, d]),
  );
  return { found, missing: wanted.filter((id) => !found.has(id)), calls: 1 };
}

/** A desktop's detail from the fleet, or Workspace's 404 (with `message`) for a desktop it does not know. */
export function detailByFleet(fleet: DesktopFleet, projectId: string, id: string, message: string): DesktopDetail {
  const detail = fleet.detail(projectId, id);
  if (!detail) throw new WorkspaceApiError({ status: 404, code: 'WKS.DESKTOP_NOT_FOUND', message });
  return detail;
}

/** A start's answer from the fleet's result: its job and the desktops it could not start, or Workspace's error. */
export function startAnswer(result: ActionResult) {
  if (!result.ok) throw new WorkspaceApiError({ status: result.status, code: result.code, message: result.message });
  return { jobId: result.jobId, failed: result.failed };
}

/** What the in-memory desktop calls answer instead of the fleet. */
export interface DesktopCallFaults {
  /** Thrown by every list read. */
  readonly read?: WorkspaceApiError | undefined;
  /** Thrown by a start, or (`listed as failed`) a 200 naming the desktop in `failed_operation_list`. */
  readonly start?: WorkspaceApiError | 'listed as failed' | undefined;
  /** Desktops the list leaves out (their detail is still served). */
  readonly listOmits?: string | readonly string[] | undefined;
}

/**
 * Workspace's desktop calls over a simulator fleet in memory, each call noted in `log` (`list d1,d2`, `show d1`,
 * `start d1`); `faults` answer for a call instead.
 */
export function fleetDesktopCalls(faults: DesktopCallFaults = {}) {
  const { fleet } = desktopFleet();
  const log: string[] = [];
  const desktops: DesktopCalls = {
    readDesktops: async (project, ids) => {
      const wanted = [...ids];
      log.push(`list ${wanted.join(',')}`);
      if (faults.read) throw faults.read;
      return listedByFleet(fleet, project.projectId, wanted, [faults.listOmits ?? []].flat());
    },
    showDesktop: async (project, id) => {
      log.push(`show ${id}`);
      return detailByFleet(fleet, project.projectId, id, 'no such desktop');
    },
    runDesktops: async (project, action) => {
      log.push(`start ${action.desktopIds.join(',')}`);
      // A 200 that names the desktop in failed_operation_list, as Workspace answers for some desktops of a batch.
      if (faults.start === 'listed as failed')
        return {
          failed: action.desktopIds.map((id) => ({
            desktop_id: id,
            error_code: 'WKS.00010032',
            error_msg: 'Operation conflict.',
          })),
        };
      if (faults.start) throw faults.start;
      return startAnswer(fleet.run(project.projectId, action.desktopIds, action.opType));
    },
    describeAction: (_p, action, _c: SigningCredentials) => ({
      method: 'POST',
      url: 'https://workspace.test/action',
      body: JSON.stringify(action),
      signedHeaderNames: [],
    }),
  };
  return { fleet, log, desktops };
}
