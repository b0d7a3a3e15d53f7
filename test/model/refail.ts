import { emit } from './commands.js';
import { drain, launch } from './ways-in.js';
import type { World } from './world.js';

/**
 * The retry's own run (r2) fails and its event arrives before anyone linked
 * it; the queue handles it, then everything drains (cases that check the
 * chain's budget holds for such a run).
 */
export async function refailUnlinkedAndDrain(world: World): Promise<void> {
  world.ws.fail('r2', 'Script execution timed out');
  emit(world, 'r2', 'plain');
  await launch(world, [{ kind: 'queue', picks: [1], crash: 'none' }]);
  await drain(world, (p) => p);
}
