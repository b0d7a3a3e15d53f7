import { RETRY_READINGS, type RetryReading } from '../../local/workspace-state.js';

/**
 * The readings of Workspace's retry a run covers: all three, or the one an
 * option names (`MODEL_READING`, `--reading=`), refused with the choices when
 * it names none of them.
 */
export function readingsToRun(option: string | undefined): readonly RetryReading[] {
  if (option === undefined || option === '' || option === 'all') return RETRY_READINGS;
  if ((RETRY_READINGS as readonly string[]).includes(option)) return [option as RetryReading];
  throw new Error(`reading "${option}" is not one of ${RETRY_READINGS.join(', ')} (or all)`);
}
