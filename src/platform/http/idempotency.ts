// Idempotency-Key on POST: the first response to a key is stored (per tenant, actor and key, for
// IDEMPOTENCY_TTL_SECONDS) and sent again to a retry with the same request, so a client on a
// flaky network can retry a create without creating twice. State lives in PostgreSQL, so a retry
// that reaches another node finds it too.
import { createHash, randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Knex } from 'knex';
import type { IdempotencySettings } from '../config.js';
import { runNamed } from '../db.js';
import { BadRequest, Conflict, UnprocessableEntity } from '../errors.js';
import type { Logger } from '../logger.js';
import { ctxOf } from './respond.js';

/** Visible ASCII, 1-255 characters: a UUID, a ULID or any client-made token fits. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The response headers a replay carries again (a body's Content-Length is computed anew). */
const REPLAYED_HEADERS = ['content-type', 'location', 'etag', 'cache-control'];

/** A retry polls its key at this pace while the first request runs (ms, doubling to the cap). */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;

/** Expired keys are deleted at most this often per node, this many at a time. */
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1_000;

declare module 'express-serve-static-core' {
  interface Request {
    idempotencyKeys?: IdempotencyKeys;
  }
}

/**
 * Takes the key for this request in one statement: a new key, an expired one, or one whose first
 * request's lease ran out (its node died before storing an answer) is claimed for `owner`;
 * otherwise the stored row comes back as it is.
 */
const CLAIM_SQL = `
WITH claim AS (
  INSERT INTO idempotency_keys AS k (tenant_id, actor_id, key, actor_type, method, path, request_hash, state, owner,
                                     locked_until, created_at, expires_at)
  VALUES (:tenant, :actor, :key, :actor_type, :method, :path, :hash, 'in_flight', :owner,
          now() + CAST(:lease_ms AS integer) * interval '1 millisecond', now(), now() + CAST(:ttl_s AS integer) * interval '1 second')
  ON CONFLICT (tenant_id, actor_id, key) DO UPDATE SET
    actor_type = EXCLUDED.actor_type, method = EXCLUDED.method, path = EXCLUDED.path, request_hash = EXCLUDED.request_hash,
    state = 'in_flight', owner = EXCLUDED.owner, locked_until = EXCLUDED.locked_until, status_code = NULL,
    response_headers = NULL, response_body = NULL, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
  WHERE k.expires_at <= now()
     OR (k.state = 'in_flight' AND k.locked_until <= now()
         AND k.method = EXCLUDED.method AND k.path = EXCLUDED.path AND k.request_hash = EXCLUDED.request_hash)
  RETURNING k.owner
)
SELECT true AS claimed, NULL AS method, NULL AS path, NULL AS request_hash, NULL AS state, NULL::integer AS status_code,
       NULL::jsonb AS response_headers, NULL AS response_body
  FROM claim
UNION ALL
SELECT false, k.method, k.path, k.request_hash, k.state, k.status_code, k.response_headers, k.response_body::text
  FROM idempotency_keys k
 WHERE k.tenant_id = :tenant AND k.actor_id = :actor AND k.key = :key AND NOT EXISTS (SELECT 1 FROM claim)`;

const COMPLETE_SQL = `
UPDATE idempotency_keys
   SET state = 'done', owner = NULL, locked_until = NULL, status_code = :status,
       response_headers = CAST(:headers AS jsonb), response_body = CAST(:body AS json)
 WHERE tenant_id = :tenant AND actor_id = :actor AND key = :key AND owner = :owner`;

const RELEASE_SQL = `
DELETE FROM idempotency_keys WHERE tenant_id = :tenant AND actor_id = :actor AND key = :key AND owner = :owner`;

/** Across tenants on purpose: housekeeping of rows nobody can use any more. */
const SWEEP_SQL = `
DELETE FROM idempotency_keys
 WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT CAST(:batch AS integer)))`;

/** Whose key, and which request it was first sent with. */
interface KeyedRequest {
  tenant: string;
  actor: string;
  actor_type: string;
  key: string;
  method: string;
  path: string;
  hash: string;
}

