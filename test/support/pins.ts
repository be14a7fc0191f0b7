// Helpers for the behaviour-pinning suites (authorization table, write contract, If-Match): the
// full set of actors of one tenant, API keys of any owner, and "nothing was written" snapshots.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { DERIVED_ACTIONS, addMember, assertProblem, type Member, type Role, type Tenant } from './http-assertions.js';
import type { ApiClient, ApiResponse, TestApp } from './server.js';

export const uniq = () => randomUUID().slice(0, 8);

/** A fresh, valid create body for each catalog collection. */
export const CATALOG: Record<string, () => Record<string, unknown>> = {
  teams: () => ({ name: `team-${uniq()}` }),
  people: () => ({ name: `person-${uniq()}`, email: `p-${uniq()}@example.com` }),
  products: () => ({ name: `product-${uniq()}` }),
  services: () => ({ name: `service-${uniq()}`, type: 'api' }),
  components: () => ({ name: `component-${uniq()}`, type: 'library' }),
  resources: () => ({ name: `resource-${uniq()}`, type: 'ec2' }),
  repositories: () => ({ name: `repo-${uniq()}`, provider: 'github' }),
};

export type ActorName =
  'admin' | 'editor' | 'incident_commander' | 'viewer' | 'viewer_edit_grant' | 'viewer_everyone_grant' | 'ro_admin_key' | 'rw_editor_key' | 'rw_admin_key';

export interface Actor {
  name: ActorName;
  client: ApiClient;
  /** The user the actor speaks for (a key's owner). */
  userId: string;
  role: Role;
  canWrite: boolean;
  /** 'personal': holds an EDIT grant on the record of the cell; 'everyone': the record has an EDIT grant to everyone. */
  grant?: 'personal' | 'everyone';
}

/**
 * An API key of any user of the tenant. Keys are created over REST by admins for themselves only,
 * so a key owned by an editor is stored the way the service stores one (SHA-256 of the key).
 */
export async function insertApiKey(knex: Knex, tenantId: string, userId: string, scope: 'read' | 'read_write'): Promise<{ id: string; key: string }> {
  const key = `ail_${randomBytes(32).toString('base64url')}`;
  const [row] = await knex('api_keys')
    .insert({
      tenant_id: tenantId,
      user_id: userId,
      name: `key-${uniq()}`,
      scope,
      created_by: userId,
      key_prefix: key.slice(0, 12),
      key_hash: createHash('sha256').update(key).digest('hex'),
    })
    .returning('id');
  return { id: row.id as string, key };
}

export interface Cast {
  actors: Record<ActorName, Actor>;
  /** A second editor: author of "someone else's" comments. */
  editor2: Member;
  members: Record<'editor' | 'incident_commander' | 'viewer' | 'viewer_edit_grant' | 'viewer_everyone_grant', Member>;
  roAdminKey: { id: string; key: string };
  rwAdminKey: { id: string; key: string };
  rwEditorKey: { id: string; key: string };
}

export async function castOf(app: TestApp, tenant: Tenant): Promise<Cast> {
  const [editor, ic, viewer, grantee, everyone, editor2] = await Promise.all([
    addMember(app, tenant, 'editor'),
    addMember(app, tenant, 'incident_commander'),
    addMember(app, tenant, 'viewer'),
    addMember(app, tenant, 'viewer'),
    addMember(app, tenant, 'viewer'),
    addMember(app, tenant, 'editor'),
  ]);
  const ro = await tenant.client.post('/api/v1/api-keys', { name: `ro-${uniq()}`, scope: 'read' });
  assert.equal(ro.status, 201, ro.text);
  const rw = await tenant.client.post('/api/v1/api-keys', { name: `rw-${uniq()}`, scope: 'read_write' });
  assert.equal(rw.status, 201, rw.text);
  const rwEditorKey = await insertApiKey(app.db.knex, tenant.tenantId, editor.id, 'read_write');
  const roAdminKey = { id: ro.body.data.id, key: ro.body.data.key };
  const rwAdminKey = { id: rw.body.data.id, key: rw.body.data.key };
  const actors: Record<ActorName, Actor> = {
    admin: { name: 'admin', client: tenant.client, userId: tenant.userId, role: 'admin', canWrite: true },
    editor: { name: 'editor', client: editor.client, userId: editor.id, role: 'editor', canWrite: true },
    incident_commander: { name: 'incident_commander', client: ic.client, userId: ic.id, role: 'incident_commander', canWrite: true },
    viewer: { name: 'viewer', client: viewer.client, userId: viewer.id, role: 'viewer', canWrite: true },
    viewer_edit_grant: { name: 'viewer_edit_grant', client: grantee.client, userId: grantee.id, role: 'viewer', canWrite: true, grant: 'personal' },
    viewer_everyone_grant: { name: 'viewer_everyone_grant', client: everyone.client, userId: everyone.id, role: 'viewer', canWrite: true, grant: 'everyone' },
    ro_admin_key: { name: 'ro_admin_key', client: app.client(roAdminKey.key), userId: tenant.userId, role: 'admin', canWrite: false },
    rw_editor_key: { name: 'rw_editor_key', client: app.client(rwEditorKey.key), userId: editor.id, role: 'editor', canWrite: true },
    rw_admin_key: { name: 'rw_admin_key', client: app.client(rwAdminKey.key), userId: tenant.userId, role: 'admin', canWrite: true },
  };
  // Every key really is what it claims (GET /me tells the actor).
  for (const a of [actors.ro_admin_key, actors.rw_editor_key, actors.rw_admin_key]) {
    const me = await a.client.get('/api/v1/me');
    assert.equal(me.status, 200, me.text);
    assert.deepEqual([me.body.data.actor.type, me.body.data.actor.role, me.body.data.actor.can_write], ['api_key', a.role, a.canWrite]);
  }
  return {
    actors,
    editor2,
    roAdminKey,
    rwAdminKey,
    rwEditorKey,
    members: { editor, incident_commander: ic, viewer, viewer_edit_grant: grantee, viewer_everyone_grant: everyone },
  };
}

