/**
 * The local stack in its own process for the benchmark, so the benchmark's
 * CPU and memory figures are the function's alone. Prints one JSON line with
 * the function's environment, then answers commands on stdin, one per line:
 * `stats` (JSON counters), `reset`, `latency <ms>`.
 */
import { createInterface } from 'node:readline';
import { startLocalStack } from '../local/stack.js';

const stack = await startLocalStack({ name: 'bench', simulator: { acceptAnyId: true } });
process.stdout.write(`${JSON.stringify({ env: stack.env, secretId: stack.secretId })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(' ');
  if (command === 'latency') stack.simulator.faults = { latencyMs: Number(arg) };
  if (command === 'reset') stack.simulator.resetCounters();
  const { simulator, secrets } = stack;
  process.stdout.write(
    `${JSON.stringify({ connectionsOpened: simulator.connectionsOpened, requests: simulator.requestsReceived, retries: simulator.retries.length, secretReads: secrets.readCount(stack.secretId) })}\n`,
  );
}
await stack.stop();
