/**
 * `npm run test:chaos`: the full chaos run (2,000 events by default, or the
 * first argument), printing the account as a table (and as JSON with --json).
 * Exits 1 if any promise was broken.
 */
import { renderReport, runChaos } from './chaos-run.js';

const events = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const seedArg = process.argv.find((a) => a.startsWith('--seed='));
const report = await runChaos({ events, timeoutMs: 600_000, pollers: 4, seed: seedArg ? Number(seedArg.slice(7)) : undefined });
console.log(process.argv.includes('--json') ? JSON.stringify(report, null, 2) : renderReport(report));
const broken = report.lost > 0 || report.scriptsRunTwice > 0 || report.chainsOverBudget > 0 || report.wronglyRetried > 0 || report.secretsInOutput > 0 || report.stillOnQueue > 0 || report.breakerOpened === 0 || report.breakerClosed === 0;
process.exit(broken ? 1 : 0);
