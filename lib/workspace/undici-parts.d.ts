/**
 * Types for the two parts of undici the Workspace transport loads (pinned
 * exactly in package.json, so the paths hold): its Agent, and the `request`
 * API that undici's index installs on every dispatcher. Importing them alone
 * keeps the rest of undici (fetch, WebSocket, caches, mocks) out of the bundle.
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentClass: typeof Agent;
  export default AgentClass;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  const request: (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
  export default request;
}
