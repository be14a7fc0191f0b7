// The one error vocabulary of the app: services throw AppErrors, the HTTP layer turns them
// (and zod / database errors) into RFC 9457 problem+json.
import { ZodError } from 'zod';

export interface FieldIssue {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldIssue[],
  ) {
    super(detail ?? title);
    this.name = 'AppError';
  }
}

/** createError('not_found', 404, 'Not Found') → (detail?, errors?) => AppError */
export function createError(code: string, status: number, title: string) {
  return (detail?: string, errors?: FieldIssue[]) => new AppError(code, status, title, detail, errors);
}

export const BadRequest = createError('bad_request', 400, 'Bad Request');
export const Unauthorized = createError('unauthorized', 401, 'Unauthorized');
export const Forbidden = createError('forbidden', 403, 'Forbidden');
export const NotFound = createError('not_found', 404, 'Not Found');
export const Conflict = createError('conflict', 409, 'Conflict');
export const PreconditionFailed = createError('precondition_failed', 412, 'Precondition Failed');
export const PayloadTooLarge = createError('payload_too_large', 413, 'Payload Too Large');
export const UnsupportedMediaType = createError('unsupported_media_type', 415, 'Unsupported Media Type');
export const UnprocessableEntity = createError('validation_failed', 422, 'Unprocessable Entity');
export const ServiceUnavailable = createError('service_unavailable', 503, 'Service Unavailable');

/** A rate limit was reached (429): answered with `Retry-After` in seconds. */
/** What a read gives, or null where it answers 404 (a record deleted or gone meanwhile); other errors go on. */
export async function unlessNotFound<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof AppError && err.status === 404) return null;
    throw err;
  }
}

export class TooManyRequestsError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', 429, 'Too Many Requests', `Too many attempts; retry in ${retryAfterSeconds} s.`);
  }
}

/** A field's path as errors[].path names it: `attributes.endpoint`, `widgets.0.title`, `(root)`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.') || '(root)';
}

export function zodIssues(err: ZodError, prefix: (string | number)[] = []): FieldIssue[] {
  const at = (path: PropertyKey[]) => fieldPath([...prefix, ...path]);
  return err.issues.flatMap((i) =>
    // One issue per unknown key, at the key's own path, so clients can point at the field.
    i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ path: at([...i.path, k]), message: 'unknown field' })) : [{ path: at(i.path), message: i.message }],
  );
}

export function validationError(err: ZodError, prefix: (string | number)[] = []): AppError {
  return UnprocessableEntity('The request did not pass validation.', zodIssues(err, prefix));
}

// PostgreSQL SQLSTATEs that mean "the database is not there", not "your input is wrong".
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);
/** A unix socket's file is missing while its server is down (the embedded PostgreSQL restarting). */
const isMissingSocket = (e: { code?: string; syscall?: string }) => e.code === 'ENOENT' && e.syscall === 'connect';
// node-postgres's own errors for a connection that went away without a word from the server (a
// restarted or crashed PostgreSQL): they carry no SQLSTATE, only these messages (knex prefixes the SQL).
const CONNECTION_LOST = /Connection terminated|Client has encountered a connection error and is not queryable|Client was closed and is not queryable/;

/** PostgreSQL's answer to a prepared statement whose result columns changed under it. */
export function isStalePlan(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === '0A000' && /cached plan must not change result type/.test(e.message ?? '');
}

/** Map anything thrown below the HTTP layer to an AppError, or undefined if it is a genuine bug. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return validationError(err);
  // The router could not decode a path parameter (`%zz`, bytes that are no UTF-8): bad input.
  if (err instanceof URIError && (err as URIError & { status?: number }).status === 400) {
    return BadRequest('A path parameter is not valid percent-encoded UTF-8.');
  }
  if (!err || typeof err !== 'object') return undefined;
  // Objection wraps driver errors (UniqueViolationError…) and keeps the original as nativeError.
  const wrapped = err as { nativeError?: unknown };
  const e = (wrapped.nativeError ?? err) as { code?: string; constraint?: string; message?: string; name?: string };
  if (!e || typeof e !== 'object') return undefined;
  if (isStalePlan(e)) {
    // A write whose prepared statement met a schema change mid-deploy: its connection was dropped.
    return ServiceUnavailable('The database schema changed under this request; retry it.');
  }
  if (e.name === 'KnexTimeoutError' || (e.message ?? '').includes('Timeout acquiring a connection')) {
    return ServiceUnavailable('The database is not reachable right now.');
  }
  switch (e.code) {
    case '57014':
      // statement_timeout (or a cancel): the request asked more of the database than it allows.
      return ServiceUnavailable('The request took longer than the database allows; narrow it or retry.');
    case '23505':
      return Conflict('A record with the same unique value already exists.', constraintIssue(e.constraint, 'must be unique'));
    case '23503':
      return UnprocessableEntity('A referenced record does not exist.', constraintIssue(e.constraint, 'references a missing record'));
    case '23514':
    case '23502':
      return UnprocessableEntity('A value is not acceptable to the database.');
    case '40001':
    case '40P01':
      return Conflict('The write collided with a concurrent write; retry it.');
  }
  // Class 22, data exceptions: a value PostgreSQL cannot take (NUL bytes, out-of-range numbers,
  // malformed timestamps) is bad input, not a fault of ours.
  if (e.code?.startsWith('22')) return UnprocessableEntity('A value is not acceptable to the database.');
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || UNAVAILABLE_ERRNOS.has(e.code) || isMissingSocket(e as { code?: string; syscall?: string }))) {
    return ServiceUnavailable('The database is not reachable right now.');
  }
  if (!e.code && CONNECTION_LOST.test(e.message ?? '')) return ServiceUnavailable('The database is not reachable right now.');
  return undefined;
}

/** Our constraints are named `<table>_tenant_id_<column>_unique` etc.: report the column. */
function constraintIssue(constraint: string | undefined, message: string): FieldIssue[] | undefined {
  if (!constraint) return undefined;
  const unique = /_tenant_id_(\w+?)_unique$/.exec(constraint);
  const foreign = /^[a-z_]+?_([a-z_]+_id)_foreign$/.exec(constraint);
  return [{ path: unique?.[1] ?? foreign?.[1] ?? constraint, message }];
}
