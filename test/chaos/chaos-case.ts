import { describe, expect, it } from 'vitest';
import type { RetryReading } from '../../local/workspace-state.js';
import { renderReport, runChaos } from './chaos-run.js';

/**
 * A smaller chaos run under one reading of Workspace's retry (one test file
 * each: the functions build their runtime once per process, as in Lambda);
 * `npm run test:chaos` runs 2,000 events under each.
 */
export function chaosCase(reading: RetryReading, options: { events?: number; leaseSeconds?: number } = {}): void {
  const events = options.events ?? 150;
  const lease = options.leaseSeconds ? `, a ${options.leaseSeconds} s lease` : '';
  describe(`chaos, ${reading} (${events} events${lease})`, () => {
    it('accounts for every failed run under faults: none lost, none retried twice, no chain over budget, no attempt on a desktop not ready, no secret in any output', async () => {
      const report = await runChaos({
        events,
        timeoutMs: 120_000,
        pollers: 3,
        reading,
        leaseSeconds: options.leaseSeconds,
      });
      console.log(renderReport(report));
      expect(report.lost).toBe(0);
      expect(report.scriptsRunTwice).toBe(0);
      expect(report.chainsOverBudget).toBe(0);
      expect(report.wronglyRetried).toBe(0);
      expect(report.secretsInOutput).toBe(0);
      expect(report.stillOnQueue).toBe(0);
      expect(report.retriedOnce + report.deadLetteredWithReason + report.deadLetteredByRedrive).toBe(report.failedRuns);
      // Desktops that were not ready: no attempt spent on one, none started twice, and sleeping ones woken and then
      // retried.
      expect(report.attemptsOnUnreadyDesktops).toBe(0);
      expect(report.desktopsStartedTwice).toBe(0);
      expect(report.onDesktopsNotReady).toBeGreaterThan(0);
      expect(report.wokenThenRetried).toBeGreaterThan(0);
      // The faults really happened: answers lost after landing, an outage that opened the breaker, crashes, DLQ and
      // secret outages, ledger transactions cancelled by conflicts.
      expect(report.answersLostAfterLanding).toBeGreaterThan(0);
      expect(report.breakerOpened).toBeGreaterThan(0);
      expect(report.breakerClosed).toBeGreaterThan(0);
      expect(report.handlerCrashes).toBeGreaterThan(0);
      expect(report.dlqSendsRefused).toBeGreaterThan(0);
      expect(report.secretReadsRefused).toBeGreaterThan(0);
      expect(report.transactionConflicts.scheduled).toBe(12);
    }, 150_000);
  });
}
