import * as v from '../platform/valibot.js';

/**
 * Identifiers that go into a URL path. Workspace ids are hex strings in every
 * example (project ids: 32 lower-case hex, *inferred*); we accept any id that
 * is a safe path segment: letters, digits, `_` and `-`, 1 to 64 characters.
 * No dot (so no `.` or `..`), no slash, no percent (so no encoded slash).
 */
export const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Why a value is not a safe id, or undefined when it is. */
export function unsafeIdReason(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${value === null ? 'null' : typeof value}`;
  if (value.length === 0) return 'must not be empty';
  if (value.length > 64) return `must be at most 64 characters, got ${value.length}`;
  if (!SAFE_ID.test(value)) return 'must contain only letters, digits, "_" and "-" (a safe URL path segment)';
  return undefined;
}

/** The same check as a schema, for every parser that takes ids (events, console payloads). */
export const safeIdSchema = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    const reason = dataset.typed ? unsafeIdReason(dataset.value) : undefined;
    if (reason) addIssue({ message: reason });
  }),
);

/** Thrown when an id would not be a safe path segment. */
export class UnsafeIdentifierError extends Error {
  override readonly name = 'UnsafeIdentifierError';
}

/** Returns `value` as a safe id, or throws an UnsafeIdentifierError that starts with `field` and says why not. */
export function assertSafeId(field: string, value: unknown): string {
  const reason = unsafeIdReason(value);
  if (reason) throw new UnsafeIdentifierError(`${field} ${reason}`);
  return value as string;
}
