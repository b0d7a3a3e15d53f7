import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Drives bench/stack-server.ts: the local stack in a child process, so the bench process's CPU and memory are the
 * function's own.
 */

export const ROOT = join(import.meta.dirname, '..');

export interface StackStats {
  connectionsOpened: number;
  requests: number;
  /** Retries the simulator accepted. */
  retries: number;
  secretReads: number;
  /** DynamoDB calls dynalite received, by operation. */
  dynamoCalls: Record<string, number>;
  /** CPU the stack's process has spent since it started, µs. */
  cpuMicros: number;
}

export class StackProcess {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static async start(): Promise<{ stack: StackProcess; env: Record<string, string> }> {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', join(ROOT, 'bench', 'stack-server.ts')],
      { cwd: ROOT, stdio: 'pipe' },
    );
    child.stderr.pipe(process.stderr);
    const stack = new StackProcess(child);
    const first = await stack.lines.next();
    return { stack, env: (JSON.parse(first.value as string) as { env: Record<string, string> }).env };
  }

  /** `stats`, `reset`, `latency <ms>` or `seed <run> <n> <start>` (bench/stack-server.ts); answers the counters. */
  async command(line: string): Promise<StackStats> {
    this.child.stdin.write(`${line}\n`);
    return JSON.parse((await this.lines.next()).value as string) as StackStats;
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}
