import type { Context, SQSEvent } from 'aws-lambda';
import { lambdaContext } from '../local/poller.js';
import { batch, muted } from './fixtures.js';
import type { StackProcess } from './stack-process.js';

/**
 * Secrets Manager reads over 100 warm invocations of the queue handler (TTL 300 s: expect none beyond the first read).
 */
export async function secretReadsPer100Invocations(stack: StackProcess): Promise<number> {
  const { handler } = (await import('../functions/queue.js')) as unknown as {
    handler: (e: SQSEvent, c: Context) => Promise<unknown>;
  };
  const invoke = (event: SQSEvent) => muted(() => handler(event, lambdaContext('retryFromQueue', 60_000)));
  await invoke(await batch(stack, 1));
  const before = await stack.command('stats');
  for (let i = 0; i < 100; i++) await invoke(await batch(stack, 1));
  const after = await stack.command('stats');
  return after.secretReads - before.secretReads;
}
