import { describe, expect, it } from 'vitest';
import { parseWorkspaceTime } from '../../lib/events/workspace-time.js';

const NOON = Date.UTC(2021, 9, 1, 12, 0, 0);

describe('Workspace times', () => {
  it.each([
    ['2021-10-01T12:00:00Z', NOON],
    ['2021-10-01T12:00:00z', NOON],
    ['2021-10-01T12:00:00 UTC', NOON],
    ['2021-10-01T20:00:00+08:00', NOON],
    ['2021-10-01T20:00:00+0800', NOON],
    ['2021-10-01T04:00:00-08', NOON],
    ['2021-10-01T12:00:00.250Z', NOON + 250],
    ['2021-10-01T12:00:00.250999Z', NOON + 250],
    ['2021-10-01T12:00Z', NOON],
  ])('reads %s with its zone', (text, expected) => {
    expect(parseWorkspaceTime(text)).toBe(expected);
  });

  it.each(['2021-10-01 12:00:00', '2021-10-01T12:00:00', '2021-10-01 12:00:00.000'])(
    'reads the zone-less %s as UTC, whatever the host zone',
    (text) => {
      expect(parseWorkspaceTime(text)).toBe(NOON);
    },
  );

  it.each([
    '',
    'yesterday',
    '2021-13-01T00:00:00Z',
    '2021-02-30T12:00:00Z',
    '2021-10-01T24:00:00Z',
    '2021-10-01T12:60:00Z',
    '2021-10-01',
    '1633089600000',
  ])('refuses %j', (text) => {
    expect(parseWorkspaceTime(text)).toBeUndefined();
  });
});
