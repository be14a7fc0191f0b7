// The OpenAPI fuzz suite: requests generated (fast-check) from the served document's JSON schemas
// against every operation, as an admin, a viewer and no one, with path ids of real records and
// random ones. No request may answer 5xx (or stall), every 4xx is a problem+json that leaks
// nothing, and a refused request leaves every table's row count (change log and audit included)
// as it was. Size: FUZZ_RUNS requests in all (default 5000, spread evenly over the operations);
// FUZZ_SEED fixes the generator (default below, printed; a failure prints the shrunk request).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import Mocha from 'mocha';
import { CONSOLE_OUT_DIR } from '../scripts/build-console.js';
import { addMember, assertNoLeak, mintToken, type Member } from './support/http-assertions.js';
import { WEBHOOK_DEFAULTS } from '../src/platform/config.js';
import { httpSuite } from './support/http-assertions.js';
import {
  bodyText,
  operationsOf,
  pathParam,
  queryString,
  requestBody,
  type FuzzBody,
  type IdPools,
  type JsonSchema,
  type OpenApiOperation,
  yamlRequestBody,
} from './support/fuzz.js';
import { dereference } from './support/openapi.js';

const TOTAL_RUNS = positiveInt(process.env.FUZZ_RUNS ?? process.env.FUZZ_SIZE, 5000);
const SEED = Number.parseInt(process.env.FUZZ_SEED ?? '', 10) || 20_261_202;
const ANSWER_WITHIN_MS = 20_000;

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw.trim() === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got '${raw}'`);
  return n;
}

type Actor = 'admin' | 'viewer' | 'anonymous';

interface FuzzRequest {
  actor: Actor;
  method: string;
  url: string;
  body?: FuzzBody;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

const uniq = () => randomUUID().slice(0, 8);

/** The smallest body the schema takes: required fields only, first enum values, unique names. */
function minimalBody(schema: JsonSchema, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const value = (s: JsonSchema): unknown => {
    if ('const' in s) return s.const;
    if (Array.isArray(s.enum)) return s.enum[0];
    if (s.anyOf) return value(s.anyOf[0]);
    if (s.type === 'array') return s.minItems ? [value(s.items)] : [];
    if (s.type === 'object') return minimalBody(s);
    if (s.type === 'integer' || s.type === 'number') return s.minimum ?? 1;
    if (s.type === 'boolean') return false;
    if (s.format === 'email') return `fuzz-${uniq()}@example.com`;
    if (s.pattern) return `fuzz-${uniq()}`;
    return `fuzz ${uniq()}`.slice(0, s.maxLength ?? 100);
  };
  for (const key of schema.required ?? []) out[key] = value(schema.properties[key]);
  return { ...out, ...overrides };
}

/**
 * Runs per operation, FUZZ_RUNS in all: operations whose body takes a password (bcrypt at cost 12
 * is a quarter of a second per request, by design) get a quarter share, the others the rest.
 */
function runsPerOperation(ops: OpenApiOperation[]): Map<OpenApiOperation, number> {
  const hashes = (op: OpenApiOperation) => Boolean(op.body?.properties?.password);
  const slow = ops.filter(hashes).length;
  const share = Math.ceil(TOTAL_RUNS / ops.length);
  const fewer = Math.max(1, Math.ceil(share / 4));
  const more = Math.ceil((TOTAL_RUNS - slow * fewer) / (ops.length - slow));
  return new Map(ops.map((op) => [op, hashes(op) ? fewer : more]));
}

describe('OpenAPI fuzz: every operation, generated requests', function () {
  this.timeout(600_000);
  // No delivery worker and no change-log followers on this node: the webhooks fuzz creates (any URL)
  // never leave the machine, and nothing (delivery rows, derived score events) is written behind a
  // request's back while its row counts are compared.
  const suite = httpSuite({ webhooks: { ...WEBHOOK_DEFAULTS, deliver: false }, derivedEvents: { run: false, pollMs: 60_000 } });
  let viewer: Member;
  let tokens: Record<Exclude<Actor, 'anonymous'>, string>;
  let tables: string[];
  let requests = 0;
  let operations: OpenApiOperation[] = [];
  let pools: IdPools;

  /** '' when equal, else the tables whose counts moved. */
  function changedCounts(before: Record<string, number>, after: Record<string, number>): string {
    return tables
      .filter((t) => after[t] !== before[t])
      .map((t) => `${t} ${before[t]} → ${after[t]}`)
      .join(', ');
  }

  async function rowCounts(): Promise<Record<string, number>> {
    const sql = `select ${tables.map((t, i) => `(select count(*) from "${t}")::int as c${i}`).join(', ')}`;
    const row = (await suite.app.db.knex.raw(sql)).rows[0] as Record<string, number>;
    return Object.fromEntries(tables.map((t, i) => [t, row[`c${i}`]]));
  }

  /** Tokens at the users' current token version (a fuzzed logout ends the session it came with). */
  async function mintTokens(): Promise<void> {
    const knex = suite.app.db.knex;
    const version = async (id: string) => (await knex('users').where({ id }).first('token_version')).token_version as number;
    const { tenantId, userId } = suite.admin;
    tokens = {
      admin: mintToken(tenantId, userId, 3600, undefined, await version(userId)),
      viewer: mintToken(tenantId, viewer.id, 3600, undefined, await version(viewer.id)),
    };
  }

  async function send(req: FuzzRequest): Promise<Answer> {
    requests++;
    const headers: Record<string, string> = {};
    if (req.actor !== 'anonymous') headers.authorization = `Bearer ${tokens[req.actor]}`;
    let body: string | undefined;
    if (req.body && req.method !== 'GET') {
      body = req.body.raw ?? bodyText(req.body.json);
      headers['content-type'] = req.body.contentType ?? 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(`${suite.app.url}${req.url}`, { method: req.method, headers, body, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
    } catch (err) {
      return { status: 599, contentType: '', text: `no answer: ${(err as Error).message}` };
    }
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
  }

  function describeRequest(req: FuzzRequest): string {
    const body = req.body === undefined ? '(none)' : (req.body.raw ?? bodyText(req.body.json));
    return [
      `${req.method} ${req.url.slice(0, 2000)} as ${req.actor}`,
      `  content-type: ${req.body?.contentType ?? (req.body ? 'application/json' : '-')}`,
      `  body: ${body.slice(0, 2000)}${body.length > 2000 ? ` … (${body.length} chars)` : ''}`,
    ].join('\n');
  }

  function describeFailure(req: FuzzRequest, res: Answer, why: string): string {
    return `${why}\n  ${describeRequest(req)}\n  answered ${res.status}: ${res.text.slice(0, 1500)}`;
  }

  function requestArbitrary(op: OpenApiOperation, ids: IdPools): fc.Arbitrary<FuzzRequest> {
    const segments = op.path.split('/');
    const params = op.pathParams.map((name) => pathParam(segments[segments.indexOf(`{${name}}`) - 1], ids));
    const actor: fc.Arbitrary<Actor> = op.public
      ? fc.constantFrom<Actor>('anonymous', 'anonymous', 'anonymous', 'admin')
      : fc.constantFrom<Actor>('admin', 'admin', 'admin', 'viewer', 'viewer', 'anonymous');
    return fc
      .record({
        actor,
        params: params.length ? fc.tuple(...params) : fc.constant([] as string[]),
        query: queryString(op.query, ids),
        body: op.yamlBody ? yamlRequestBody(op.yamlBody) : requestBody(op.body, ids),
      })
      .map(({ actor: who, params: values, query, body }) => {
        let path = op.path;
        op.pathParams.forEach((name, i) => {
          path = path.replace(`{${name}}`, values[i]);
        });
        const req: FuzzRequest = { actor: who, method: op.method, url: `${path}${query}`, body };
        // fast-check prints a counterexample with this (its own printer recurses into deep bodies).
        return Object.assign(req, { [fc.toStringMethod]: () => describeRequest(req) });
      });
  }

  const startedAt = performance.now();
  const startedCpu = process.cpuUsage();

  before(async function () {
    this.timeout(120_000);
    const { app, admin } = suite;
    viewer = await addMember(app, admin, 'viewer');
    await mintTokens();
    // Every table of the schema this connection may read (all of them, unless roles are split).
    tables = (
      (await app.db
        .knex('pg_tables')
        .where({ schemaname: 'public' })
        .whereRaw("has_table_privilege(format('%I.%I', schemaname, tablename), 'SELECT')")
        .select('tablename')) as { tablename: string }[]
    )
      .map((r) => r.tablename)
      .sort();
    assert.ok(
      ['change_events', 'audit_logs', 'services', 'users'].every((t) => tables.includes(t)),
      `counted tables: ${tables.join(', ')}`,
    );

    const docRes = await app.client().get('/api/v1/openapi.json');
    assert.equal(docRes.status, 200, `GET /api/v1/openapi.json: ${docRes.status}`);
    // The generators walk schemas inline: every component reference resolved first.
    const doc = dereference(docRes.body) as { paths: Record<string, Record<string, JsonSchema>> };
    const bodyOf = (path: string, method = 'post') => doc.paths[path][method].requestBody.content['application/json'].schema as JsonSchema;

    // Real records of every kind (two each), spare users (never the acting ones), grants, a
    // widget, a comment and an API key: the ids the fuzzed paths and bodies draw from.
    const bySegment: Record<string, string[]> = {};
    const add = (segment: string, id: string) => (bySegment[segment] ??= []).push(id);
    const create = async (path: string, body: Record<string, unknown>) => {
      const res = await admin.client.post(path, body);
      assert.equal(res.status, 201, `set-up POST ${path}: ${res.status} ${res.text}`);
      return res.body.data as Record<string, any>;
    };
    for (let i = 0; i < 3; i++) add('users', (await create('/api/v1/users', minimalBody(bodyOf('/api/v1/users')))).id);
    const kinds = ['teams', 'people', 'products', 'services', 'components', 'resources', 'repositories', 'incidents', 'scorecards', 'dashboards'];
    for (const kind of kinds) {
      for (let i = 0; i < 2; i++) {
        const record = await create(`/api/v1/${kind}`, minimalBody(bodyOf(`/api/v1/${kind}`)));
        add(kind, record.id);
        if (`/api/v1/${kind}/{id}/permissions` in doc.paths) {
          const grant = await create(`/api/v1/${kind}/${record.id}/permissions`, { user_id: bySegment.users[i], level: 'VIEW' });
          add('permissions', grant.id);
        }
      }
    }
    for (const dashboard of bySegment.dashboards) {
      add('widgets', (await create(`/api/v1/dashboards/${dashboard}/widgets`, minimalBody(bodyOf('/api/v1/dashboards/{id}/widgets')))).id);
    }
    for (const team of bySegment.teams) {
      add('comments', (await create('/api/v1/comments', minimalBody(bodyOf('/api/v1/comments'), { entity_type: 'teams', entity_id: team }))).id);
    }
    add('api-keys', (await create('/api/v1/api-keys', minimalBody(bodyOf('/api/v1/api-keys')))).id);
    // A webhook and one recorded attempt, the id {did} draws from: written as the delivery worker
    // writes it, since this node runs none.
    const webhook = await create('/api/v1/webhooks', { url: 'http://127.0.0.1:9/fuzz' });
    add('webhooks', webhook.id);
    const [delivery] = await app.db
      .knex('webhook_deliveries')
      .insert({ tenant_id: admin.tenantId, webhook_id: webhook.id, seq: 1, status: 'failed', attempt: 1, error: 'fixture' })
      .returning('id');
    add('deliveries', delivery.id as string);
    const ids: IdPools = { bySegment, all: Object.values(bySegment).flat() };
    // The console's files are its "records": the names the build wrote (not ids, so not in `all`).
    bySegment.console = readdirSync(CONSOLE_OUT_DIR).filter((f) => !f.startsWith('.') && f !== 'index.html');
    pools = ids;

    // Deletes run last, so the other operations meet live records.
    const ops = operationsOf(doc).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    operations = ops;
    const runs = runsPerOperation(ops);
    console.log(
      `      fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${TOTAL_RUNS}: ${Math.max(...runs.values())} runs per operation ` +
        `(${Math.min(...runs.values())} where a password is hashed) × ${ops.length} operations`,
    );

    const parent = this.test!.parent!;
    ops.forEach((op, index) => {
      parent.addTest(
        new Mocha.Test(`${op.method} ${op.path}`, async () => {
          await mintTokens();
          // A GET writes nothing, answered or refused: its counts are compared once, after the run.
          const readOnly = op.method === 'GET';
          let before = await rowCounts();
          const property = fc.asyncProperty(requestArbitrary(op, ids), async (req) => {
            const res = await send(req);
            if (res.status >= 500) throw new Error(describeFailure(req, res, `answered ${res.status}`));
            if (res.status < 400) {
              if (!readOnly) before = await rowCounts();
              return;
            }
            if (!/^application\/problem\+json/.test(res.contentType))
              throw new Error(describeFailure(req, res, `a ${res.status} that is not problem+json (${res.contentType})`));
            try {
              assertNoLeak(res.text);
            } catch (err) {
              throw new Error(describeFailure(req, res, (err as Error).message), { cause: err });
            }
            if (readOnly) return;
            const changed = changedCounts(before, await rowCounts());
            if (changed) throw new Error(describeFailure(req, res, `a refused request changed row counts: ${changed}`));
          });
          await fc.assert(property, { numRuns: runs.get(op)!, seed: SEED + index });
          if (readOnly) {
            const changed = changedCounts(before, await rowCounts());
            assert.equal(changed, '', `${op.method} ${op.path} (seed ${SEED + index}) changed row counts`);
          }
        }),
      );
    });
    parent.addTest(
      new Mocha.Test('sent the requested number of requests', () => {
        assert.ok(requests >= TOTAL_RUNS, `${requests} requests sent, FUZZ_RUNS=${TOTAL_RUNS}`);
        const cpu = process.cpuUsage(startedCpu);
        console.log(
          `      fuzz: ${requests} requests, none answered 5xx, in ${((performance.now() - startedAt) / 1000).toFixed(1)} s ` +
            `(this process: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU)`,
        );
      }),
    );
  });

  it('has real records for every path parameter of the served document', () => {
    for (const op of operations) {
      const segments = op.path.split('/');
      for (const name of op.pathParams) {
        const segment = segments[segments.indexOf(`{${name}}`) - 1];
        assert.ok(pools.bySegment[segment]?.length, `no real ids for {${name}} of ${op.method} ${op.path}`);
      }
    }
    assert.ok(operations.length >= 100, `${operations.length} operations in the document`);
  });
});
