import { excerpt } from '../platform/env-schema.js';
import { logger, reportConfigurationError } from '../platform/observability.js';
import { SsmParameterProvider } from '../platform/ssm-provider.js';

/**
 * The kill switch, where an operator can turn it without a redeploy: an SSM
 * parameter (RETRIES_ENABLED_PARAMETER, `true` or `false`) read through
 * Powertools Parameters (lib/platform/ssm-provider.ts) by every way in at the start of each invocation and
 * kept for RETRIES_ENABLED_MAX_AGE_SECONDS, so a change reaches every
 * container within that time (docs/operations.md, "Stop"). Off, nothing calls
 * Workspace: every failure is deferred.
 *
 * A switch that cannot be read keeps the last value this container read; one
 * never read, or one that is neither true nor false, holds retries (nothing is
 * lost, nothing is called) and is reported as a configuration error. Without a
 * parameter (the local stack), RETRIES_ENABLED decides.
 */
export interface KillSwitch {
  /** Whether retries may call Workspace in this invocation. Never throws. */
  retriesEnabled(): Promise<boolean>;
}

/** Where the kill switch is read, and what it falls back to when no parameter is set. */
export interface KillSwitchOptions {
  /** The SSM parameter's name; undefined: `fallback` is the switch. */
  readonly parameterName?: string | undefined;
  readonly maxAgeSeconds: number;
  /** RETRIES_ENABLED: the switch when there is no parameter. */
  readonly fallback: boolean;
  /** Reads the parameter (default: Powertools Parameters' cache with `maxAge`, lib/platform/ssm-provider.ts). */
  readonly read?: ((name: string, maxAgeSeconds: number) => Promise<string | undefined>) | undefined;
}

/** `true`/`1` or `false`/`0`, in any case, as RETRIES_ENABLED accepts them. */
export function parseSwitch(value: string | undefined): boolean | undefined {
  const word = value?.trim().toLowerCase();
  if (word === 'true' || word === '1') return true;
  if (word === 'false' || word === '0') return false;
  return undefined;
}

function ssmReader(): (name: string, maxAgeSeconds: number) => Promise<string | undefined> {
  let provider: SsmParameterProvider | undefined;
  // AWS_ENDPOINT_URL_SSM points it at the local stack's stand-in, as it pointed the SDK's client.
  return (name, maxAge) =>
    (provider ??= new SsmParameterProvider()).get(name, { maxAge }) as Promise<string | undefined>;
}

/** What went wrong, by the SDK error's name (Powertools wraps it), never a value. */
function cause(error: unknown): string {
  const inner = (error as { cause?: unknown }).cause;
  return (inner instanceof Error ? inner : (error as Error)).name;
}

/**
 * Builds the kill switch: with no parameter name, `fallback` always; otherwise the parameter, read on each call (cached
 * for `maxAgeSeconds`), the last value read when it cannot be, and `false` (retries held, reported as a configuration
 * error) when it was never read or says neither true nor false.
 */
export function killSwitch(options: KillSwitchOptions): KillSwitch {
  const name = options.parameterName;
  if (name === undefined) return { retriesEnabled: async () => options.fallback };
  const read = options.read ?? ssmReader();
  let lastKnown: boolean | undefined;
  return {
    async retriesEnabled() {
      let raw: string | undefined;
      try {
        raw = await read(name, options.maxAgeSeconds);
      } catch (error) {
        if (lastKnown !== undefined) {
          logger.warn('kill switch unreadable: this container keeps the value it last read', {
            parameter: name,
            retriesEnabled: lastKnown,
            error: cause(error),
          });
          return lastKnown;
        }
        reportConfigurationError(
          'kill switch unreadable: retries are held (every failure deferred) until it can be read',
          `SSM parameter ${name} could not be read (${cause(error)})`,
        );
        return false;
      }
      const value = parseSwitch(raw);
      if (value === undefined) {
        reportConfigurationError(
          'kill switch unreadable: retries are held (every failure deferred) until it says true or false',
          `SSM parameter ${name} must be true or false, got ${excerpt(raw)}`,
        );
        return false;
      }
      lastKnown = value;
      return value;
    },
  };
}
