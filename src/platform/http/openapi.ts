// Routes declared once: `api.op(method, path, meta, handler)` registers the Express handler and
// the OpenAPI operation together, so the document (generated from the same zod schemas that
// validate requests) cannot drift from the routes that exist.
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { IDEMPOTENCY_KEY, idempotentOperation } from './idempotency.js';
import { registerDocumentedRoute, stampRouteTemplate } from './route-template.js';
import { noStore } from './security.js';

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

export interface OperationMeta {
  summary: string;
  /** Request body schema (JSON). */
  body?: z.ZodType;
  /** Query string schema. */
  query?: z.ZodType;
  /** Schema of `data` in the response; omitted for 204. */
  response?: z.ZodType;
  status?: 200 | 201 | 204;
  /** Paginated `{data: [...], meta}` instead of `{data}`. */
  paginated?: boolean;
  /** Public routes (signup, login) need no bearer token. */
  public?: boolean;
  /** The response carries a token or a secret: sent with `Cache-Control: no-store`, errors included. */
  secret?: boolean;
  /**
   * Authenticated POSTs take an Idempotency-Key unless this is false: for operations whose answer
   * must never be stored or replayed (a renewed token) or that are idempotent anyway (logout).
   */
  idempotencyKey?: boolean;
  /** Fields of `data` shown once (a new API key): never stored for a replay, which answers without them. */
  secretFields?: string[];
}

/** Whether an operation accepts Idempotency-Key: every POST behind authentication, unless it opts out. */
function acceptsIdempotencyKey(method: Method, meta: OperationMeta): boolean {
  return method === 'post' && !meta.public && meta.idempotencyKey !== false;
}

interface Operation extends OperationMeta {
  method: Method;
  path: string;
  tag: string;
}

const operations: Operation[] = [];

export interface DocumentedRouter {
  /** Where the router is mounted under /api/v1. */
  prefix: string;
  router: Router;
  op(method: Method, path: string, meta: OperationMeta, handler: RequestHandler): void;
}

/** A router mounted at `prefix` whose routes are also recorded for the OpenAPI document. */
export function documentedRouter(prefix: string, tag: string): DocumentedRouter {
  const router = Router();
  return {
    prefix,
    router,
    op(method, path, meta, handler) {
      if (meta.secret && acceptsIdempotencyKey(method, meta) && !meta.secretFields?.length) {
        throw new Error(`${method.toUpperCase()} ${prefix}${path}: a response with a secret names its secretFields or takes no Idempotency-Key`);
      }
      const before: RequestHandler[] = [];
      if (meta.secret) before.push(noStore);
      if (acceptsIdempotencyKey(method, meta)) before.push(idempotentOperation({ secretFields: meta.secretFields }));
      // The route's template is recorded first, so its metrics and log lines keep it even when a later step fails.
      router[method](path, stampRouteTemplate, ...before, handler);
      const full = `${prefix}${path === '/' ? '' : path}` || '/';
      registerDocumentedRoute(method, full);
      if (!operations.some((o) => o.method === method && o.path === full)) operations.push({ ...meta, method, path: full, tag });
    },
  };
}

export function documentedOperations(): readonly Operation[] {
  return operations;
}

const problem = {
  description: 'Error (application/problem+json, RFC 9457)',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        properties: {
          type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
        },
        required: ['type', 'title', 'status'],
      },
    },
  },
};

/** The list envelope's meta: keyset pages, and the total counted once per walk. */
const PAGE_META = {
  type: 'object',
  properties: {
    limit: { type: 'integer' },
    total: {
      type: 'integer',
      description: 'Rows matching the filters. Counted exactly for the first page; the pages after it carry that '
        + 'count inside their cursor, so rows created or deleted during a walk do not change it. A cursor used with '
        + 'other filters is counted again.',
    },
    next_cursor: { type: ['string', 'null'], description: 'Opaque; pass as `cursor` for the next page. Null on the last page.' },
  },
};

const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Makes a retry safe: the first response to a key is kept (per tenant and caller, 24 h by default) '
    + 'and sent again, with `Idempotent-Replayed: true`, to a retry with the same body; the same key with another '
    + 'body or operation is a 422, and a retry while the first request runs waits for it (then a 409). Answers '
    + 'with a 409, a 429 or a 5xx are not kept. A secret shown once (a new API key) is not replayed; '
    + '`Idempotent-Withheld` names the fields left out.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: IDEMPOTENCY_KEY.source },
};

/** Headers of an answer replayed for an Idempotency-Key. */
const REPLAY_HEADERS = {
  'Idempotent-Replayed': { description: '`true` when this is the stored first answer to the key', schema: { type: 'string', const: 'true' } },
  'Idempotent-Withheld': { description: 'On a replay: the fields of `data` shown only the first time (a new API key)', schema: { type: 'string' } },
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
}

function queryParameters(schema: z.ZodType) {
  const json = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name, in: 'query', required: json.required?.includes(name) ?? false, schema: s,
  }));
}

export function openApiDocument(info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = `/api/v1${op.path.replace(/:(\w+)/g, '{$1}')}`;
    const pathParams = [...op.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1], in: 'path', required: true, schema: { type: 'string', format: 'uuid' },
    }));
    const status = op.status ?? 200;
    const keyed = acceptsIdempotencyKey(op.method, op);
    const dataSchema = op.response ? jsonSchema(op.response, 'output') : { type: 'object' };
    const body = op.paginated
      ? { type: 'object', properties: { data: { type: 'array', items: dataSchema }, meta: PAGE_META } }
      : { type: 'object', properties: { data: dataSchema } };
    paths[path] ??= {};
    paths[path][op.method] = {
      tags: [op.tag],
      summary: op.summary,
      ...(op.public ? { security: [] } : {}),
      parameters: [
        ...pathParams, ...(op.query ? queryParameters(op.query) : []),
        ...(keyed ? [IDEMPOTENCY_KEY_PARAMETER] : []),
      ],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } } : {}),
      responses: {
        [status]: status === 204 ? { description: 'No Content' } : {
          description: 'OK',
          ...(op.secret || keyed ? {
            headers: {
              ...(op.secret ? { 'Cache-Control': { schema: { type: 'string', const: 'no-store' } } } : {}),
              ...(keyed ? REPLAY_HEADERS : {}),
            },
          } : {}),
          content: { 'application/json': { schema: body } },
        },
        '4XX': problem,
        '5XX': problem,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Login token or API key' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
