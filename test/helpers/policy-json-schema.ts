import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { toJsonSchema } from '@valibot/to-json-schema';
import { retryPolicySchema } from '../../lib/policy/policy-config.js';

/**
 * docs/retry-policy.schema.json, generated from the policy's valibot schema
 * (lib/policy/policy-config.ts) with valibot's own converter
 * (@valibot/to-json-schema), as an operator writes the document (input side:
 * a field with a default may be left out). The rule's check that it matches on
 * something is not expressible, and is said in the description instead.
 * `npm run policy-schema` writes it; test/unit/docs.test.ts fails while the
 * committed file differs from what this generates.
 */
export const POLICY_SCHEMA_FILE = 'docs/retry-policy.schema.json';

export function policyJsonSchemaText(): string {
  const { $schema, ...schema } = toJsonSchema(retryPolicySchema(), {
    target: 'draft-2020-12',
    typeMode: 'input',
    errorMode: 'ignore',
  });
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
