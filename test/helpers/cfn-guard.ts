import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * cfn-guard with AWS's proactive controls (the Control Tower rules), both
 * shipped by the npm package @cdklabs/cdk-validator-cfnguard, run offline on a
 * template: every control a resource fails, as `CT.LAMBDA.PR.3 RetryFromQueueLambdaFunction`.
 */
const PACKAGE = join('node_modules', '@cdklabs', 'cdk-validator-cfnguard');
const OS: Record<string, string> = { linux: 'ubuntu', darwin: 'macos' };
const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

export const CFN_GUARD_RULES = join(PACKAGE, 'rules', 'control-tower', 'cfn-guard');

export function cfnGuardBinary(): string {
  const os = OS[process.platform];
  const arch = ARCH[process.arch];
  if (!os || !arch)
    throw new Error(`@cdklabs/cdk-validator-cfnguard ships no cfn-guard for ${process.platform}/${process.arch}`);
  return join(PACKAGE, 'bin', os, arch, 'cfn-guard');
}

type Node = { [key: string]: unknown };

/**
 * Walks cfn-guard's JSON report: the control id from each rule's message, the resource from each failed check's path.
 */
function failures(node: unknown, control: string | undefined, found: Set<string>): void {
  if (Array.isArray(node)) return node.forEach((child) => failures(child, control, found));
  if (typeof node !== 'object' || node === null) return;
  const message = ((node as Node)['messages'] as { custom_message?: string | null } | undefined)?.custom_message ?? '';
  const id = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(message)?.[1] ?? control;
  for (const [key, child] of Object.entries(node)) {
    if (key === 'path' && typeof child === 'string' && child.startsWith('/Resources/') && id)
      found.add(`${id} ${child.split('/')[2]}`);
    failures(child, id, found);
  }
}

export async function cfnGuardFailures(template: string): Promise<string[]> {
  const args = [
    'validate',
    '--rules',
    CFN_GUARD_RULES,
    '--data',
    template,
    '--output-format',
    'json',
    '--structured',
    '--show-summary',
    'none',
  ];
  // Exit code 19: some rule failed (the report says which); anything else but 0 is cfn-guard failing to run.
  const stdout = await promisify(execFile)(cfnGuardBinary(), args, { maxBuffer: 64 * 1024 * 1024 }).then(
    (out) => out.stdout,
    (error: { code?: number; stdout?: string; stderr?: string }) => {
      if (error.code !== 19) throw new Error(`cfn-guard did not run (exit ${error.code}): ${error.stderr}`);
      return error.stdout ?? '';
    },
  );
  const [report] = JSON.parse(stdout) as [{ not_compliant: unknown }];
  const found = new Set<string>();
  failures(report.not_compliant, undefined, found);
  return [...found].sort();
}
