import { emit } from './commands.js';
import { drain, launch } from './ways-in.js';
import type { World } from './world.js';

/**
 * The run the retry of r1 started fails and its event arrives before anyone
 * linked it; the queue handles it, then everything drains (cases that check
 * the chain's budget holds for such a run).
 */
export async function refailUnlinkedAndDrain(world: World): Promise<void> {
  const run = world.ws.rerunOf('r1')!;
  world.ws.fail(run, 'Script execution timed out');
  emit(world, run, 'plain');
  await launch(world, [{ kind: 'queue', picks: [1], crash: 'none' }]);
  await drain(world, (p) => p);
}
