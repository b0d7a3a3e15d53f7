/**
 * What a run's status word says (docs/workspace-api.md, "Status words").
 * Workspace documents no enum for an execution record's status; these are
 * the words its SDKs use for script runs, tasks and scheduled runs. A word
 * outside this table is `unknown`: neither retried nor taken for a success.
 */

/** What a status word says of a run; `unknown` for a word not in the table. */
export type RunState = 'failed' | 'succeeded' | 'skipped' | 'in-progress' | 'finished' | 'unknown';

const WORDS: Readonly<Record<string, RunState>> = {
  FAILED: 'failed',
  FAIL: 'failed',
  SUCCESS: 'succeeded',
  SKIP: 'skipped',
  SKIPPED: 'skipped',
  RUNNING: 'in-progress',
  WAITING: 'in-progress',
  INIT: 'in-progress',
  // A task's "completed": said of the task as a whole, not of how each of its runs ended.
  FINISH: 'finished',
};

/** The words above, for messages. */
export const KNOWN_STATUS_WORDS: readonly string[] = Object.keys(WORDS);

/** A status word as compared: trimmed, upper case; undefined when absent or empty. */
export function statusWord(status: string | undefined): string | undefined {
  const word = status?.trim().toUpperCase();
  return word === '' ? undefined : word;
}

/**
 * The state a status word names. No word at all is `failed`: every event is a failure report unless it says otherwise.
 */
export function runStateOf(status: string | undefined): RunState {
  const word = statusWord(status);
  return word === undefined ? 'failed' : (WORDS[word] ?? 'unknown');
}
