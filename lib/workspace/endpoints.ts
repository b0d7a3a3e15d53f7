/**
 * Where Workspace calls go. The base URL comes from the region
 * (`https://workspace.{region}.myhuaweicloud.com`) or from the operator's
 * per-region override (WORKSPACE_ENDPOINTS); an event never chooses a host.
 */

/**
 * The regions Huawei's SDKs list for Workspace (docs/workspace-api.md,
 * "Regions"); any other region needs an endpoint in WORKSPACE_ENDPOINTS.
 */
export const WORKSPACE_REGIONS: ReadonlySet<string> = new Set([
  'af-north-1',
  'af-south-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'cn-east-3',
  'cn-east-5',
  'cn-north-11',
  'cn-north-4',
  'cn-north-9',
  'cn-south-1',
  'cn-southwest-2',
  'eu-west-101',
  'la-north-2',
  'la-south-2',
  'me-east-1',
  'sa-brazil-1',
  'tr-west-1',
]);

const REGION_PATTERN = /^[a-z]{2,4}(-[a-z]+)+-\d{1,3}$/;

/** Thrown when a region or an endpoint override cannot be used; the message says which and why. */
export class EndpointError extends Error {
  override readonly name = 'EndpointError';
}

/** Region name to base URL, validated once from configuration. */
export type EndpointOverrides = ReadonlyMap<string, URL>;

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Validates WORKSPACE_ENDPOINTS: a JSON object of region to base URL. Only
 * https leaves the machine; plain http is accepted for loopback (the local
 * simulator) and nothing else.
 */
export function parseEndpointOverrides(json: string | undefined, variable = 'WORKSPACE_ENDPOINTS'): EndpointOverrides {
  const overrides = new Map<string, URL>();
  if (json === undefined || json.trim() === '') return overrides;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new EndpointError(`${variable}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EndpointError(`${variable}: must be a JSON object of region to base URL`);
  }
  for (const [region, value] of Object.entries(parsed)) {
    if (!REGION_PATTERN.test(region)) throw new EndpointError(`${variable}.${region}: not a region name`);
    if (typeof value !== 'string') throw new EndpointError(`${variable}.${region}: must be a URL string`);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new EndpointError(`${variable}.${region}: not a valid URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      throw new EndpointError(`${variable}.${region}: must be https (plain http only for loopback)`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new EndpointError(`${variable}.${region}: must be a bare base URL (no credentials, query or fragment)`);
    }
    overrides.set(region, url);
  }
  return overrides;
}

/** Checks a region name before it goes into a host name. */
export function validateRegion(region: string, overrides: EndpointOverrides): string | undefined {
  if (!REGION_PATTERN.test(region)) return `region ${JSON.stringify(region.slice(0, 40))} is not a region name`;
  if (!WORKSPACE_REGIONS.has(region) && !overrides.has(region)) {
    return `region ${region} has no Workspace endpoint (add it to WORKSPACE_ENDPOINTS to use it)`;
  }
  return undefined;
}

/** The base URL for a region: the override if configured, else Huawei's public endpoint. */
export function resolveEndpoint(region: string, overrides: EndpointOverrides): URL {
  const problem = validateRegion(region, overrides);
  if (problem) throw new EndpointError(problem);
  return overrides.get(region) ?? new URL(`https://workspace.${region}.myhuaweicloud.com`);
}
