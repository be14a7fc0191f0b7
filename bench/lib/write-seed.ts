// Tenants for the write suite: the first signs up through the API (the real path, and it yields a
// password hash), the others are inserted straight into tenants + users (signup hashes a password
// with bcrypt cost 12: 50 of them would take longer than the whole quick suite) and get a token
// minted with the bench nodes' JWT secret, as login would. Each tenant also gets services for the
// PATCHes to target and its change-log counter row, so every write takes the counter's UPDATE path.
import { randomUUID } from 'node:crypto';
import { TokenSigner } from '../../src/modules/auth/tokens.js';
import type { HttpClient } from './http-client.js';
import type { BenchDatabase } from './infra.js';
import { BENCH_JWT_SECRET } from './node-process.js';
import type { Log } from './types.js';

export interface WriteTenant {
  id: string;
  userId: string;
  token: string;
  /** Pre-created services of this tenant, the targets of PATCH. */
  serviceIds: string[];
}

export async function seedWriteTenants(
  db: BenchDatabase,
  anonymous: HttpClient,
  opts: { tenants: number; servicesPerTenant: number },
  log: Log,
): Promise<WriteTenant[]> {
  const run = Date.now().toString(36);
  const slug = `wbench-${run}-0`;
  const signup = await anonymous.json(
    'POST',
    '/api/v1/auth/signup',
    {
      tenant_name: `Write bench ${slug}`,
      tenant_slug: slug,
      email: `admin@${slug}.example`,
      password: 'correct horse battery staple',
      display_name: 'Bench Admin',
    },
    201,
  );
  const first = { id: signup.data.tenant.id as string, userId: signup.data.user.id as string, token: signup.data.access_token as string };
  const { password_hash: hash } = (await db.knex('users').where({ id: first.userId }).first('password_hash')) as { password_hash: string };

  const signer = new TokenSigner(BENCH_JWT_SECRET);
  const rest = Array.from({ length: opts.tenants - 1 }, (_, i) => ({ id: randomUUID(), userId: randomUUID(), slug: `wbench-${run}-${i + 1}` }));
  if (rest.length) {
    await db.knex('tenants').insert(rest.map((t) => ({ id: t.id, name: `Write bench ${t.slug}`, slug: t.slug })));
    await db.knex('users').insert(
      rest.map((t) => ({
        id: t.userId,
        tenant_id: t.id,
        email: `admin@${t.slug}.example`,
        display_name: 'Bench Admin',
        role: 'admin',
        password_hash: hash,
      })),
    );
  }
  const all = [first, ...rest.map((t) => ({ id: t.id, userId: t.userId, token: signer.sign({ sub: t.userId, tid: t.id, ver: 0 }) }))];

  await db.knex.raw(
    `INSERT INTO services (tenant_id, name, type, description, created_by, updated_by)
     SELECT u.tenant_id, 'patch-target-' || lpad(i::text, 4, '0'), 'api', 'seeded for PATCH', u.id, u.id
       FROM users u CROSS JOIN generate_series(1, ?) i WHERE u.tenant_id = ANY(?::uuid[])`,
    [opts.servicesPerTenant, all.map((t) => t.id)],
  );
  await db.knex.raw('INSERT INTO tenant_event_counters (tenant_id, last_seq) SELECT id, 0 FROM tenants WHERE id = ANY(?::uuid[]) ON CONFLICT DO NOTHING', [
    all.map((t) => t.id),
  ]);
  for (const table of ['tenants', 'users', 'services', 'tenant_event_counters', 'audit_logs', 'change_events']) {
    await db.knex.raw(`VACUUM ANALYZE ${table}`);
  }
  const rows = (await db
    .knex('services')
    .whereIn(
      'tenant_id',
      all.map((t) => t.id),
    )
    .orderBy('name')
    .select('id', 'tenant_id')) as { id: string; tenant_id: string }[];
  const byTenant = new Map<string, string[]>(all.map((t) => [t.id, []]));
  for (const r of rows) byTenant.get(r.tenant_id)!.push(r.id);
  log(`tenants: 1 signed up through the API, ${rest.length} inserted with minted tokens; ${rows.length} services to PATCH`);
  return all.map((t) => ({ ...t, serviceIds: byTenant.get(t.id)! }));
}
