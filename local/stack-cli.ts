/**
 * `npm run stack`: the local stack on its own, for `osls invoke local` and
 * for poking at it by hand. Seeds the simulator with the records the sample
 * events name, writes the functions' environment to local/.stack.env and a
 * current SQS event and webhook delivery next to it (local/stack-setup.ts),
 * and prints the commands to run in another terminal. Ctrl-C stops it.
 */
import { relative } from 'node:path';
import { startLocalStack } from './stack.js';
import { prepareLocalStack } from './stack-setup.js';

const stack = await startLocalStack({ name: 'cli' });
const prepared = await prepareLocalStack(stack, import.meta.dirname);
console.log(
  `Local stack up: SQS ${stack.sqsEndpoint}, DynamoDB ${stack.dynamoEndpoint}, Secrets Manager ${stack.secrets.url}, SSM ${stack.ssm.url}, Workspace ${stack.simulator.url}`,
);
console.log(`Environment written to ${prepared.envFile}. In another terminal, from ${process.cwd()}:\n`);
console.log(`  set -a; . ${relative(process.cwd(), prepared.envFile)}; set +a`);
for (const command of prepared.commands) console.log(`  ${command}`);
console.log('\nnpm run ops -- --local … reads the same stack.');
process.on('SIGINT', () => void stack.stop().then(() => process.exit(0)));
process.on('SIGTERM', () => void stack.stop().then(() => process.exit(0)));
