// The console's one API client (the typed client in console/client), bound to the session's token.
import { createApiClient, describeProblem, type Problem } from '../client/index.js';
import { session } from './session.js';

export const api = createApiClient({
  baseUrl: location.origin,
  token: () => session.current?.token,
  onUnauthorized: (problem) => session.end(describeProblem(problem, 'Your session has ended.')),
});

/** The `data` of a successful answer, or an Error with the problem's text. */
export async function data<T>(call: Promise<{ data?: { data: T }; error?: unknown; response: Response }>): Promise<T> {
  const { data: body, error, response } = await call;
  if (body !== undefined) return body.data;
  throw new ApiError(response.status, error as Problem | undefined);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(describeProblem(problem, `The server answered ${status}.`));
  }
}
