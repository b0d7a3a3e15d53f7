import { describe, expect, it } from 'vitest';
import { desktopVerdict, isReady } from '../../lib/pipeline/desktop-verdict.js';
import type { DesktopRequirement } from '../../lib/policy/policy-config.js';
import type { DesktopReading } from '../../lib/workspace/desktop-reads.js';
import { type DesktopDetail, desktopStateOf } from '../../lib/workspace/desktops.js';

/** What a retry may do given its desktop as read now (lib/pipeline/desktop-verdict.ts), as a table: pure, no I/O. */

const NOW = Date.parse('2026-12-04T12:00:00Z');
const need = (overrides: Partial<DesktopRequirement> = {}): DesktopRequirement => ({
  require: 'registered',
  wake: true,
  waitMaxSeconds: 600,
  onError: 'give-up',
  recheckSeconds: 60,
  ...overrides,
});
const present = (detail: Partial<DesktopDetail>): DesktopReading & { kind: 'present' } => {
  const full = {
    desktop_id: 'd1',
    status: 'ACTIVE',
    task_status: '',
    login_status: 'REGISTERED',
    in_maintenance_mode: false,
    ...detail,
  };
  return { kind: 'present', state: desktopStateOf(full), detail: full };
};
const gone: DesktopReading & { kind: 'gone' } = { kind: 'gone', evidence: '404 WKS.DESKTOP_NOT_FOUND' };

describe('a desktop read before a retry, by its state', () => {
  it.each<[string, Partial<DesktopDetail>, Partial<DesktopRequirement>, string, string?]>([
    ['running and registered: retry', {}, {}, 'ready'],
    ['running, a user connected: retry', { login_status: 'CONNECTED' }, {}, 'ready'],
    ['running, the session ended: retry', { login_status: 'DISCONNECTED' }, {}, 'ready'],
    ['running, agent not registered yet: wait', { login_status: 'UNREGISTER' }, {}, 'wait', 'desktop-not-ready'],
    [
      'running, agent not registered, only `active` required: retry',
      { login_status: 'UNREGISTER' },
      { require: 'active' },
      'ready',
    ],
    ['powered off, wake: start it', { status: 'SHUTOFF', login_status: 'UNREGISTER' }, {}, 'wake'],
    ['hibernated, wake: start it', { status: 'HIBERNATED', login_status: 'UNREGISTER' }, {}, 'wake'],
    [
      'powered off, no wake: wait',
      { status: 'SHUTOFF', login_status: 'UNREGISTER' },
      { wake: false },
      'wait',
      'desktop-not-ready',
    ],
    [
      'powering on (someone started it): wait, never a second start',
      { status: 'SHUTOFF', task_status: 'powering-on' },
      {},
      'wait',
      'desktop-not-ready',
    ],
    ['rebooting: wait', { task_status: 'rebooting' }, {}, 'wait', 'desktop-not-ready'],
    [
      'in maintenance: wait, even if off and wake is asked',
      { status: 'SHUTOFF', in_maintenance_mode: true },
      {},
      'wait',
      'desktop-not-ready',
    ],
    ['running but in maintenance: wait', { in_maintenance_mode: true }, {}, 'wait', 'desktop-not-ready'],
    ['ERROR, on_error give-up: give up with the state', { status: 'ERROR' }, {}, 'give-up', 'desktop-error'],
    ['ERROR, on_error wait: wait', { status: 'ERROR' }, { onError: 'wait' }, 'wait', 'desktop-not-ready'],
    [
      'being deleted (no status): wait for the next read',
      { status: '', task_status: 'deleting' },
      {},
      'wait',
      'desktop-not-ready',
    ],
    ['a status word nobody documents: wait', { status: 'MIGRATING' }, {}, 'wait', 'desktop-not-ready'],
  ])('%s', (_, detail, requirement, kind, code) => {
    // Act
    const verdict = desktopVerdict('d1', present(detail), need(requirement), {}, NOW);

    // Assess
    expect(verdict.kind).toBe(kind);
    if (code) expect(verdict).toMatchObject({ code });
  });

  it('gone (a 404 for its detail): give up, not found, with the evidence', () => {
    expect(desktopVerdict('d1', gone, need(), {}, NOW)).toEqual({
      kind: 'give-up',
      code: 'desktop-not-found',
      reason:
        'desktop-not-found: desktop d1 no longer exists (404 WKS.DESKTOP_NOT_FOUND); there is nothing to run the script on',
      errorCode: 'DESKTOP_NOT_FOUND',
    });
  });

  it('says what the desktop is in its words', () => {
    const verdict = desktopVerdict(
      'd1',
      present({ status: 'SHUTOFF', task_status: 'powering-on', login_status: 'UNREGISTER' }),
      need(),
      {},
      NOW,
    );
    expect(verdict).toMatchObject({ reason: 'desktop-not-ready: desktop d1 is SHUTOFF, powering-on, UNREGISTER' });
  });
});

