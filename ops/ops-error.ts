/**
 * An error `npm run ops` answers with an exit code scripts can rely on:
 * 1 nothing found or nothing to do, 2 a usage error or no stack/credentials,
 * 3 an AWS call that failed otherwise (or a replay that moved only part).
 */
export type OpsErrorKind = 'not-found' | 'usage' | 'setup' | 'aws';

export const EXIT_CODE: Record<OpsErrorKind, number> = { 'not-found': 1, usage: 2, setup: 2, aws: 3 };

export class OpsError extends Error {
  override readonly name = 'OpsError';
  constructor(
    readonly kind: OpsErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
]);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'AuthorizationError']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET']);

/** Any failure as an OpsError: credentials and reachability problems are setup errors, with what to do. */
export function classifyFailure(error: unknown, where: string): OpsError {
  if (error instanceof OpsError) return error;
  const e = error as Error & { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (CREDENTIAL_ERRORS.has(e.name))
    return new OpsError(
      'setup',
      `AWS credentials missing or refused (${e.name}: ${e.message}): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --local`,
    );
  if (/Region is missing/.test(e.message))
    return new OpsError('setup', 'no AWS region: set AWS_REGION (or a profile with a region), or pass --region');
  if (DENIED.has(e.name)) return new OpsError('setup', `not allowed (${e.name}): ${e.message}`);
  if (UNREACHABLE.has(code) || /ECONNREFUSED/.test(e.message))
    return new OpsError(
      'setup',
      `${where} is not reachable (${code || e.message}); with --local, is \`npm run stack\` still running?`,
    );
  return new OpsError('aws', `${e.name}: ${e.message}`);
}
