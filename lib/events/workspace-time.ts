/**
 * Reads the times Workspace and its event producers write, into epoch
 * milliseconds (docs/workspace-api.md, "Times").
 *
 * Accepted: `2021-10-01T12:00:00Z`, with an offset (`+08:00`, `+0800`,
 * `+08`), with a fraction of a second, with a space instead of the `T`, and
 * without any zone at all. **A time without a zone is UTC**: every time the
 * Workspace API takes is UTC (`execute_time_start=2021-10-01T12:00:00Z`), and
 * reading a zone-less time in the machine's own zone would make the same run
 * start at different instants on differently configured hosts.
 *
 * @example
 * parseWorkspaceTime('2021-10-01 12:00:00') === Date.UTC(2021, 9, 1, 12); // true
 * parseWorkspaceTime('2021-10-01T20:00:00+08:00') === Date.UTC(2021, 9, 1, 12); // true
 */

const TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/;

/** Epoch milliseconds of a Workspace time, or undefined when it is not one (see the rule above for zone-less times). */
export function parseWorkspaceTime(text: string): number | undefined {
  const match = TIME.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second = '0', fraction = '', zone = 'Z'] = match;
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    ms,
  );
  const date = new Date(local);
  const fieldsValid =
    date.getUTCMonth() + 1 === Number(month) &&
    date.getUTCDate() === Number(day) &&
    Number(hour) < 24 &&
    Number(minute) < 60 &&
    Number(second) < 60;
  if (!fieldsValid) return undefined;
  return local - offsetMs(zone);
}

function offsetMs(zone: string): number {
  if (/^(Z|UTC|GMT)$/i.test(zone)) return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || '0');
  return sign * (hours * 60 + minutes) * 60_000;
}
