import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EndpointError,
  parseEndpointOverrides,
  resolveEndpoint,
  validateRegion,
  WORKSPACE_REGIONS,
} from '../../lib/workspace/endpoints.js';

describe('endpoint resolution', () => {
  it("uses Huawei's public endpoint for a known region", () => {
    expect(resolveEndpoint('cn-north-4', new Map()).href).toBe('https://workspace.cn-north-4.myhuaweicloud.com/');
  });

  it('prefers the operator override for a region', () => {
    const overrides = parseEndpointOverrides('{"cn-north-4":"https://proxy.example.com/workspace"}');
    expect(resolveEndpoint('cn-north-4', overrides).href).toBe('https://proxy.example.com/workspace');
  });

  it('accepts an unlisted region only when an override names it', () => {
    expect(validateRegion('eu-west-0', new Map())).toMatch(/has no Workspace endpoint/);
    const overrides = parseEndpointOverrides('{"eu-west-0":"https://workspace.eu-west-0.example.eu"}');
    expect(resolveEndpoint('eu-west-0', overrides).host).toBe('workspace.eu-west-0.example.eu');
  });

  it("knows exactly the regions Huawei's SDKs list for Workspace, as docs/workspace-api.md names them", () => {
    // The reference page lists the regions of huaweicloud-sdk-go-v3 and -nodejs-v3 (services/workspace/v2) under
    // "Regions": the list in the code is checked against that page, not against a copy of itself.
    const page = readFileSync(new URL('../../docs/workspace-api.md', import.meta.url), 'utf8');
    const section = page.slice(page.indexOf('## Regions'), page.indexOf('\n## ', page.indexOf('## Regions') + 1));
    const listed = section.slice(section.indexOf('):'), section.indexOf(', each at'));
    const sdkRegions = [...listed.matchAll(/[a-z]+-[a-z]+-\d+/g)].map((m) => m[0]).sort();
    expect(sdkRegions).toHaveLength(18);
    expect([...WORKSPACE_REGIONS].sort()).toEqual(sdkRegions);
    for (const region of sdkRegions) expect(validateRegion(region, new Map())).toBeUndefined();
  });

  it('refuses a region no SDK lists (na-mexico-1) unless WORKSPACE_ENDPOINTS configures it', () => {
    expect(validateRegion('na-mexico-1', new Map())).toBe(
      'region na-mexico-1 has no Workspace endpoint (add it to WORKSPACE_ENDPOINTS to use it)',
    );
    expect(
      validateRegion(
        'na-mexico-1',
        parseEndpointOverrides('{"na-mexico-1":"https://workspace.na-mexico-1.myhuaweicloud.com"}'),
      ),
    ).toBeUndefined();
  });

  it.each(['cn-north-4.evil.com', 'cn-north-4/..', 'CN-NORTH-4', '', 'x'])(
    'refuses the region %j before it enters a host name',
    (region) => {
      expect(() => resolveEndpoint(region, new Map())).toThrow(EndpointError);
    },
  );
});

describe('WORKSPACE_ENDPOINTS validation', () => {
  it.each([
    ['not json', /WORKSPACE_ENDPOINTS: not valid JSON/],
    ['["https://x"]', /must be a JSON object/],
    ['{"bad region":"https://x"}', /WORKSPACE_ENDPOINTS\.bad region: not a region name/],
    ['{"cn-north-4":42}', /cn-north-4: must be a URL string/],
    ['{"cn-north-4":"notaurl"}', /cn-north-4: not a valid URL/],
    ['{"cn-north-4":"http://example.com"}', /must be https \(plain http only for loopback\)/],
    ['{"cn-north-4":"https://user:pw@example.com"}', /bare base URL/],
  ])('refuses %s naming the field', (json, message) => {
    expect(() => parseEndpointOverrides(json)).toThrow(message);
  });

  it('allows plain http to loopback only (the local simulator)', () => {
    expect(parseEndpointOverrides('{"cn-north-4":"http://127.0.0.1:4000"}').get('cn-north-4')?.port).toBe('4000');
    expect(parseEndpointOverrides('{"cn-north-4":"http://localhost:4000"}').size).toBe(1);
    expect(() => parseEndpointOverrides('{"cn-north-4":"http://10.0.0.1:4000"}')).toThrow(/https/);
  });

  it('treats an empty value as no overrides', () => {
    expect(parseEndpointOverrides(undefined).size).toBe(0);
    expect(parseEndpointOverrides('  ').size).toBe(0);
  });
});