export const ACTOR_NAMES: ActorName[] = [
  'admin',
  'editor',
  'incident_commander',
  'viewer',
  'viewer_edit_grant',
  'viewer_everyone_grant',
  'ro_admin_key',
  'rw_editor_key',
  'rw_admin_key',
];

/**
 * The tenant's latest change-log seq and audit entry count, in one round trip. Events a change-log follower derives after
 * commit are left out: it may append them at any moment for the writes before.
 */
export async function logPosition(knex: Knex, tenantId: string): Promise<{ seq: number; audits: number }> {
  const { rows } = await knex.raw(
    `SELECT (SELECT coalesce(max(seq), 0) FROM change_events WHERE tenant_id = ? AND NOT (action = ANY(?))) AS seq,
            (SELECT count(*) FROM audit_logs WHERE tenant_id = ?) AS audits`,
    [tenantId, DERIVED_ACTIONS, tenantId],
  );
  return { seq: Number(rows[0].seq), audits: Number(rows[0].audits) };
}

/**
 * A write that must be refused with `status`: a problem response, the same `snapshot` before and
 * after (the rows the write aimed at), no new audit_logs row and no new change_events seq.
 */
export async function assertRefused(
  knex: Knex,
  tenantId: string,
  snapshot: () => Promise<unknown>,
  write: () => Promise<ApiResponse>,
  status: number,
  what: string,
): Promise<ApiResponse> {
  const [rowsBefore, before] = await Promise.all([snapshot(), logPosition(knex, tenantId)]);
  const res = await write();
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
  assertProblem(res, status);
  const [rowsAfter, after] = await Promise.all([snapshot(), logPosition(knex, tenantId)]);
  assert.deepEqual(rowsAfter, rowsBefore, `${what}: a refused write changed rows`);
  assert.equal(after.seq, before.seq, `${what}: a refused write appended a change event`);
  assert.equal(after.audits, before.audits, `${what}: a refused write appended an audit entry`);
  return res;
}

/** A write that must succeed with `status` and append at least one change event and one audit entry. */
export async function assertWritten(knex: Knex, tenantId: string, write: () => Promise<ApiResponse>, status: number, what: string): Promise<ApiResponse> {
  const before = await logPosition(knex, tenantId);
  const res = await write();
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
  const after = await logPosition(knex, tenantId);
  assert.ok(after.seq > before.seq, `${what}: an accepted write appended no change event`);
  assert.ok(after.audits > before.audits, `${what}: an accepted write appended no audit entry`);
  return res;
}

/** The row as stored (every column), or null. */
export async function rowOf(knex: Knex, table: string, id: string): Promise<Record<string, unknown> | null> {
  const row = await knex(table).where({ id }).first();
  return row ? JSON.parse(JSON.stringify(row)) : null;
}

export async function countOf(knex: Knex, table: string, where: Record<string, unknown>): Promise<number> {
  const [{ n }] = await knex(table).where(where).count<{ n: string }[]>('* as n');
  return Number(n);
}
