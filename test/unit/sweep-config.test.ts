import { describe, expect, it } from 'vitest';
import { loadSweepConfig } from '../../lib/config/sweep-config.js';
import { ConfigError } from '../../lib/platform/env-schema.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';

const PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const base = { SWEEP_PROJECTS: JSON.stringify([{ project_id: PROJECT }]) };

describe('the sweep configuration', () => {
  it('reads the projects, with the documented defaults', () => {
    // Act
    const sweep = loadSweepConfig({ ...base, SWEEP_LOOKBACK_MINUTES: ' ' }, new Map(), 1_000);
    // Assess: 60 and 30 minutes, and 10 s in hand (the worst-case call given here is shorter).
    expect(sweep).toEqual({
      projects: [{ projectId: PROJECT, region: undefined }],
      lookbackMinutes: 60,
      overlapMinutes: 30,
      safetyMarginMs: 10_000,
    });
  });

  it('keeps the worst-case call plus the ledger writes in hand when SWEEP_SAFETY_SECONDS is shorter', () => {
    expect(loadSweepConfig({ ...base, SWEEP_SAFETY_SECONDS: '1' }, new Map(), 21_000).safetyMarginMs).toBe(26_000);
    expect(loadSweepConfig({ ...base, SWEEP_SAFETY_SECONDS: '600' }, new Map(), 21_000).safetyMarginMs).toBe(600_000);
  });

  it('accepts a project in a region WORKSPACE_ENDPOINTS adds', () => {
    const endpoints = parseEndpointOverrides('{"eu-west-0":"https://workspace.example.eu"}');
    const sweep = loadSweepConfig(
      { SWEEP_PROJECTS: JSON.stringify([{ project_id: PROJECT, region: 'eu-west-0' }]) },
      endpoints,
    );
    expect(sweep.projects).toEqual([{ projectId: PROJECT, region: 'eu-west-0' }]);
  });

  it.each([
    [{ SWEEP_PROJECTS: undefined }, 'SWEEP_PROJECTS is required: a JSON list of {"project_id","region"?}'],
    [{ SWEEP_PROJECTS: '[{' }, /^SWEEP_PROJECTS is not valid JSON \(/],
    [{ SWEEP_PROJECTS: '{"project_id":"p"}' }, 'SWEEP_PROJECTS must be a JSON list of {"project_id","region"?}'],
    [
      { SWEEP_PROJECTS: JSON.stringify(Array.from({ length: 101 }, () => ({ project_id: PROJECT }))) },
      'SWEEP_PROJECTS must list at most 100 projects',
    ],
    [
      { SWEEP_PROJECTS: '[{"project_id":"p1"},{"project_id":"../x"}]' },
      'SWEEP_PROJECTS[1].project_id: must be a safe id',
    ],
    [
      { SWEEP_PROJECTS: '[{"project_id":"p1","regoin":"cn-north-4"}]' },
      /^SWEEP_PROJECTS\[0\]\.regoin: is not a known field/,
    ],
    [
      { SWEEP_PROJECTS: '[{"project_id":"p1","region":"mars-1"}]' },
      /^SWEEP_PROJECTS\[0\]\.region: region "mars-1" is not a region name/,
    ],
    [
      { SWEEP_LOOKBACK_MINUTES: '10081' },
      'SWEEP_LOOKBACK_MINUTES must be a whole number between 1 and 10080, got "10081"',
    ],
    [{ SWEEP_OVERLAP_MINUTES: '0' }, 'SWEEP_OVERLAP_MINUTES must be a whole number between 1 and 1440, got "0"'],
    [{ SWEEP_SAFETY_SECONDS: '10s' }, 'SWEEP_SAFETY_SECONDS must be a whole number between 1 and 600, got "10s"'],
  ])('refuses %j naming the variable and the field', (change, message) => {
    expect(() => loadSweepConfig({ ...base, ...change }, new Map())).toThrow(message);
    expect(() => loadSweepConfig({ ...base, ...change }, new Map())).toThrow(ConfigError);
  });
});
