// The typed client of the AppInventory Live REST API: openapi-fetch over the types that
// openapi-typescript generates from the OpenAPI document the server serves (schema.d.ts, written by
// `npm run client:generate`; a test fails when it differs from the served document). The console
// uses it, and so can any TypeScript integrator: copy this folder, install openapi-fetch.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
/** The API's named shapes: `Schemas['Incident']`, `Schemas['ServiceDetail']`, … */
export type Schemas = components['schemas'];
export type ApiClient = Client<paths>;
/** An error answer (RFC 9457 problem details), as every non-2xx response carries. */
export type Problem = Schemas['Problem'];

export interface ApiClientOptions {
  /** The server's origin, e.g. `http://127.0.0.1:3000` (the console passes its own). */
  baseUrl: string;
  /** The bearer credential for each request: a login token or an API key (undefined: none sent). */
  token: () => string | undefined;
  /** Called on a 401 from a request that carried a credential: the session is over. */
  onUnauthorized?: (problem: Problem | undefined) => void;
  fetch?: typeof globalThis.fetch;
}

export function createApiClient(opts: ApiClientOptions): ApiClient {
  const client = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
  const auth: Middleware = {
    onRequest({ request }) {
      const token = opts.token();
      if (token !== undefined && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
    async onResponse({ request, response }) {
      if (response.status === 401 && request.headers.has('authorization') && opts.onUnauthorized) {
        opts.onUnauthorized(await problemOf(response.clone()));
      }
      return response;
    },
  };
  client.use(auth);
  return client;
}

async function problemOf(response: Response): Promise<Problem | undefined> {
  try {
    return (await response.json()) as Problem;
  } catch {
    return undefined;
  }
}

/** One line for a problem: its title, then each field error as `path: message`. */
export function describeProblem(problem: Problem | undefined, fallback = 'The request failed.'): string {
  if (!problem) return fallback;
  const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`);
  return [problem.detail ?? problem.title, ...fields].filter(Boolean).join(' · ') || fallback;
}
