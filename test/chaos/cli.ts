/**
 * `npm run test:chaos`: the full chaos run (2,000 events by default, or the
 * first argument) under every reading of Workspace's retry, or the one
 * `--reading=` names, printing the account as a table (as JSON with --json);
 * `--lease=17` gives the ledger a lease long enough for claims made ahead.
 * Each reading runs in a process of its own, as the functions build their
 * runtime once per process. Exits 1 if any promise was broken.
 */
import { spawnSync } from 'node:child_process';
import { readingsToRun } from '../model/readings.js';
import { type ChaosReport, renderReport, runChaos } from './chaos-run.js';

const events = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const readings = readingsToRun(option('reading'));

if (readings.length > 1) {
  const others = process.argv.slice(2).filter((a) => !a.startsWith('--reading='));
  const codes = readings.map(
    (reading) =>
      spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...others, `--reading=${reading}`], {
        stdio: 'inherit',
      }).status,
  );
  process.exit(codes.every((code) => code === 0) ? 0 : 1);
}
const seed = option('seed');
const lease = option('lease');
const report = await runChaos({
  events,
  timeoutMs: 600_000,
  pollers: 4,
  seed: seed ? Number(seed) : undefined,
  reading: readings[0],
  leaseSeconds: lease ? Number(lease) : undefined,
});
console.log(process.argv.includes('--json') ? JSON.stringify(report, null, 2) : `${renderReport(report)}\n`);
const broken = (r: ChaosReport) =>
  r.lost > 0 ||
  r.scriptsRunTwice > 0 ||
  r.chainsOverBudget > 0 ||
  r.wronglyRetried > 0 ||
  r.secretsInOutput > 0 ||
  r.stillOnQueue > 0 ||
  r.breakerOpened === 0 ||
  r.breakerClosed === 0 ||
  r.attemptsOnUnreadyDesktops > 0 ||
  r.desktopsStartedTwice > 0;
process.exit(broken(report) ? 1 : 0);