interface StoredRow {
  claimed: boolean;
  method: string | null;
  path: string | null;
  request_hash: string | null;
  state: 'in_flight' | 'done' | null;
  status_code: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  /** The body's JSON text as first sent (less any secret), or null for an empty body. */
  body: string | null;
}

type Claim = { kind: 'owner'; owner: string } | { kind: 'in_flight' } | { kind: 'done'; response: StoredResponse };

/**
 * Which first answers are final and so replayed: every 2xx and 4xx, except a 409 (a conflict with
 * a concurrent write or a duplicate, worth retrying) and a 429 (a limit that lifts); those and every
 * 5xx free the key, so the retry runs the request again.
 */
export function isFinalStatus(status: number): boolean {
  return status < 500 && status !== 409 && status !== 429;
}

/** The body in one canonical text: object keys sorted at every depth, so key order does not count. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    return `{${entries.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The stored keys of one node's database. */
export class IdempotencyKeys {
  private lastSweep = Date.now();

  constructor(
    private readonly knex: Knex,
    readonly settings: IdempotencySettings,
    readonly logger: Logger,
  ) {}

  async claim(req: KeyedRequest, owner: string): Promise<Claim | { kind: 'mismatch'; what: 'path' | 'body' }> {
    const { rows } = await runNamed(this.knex, CLAIM_SQL, {
      ...req,
      owner,
      lease_ms: this.settings.leaseMs,
      ttl_s: this.settings.ttlSeconds,
    });
    const row = rows[0] as unknown as StoredRow | undefined;
    if (row?.claimed) {
      this.sweepSometimes();
      return { kind: 'owner', owner };
    }
    // Taken by a request that committed after this statement's snapshot: still running, look again.
    if (!row) return { kind: 'in_flight' };
    if (row.method !== req.method || row.path !== req.path) return { kind: 'mismatch', what: 'path' };
    if (row.request_hash !== req.hash) return { kind: 'mismatch', what: 'body' };
    if (row.state !== 'done') return { kind: 'in_flight' };
    return { kind: 'done', response: { status: row.status_code!, headers: row.response_headers ?? {}, body: row.response_body } };
  }

  async complete(req: KeyedRequest, owner: string, response: StoredResponse): Promise<void> {
    await runNamed(this.knex, COMPLETE_SQL, {
      tenant: req.tenant,
      actor: req.actor,
      key: req.key,
      owner,
      status: response.status,
      headers: JSON.stringify(response.headers),
      body: response.body,
    });
  }

  async release(req: KeyedRequest, owner: string): Promise<void> {
    await runNamed(this.knex, RELEASE_SQL, { tenant: req.tenant, actor: req.actor, key: req.key, owner });
  }

  /** Deletes up to one batch of expired keys; returns how many. */
  async sweep(): Promise<number> {
    this.lastSweep = Date.now();
    const result = (await runNamed(this.knex, SWEEP_SQL, { batch: SWEEP_BATCH })) as { rowCount?: number };
    return result.rowCount ?? 0;
  }

  /** An expired key is overwritten when it is used again; the others are deleted now and then, off the request. */
  private sweepSometimes(): void {
    if (Date.now() - this.lastSweep < SWEEP_EVERY_MS) return;
    this.sweep().catch((err: unknown) => this.logger.warn('idempotency key sweep failed', { err: String(err) }));
  }
}

