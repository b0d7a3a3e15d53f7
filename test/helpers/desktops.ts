import { DesktopFleet, type DesktopFleetOptions } from '../../local/workspace-desktops.js';

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
