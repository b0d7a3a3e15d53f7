import { WorkspaceClient, type WorkspaceClientOptions } from '../../lib/workspace/client.js';
import { parseEndpointOverrides } from '../../lib/workspace/endpoints.js';

/** A Workspace client whose default region (cn-north-4) is served at `url`, with short test timings. */
export function clientAt(url: string, overrides: Partial<WorkspaceClientOptions> = {}): WorkspaceClient {
  return new WorkspaceClient({
    defaultRegion: 'cn-north-4',
    endpoints: parseEndpointOverrides(JSON.stringify({ 'cn-north-4': url })),
    timeoutMs: 2_000,
    maxInCallRetries: 2,
    backoffBaseMs: 5,
    backoffCapMs: 20,
    ...overrides,
  });
}
