import { expect } from 'vitest';

/**
 * What `promise` was rejected with, checked to be a `type`: the test fails if it resolved, or was rejected with
 * anything else.
 */
export async function rejectionOf<E>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