/** Makes the node's key store available to the routes that accept Idempotency-Key. */
export function provideIdempotencyKeys(keys: IdempotencyKeys): RequestHandler {
  return (req, _res, next) => {
    req.idempotencyKeys = keys;
    next();
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function keyedRequest(req: Request, key: string): KeyedRequest | undefined {
  const { tenantId, actor } = ctxOf(req);
  if (!actor.id) return undefined;
  return {
    tenant: tenantId,
    actor: actor.id,
    actor_type: actor.type,
    key,
    method: req.method,
    path: req.originalUrl,
    hash: createHash('sha256').update(canonicalJson(req.body)).digest('hex'),
  };
}

function replay(res: Response, stored: StoredResponse): void {
  res.status(stored.status);
  for (const [name, value] of Object.entries(stored.headers)) res.set(name, value);
  res.set('Idempotent-Replayed', 'true');
  if (stored.body === null) res.end();
  else res.send(stored.body);
}

/** What is kept of the first response: the replayed headers and the body, without its secret fields. */
function storedResponse(res: Response, chunk: unknown, secretFields: readonly string[]): StoredResponse | undefined {
  const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = res.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  if (text === '') return { status: res.statusCode, headers, body: null };
  let body: string = text;
  try {
    const parsed = JSON.parse(text) as { data?: Record<string, unknown> } | null;
    const data = parsed?.data;
    const withheld = data && typeof data === 'object' ? secretFields.filter((f) => f in data) : [];
    if (withheld.length > 0) {
      for (const field of withheld) delete data![field];
      body = JSON.stringify(parsed);
      headers['idempotent-withheld'] = withheld.join(', ');
    }
  } catch {
    // Not JSON: nothing this API sends, and nothing the json column could keep.
    return undefined;
  }
  return { status: res.statusCode, headers, body };
}

/**
 * The gate of one POST operation. Without an Idempotency-Key header it does nothing. With one, a
 * retry of a finished request gets the stored response (`Idempotent-Replayed: true`); the same key
 * on another path or with another body is a 422; a retry while the first request runs waits for it
 * (IDEMPOTENCY_WAIT_MS, then a 409). The first request's response is stored before it is sent, so
 * a client that saw it finds it stored. Fields named in `secretFields` (of `data`) are never
 * stored: a replay answers without them and names them in `Idempotent-Withheld`.
 */
export function idempotentOperation(opts: { secretFields?: readonly string[] } = {}): RequestHandler {
  const secretFields = opts.secretFields ?? [];
  return async (req, res, next) => {
    const header = req.get('idempotency-key');
    if (header === undefined) {
      next();
      return;
    }
    if (!IDEMPOTENCY_KEY.test(header)) {
      throw BadRequest('Idempotency-Key must be 1-255 visible ASCII characters (a UUID, for example).', [
        { path: 'Idempotency-Key', message: 'must be 1-255 visible ASCII characters' },
      ]);
    }
    const keys = req.idempotencyKeys;
    if (!keys) throw new Error('Idempotency-Key accepted on a route without the key store');
    const keyed = keyedRequest(req, header);
    if (!keyed) {
      next();
      return;
    }
    const owner = randomUUID();
    const deadline = Date.now() + keys.settings.waitMs;
    let pause = POLL_FIRST_MS;
    for (;;) {
      const claim = await keys.claim(keyed, owner);
      if (claim.kind === 'owner') break;
      if (claim.kind === 'mismatch') {
        throw UnprocessableEntity(
          claim.what === 'path'
            ? 'This Idempotency-Key was first used for another operation; use a new key for a new request.'
            : 'This Idempotency-Key was first used with another request body; use a new key for a new request.',
          [{ path: 'Idempotency-Key', message: `already used with another ${claim.what === 'path' ? 'operation' : 'body'}` }],
        );
      }
      if (claim.kind === 'done') {
        replay(res, claim.response);
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        res.set('Retry-After', '1');
        throw Conflict('A request with this Idempotency-Key is still in progress; retry it later.');
      }
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, POLL_MAX_MS);
    }

    // This request owns the key: its response is stored (or the key freed) before it is sent.
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let ended = false;
    res.end = ((...args: unknown[]) => {
      if (ended) return end(...args);
      ended = true;
      const stored = isFinalStatus(res.statusCode) ? storedResponse(res, args[0], secretFields) : undefined;
      const settle = stored ? keys.complete(keyed, owner, stored) : keys.release(keyed, owner);
      settle
        .catch((err: unknown) => {
          // The key stays taken until its lease ends; a retry after that runs the request again.
          keys.logger.warn('idempotency key not settled', { request_id: req.id, err: String(err) });
        })
        .finally(() => end(...args));
      return res;
    }) as Response['end'];
    next();
  };
}
