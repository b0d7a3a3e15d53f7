import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import * as z from '../../lib/platform/zod.js';
import { retryPolicySchema } from '../../lib/policy/policy-config.js';

/**
 * docs/retry-policy.schema.json, generated from the policy's zod schema
 * (lib/policy/policy-config.ts) with zod's own z.toJSONSchema, as an operator
 * writes the document (input side: a field with a default may be left out).
 * `npm run policy-schema` writes it; test/unit/docs.test.ts fails while the
 * committed file differs from what this generates.
 */
export const POLICY_SCHEMA_FILE = 'docs/retry-policy.schema.json';

export function policyJsonSchemaText(): string {
  const { $schema, ...schema } = z.toJSONSchema(retryPolicySchema(), { io: 'input' });
  const document = {
    $schema,
    $id: 'retry-policy.schema.json',
    title: 'Retry policy (RETRY_POLICY)',
    description:
      'The retry policy of workspace-script-retry (docs/retry-policy.md). RETRY_POLICY is laid over lib/policy/default-policy.json field by field: a top-level field it leaves out keeps the bundled value, and rules, when given, replace the bundled rules. Two checks are not expressed here: a rule needs result_codes, reason_contains or statuses to match on, and backoff.max_seconds must be at least base_seconds.',
    ...schema,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(POLICY_SCHEMA_FILE, policyJsonSchemaText());
  console.log(`wrote ${POLICY_SCHEMA_FILE}`);
}
