import type { World } from './world.js';

/**
 * What happened in a failed run, for the person reading the counterexample: outcomes, dead letters, Workspace's
 * retries.
 */
export function story(world: World): string {
  const outcomes = world.outcomes.map(
    (o) => `  ${o.way} ${o.messageId}: ${o.kind}${o.reason ? ` (${o.reason.slice(0, 160)})` : ''}`,
  );
  const letters = [...world.dlq.messages.values()].map(
    (m) => `  ${m.id}: ${m.attributes['reason']?.StringValue ?? '(no reason)'} | ${m.body.slice(0, 140)}`,
  );
  const retries = [...world.ws.parent].map(
    ([child, parent]) => `  ${parent} → ${child} (task ${world.ws.records.get(child.split('#')[0]!)?.script_task_id})`,
  );
  const replays = world.replays.map(
    (r) => `  ${r.messageId} decided_at ${new Date(r.decidedAt).toISOString()} | ${r.body.slice(0, 100)}`,
  );
  return [
    'outcomes:',
    ...outcomes,
    'dead letters:',
    ...letters,
    'replays:',
    ...replays,
    'retries applied by Workspace:',
    ...retries,
  ].join('\n');
}