describe('why a run waits, in its reason', () => {
  it.each<[string, Partial<DesktopDetail>, Partial<DesktopRequirement>, string]>([
    [
      'in maintenance: until an administrator ends it',
      { in_maintenance_mode: true },
      {},
      'desktop d1 is ACTIVE, REGISTERED, in maintenance; it waits until an administrator ends maintenance',
    ],
    [
      'off, and the policy does not wake it: says so',
      { status: 'SHUTOFF', login_status: 'UNREGISTER' },
      { wake: false },
      'desktop d1 is SHUTOFF, UNREGISTER; the policy does not wake it (desktop.wake)',
    ],
    [
      'being deleted: a desktop without a status says it has none',
      { status: '', task_status: 'deleting' },
      {},
      'desktop d1 is (no status), deleting, REGISTERED',
    ],
    ['a login word nobody documents: left out of its words', { login_status: 'SLEEPING' }, {}, 'desktop d1 is ACTIVE'],
  ])('%s', (_, detail, requirement, why) => {
    expect(desktopVerdict('d1', present(detail), need(requirement), {}, NOW)).toMatchObject({
      kind: 'wait',
      code: 'desktop-not-ready',
      reason: `desktop-not-ready: ${why}`,
    });
  });
});

describe('waiting for a desktop', () => {
  const off = present({ status: 'SHUTOFF', login_status: 'UNREGISTER' });

  it('a desktop this run already started is never started again: it waits, saying when it was started', () => {
    const verdict = desktopVerdict('d1', off, need(), { since: NOW - 90_000, wokenAt: NOW - 90_000 }, NOW);
    expect(verdict).toMatchObject({
      kind: 'wait',
      code: 'desktop-waking',
      reason: expect.stringContaining('it was started 90 s ago'),
    });
  });

  it('reads again after recheck_seconds, and never past wait_max_seconds', () => {
    expect(
      desktopVerdict('d1', off, need({ wake: false, recheckSeconds: 60 }), { since: NOW - 10_000 }, NOW),
    ).toMatchObject({ seconds: 60 });
    expect(
      desktopVerdict('d1', off, need({ wake: false, recheckSeconds: 60 }), { since: NOW - 570_000 }, NOW),
    ).toMatchObject({ seconds: 30 });
  });

  it('gives up with the state once wait_max_seconds have passed since the run was first found not ready', () => {
    // Act
    const lastWait = desktopVerdict('d1', off, need(), { since: NOW - 599_000, wokenAt: NOW - 599_000 }, NOW);
    const over = desktopVerdict('d1', off, need(), { since: NOW - 600_000, wokenAt: NOW - 540_000 }, NOW);

    // Assess
    expect(lastWait).toMatchObject({ kind: 'wait', seconds: 1 });
    expect(over).toEqual({
      kind: 'give-up',
      code: 'desktop-not-ready',
      reason:
        'desktop-not-ready: desktop d1, started 540 s ago, is still SHUTOFF, UNREGISTER 600 s after it was first found not ready (wait_max_seconds 600)',
      errorCode: 'DESKTOP_NOT_READY',
    });
  });

  it('a desktop that became ready goes, however long the run waited', () => {
    expect(desktopVerdict('d1', present({}), need(), { since: NOW - 10_000_000 }, NOW).kind).toBe('ready');
  });
});

describe('ready, as `require` says', () => {
  it.each<[string, Partial<DesktopDetail>, DesktopRequirement['require'], boolean]>([
    ['ACTIVE, REGISTERED', {}, 'registered', true],
    ['ACTIVE, UNREGISTER', { login_status: 'UNREGISTER' }, 'registered', false],
    ['ACTIVE, UNREGISTER, active asked', { login_status: 'UNREGISTER' }, 'active', true],
    ['ACTIVE, a login word nobody documents', { login_status: 'SLEEPING' }, 'registered', false],
    ['ACTIVE, rebooting', { task_status: 'rebooting' }, 'active', false],
    ['HIBERNATED', { status: 'HIBERNATED' }, 'active', false],
  ])('%s (%s): %s', (_, detail, require, ready) => {
    expect(isReady(present(detail).state, require)).toBe(ready);
  });
});
