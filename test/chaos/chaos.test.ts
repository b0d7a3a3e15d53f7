import { describe, expect, it } from 'vitest';
import { renderReport, runChaos } from './chaos-run.js';

describe('chaos (a smaller run; npm run test:chaos runs 2,000 events)', () => {
  it('accounts for every event under faults: none lost, none retried twice, no secret in any output, the breaker opened and closed', async () => {
    const report = await runChaos({ events: 300, timeoutMs: 90_000, pollers: 3 });
    console.log(renderReport(report));
    expect(report.lost).toBe(0);
    expect(report.doubleRetries).toBe(0);
    expect(report.wronglyRetried).toBe(0);
    expect(report.secretsInOutput).toBe(0);
    expect(report.stillOnQueue).toBe(0);
    expect(report.retriedOnce + report.deadLetteredWithReason + report.deadLetteredByRedrive).toBe(report.events);
    expect(report.breakerOpened).toBeGreaterThan(0);
    expect(report.breakerClosed).toBeGreaterThan(0);
    expect(report.handlerCrashes).toBeGreaterThan(0);
    expect(report.dlqSendsRefused).toBeGreaterThan(0);
  }, 120_000);
});
