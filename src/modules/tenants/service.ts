// The tenant record: read by its members, renamed and configured by its admins (`/tenant`), and
// turned off and on again by an operator (`npm run tenant`). Written like any record: the row, an
// audit entry and a `tenants.updated` change event in one transaction, so every node hears it:
// cached principals of the tenant are dropped and, when it is turned off, its live sockets are
// told `tenant_deactivated` and disconnected, its co-editing connections closed.
import type { Knex } from 'knex';
import { dbOf, systemContext, type ChangeOrigin, type ServiceContext } from '../../platform/context.js';
import { NotFound } from '../../platform/errors.js';
import { diff, parseInput } from '../../platform/records.js';
import type { WriteRunner } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { Tenant } from './model.js';
import { tenantUpdate } from './schemas.js';

export function presentTenant(t: Tenant) {
  return {
    id: t.id,
    name: t.name,
    slug: t.slug,
    is_active: t.is_active,
    settings: t.settings ?? {},
    created_at: new Date(t.created_at).toISOString(),
    updated_at: new Date(t.updated_at).toISOString(),
  };
}

export class TenantService {
  constructor(
    private readonly knex: Knex,
    private readonly writes: WriteRunner,
  ) {}

  /** The caller's tenant (any member, any key). */
  async get(ctx: ServiceContext) {
    const tenant = await Tenant.query(dbOf(ctx)).findById(ctx.tenantId);
    if (!tenant) throw NotFound('The tenant is gone.');
    return presentTenant(tenant);
  }

  /** Renames or reconfigures the caller's tenant (admins); no event when nothing changes. */
  async update(ctx: ServiceContext, input: unknown) {
    await authorize(ctx, 'write', { type: 'tenants', id: ctx.tenantId });
    const patch = parseInput(tenantUpdate, input);
    return this.writes.run(ctx, async (w) => {
      // Tenants sit above tenancy: reached by the caller's own tenant id, locked so two admins serialise.
      const current = await Tenant.query(w.trx).findById(ctx.tenantId).forUpdate();
      if (!current) throw NotFound('The tenant is gone.');
      const before = presentTenant(current);
      const changes = diff(before, { ...before, ...patch });
      if (Object.keys(changes).length === 0) return before;
      const updated = await Tenant.query(w.trx).patchAndFetchById(current.id, { ...patch, updated_at: new Date() });
      const data = presentTenant(updated);
      w.record({ entityType: 'tenants', entityId: current.id, entityName: current.slug, action: 'updated', data, changes });
      return data;
    });
  }

  /** Sets the tenant's is_active; no event when it already is so. 404 for an unknown slug. */
  async setActive(slug: string, active: boolean, meta: { origin?: ChangeOrigin } = {}) {
    const found = await Tenant.query(this.knex).findOne({ slug });
    if (!found) throw NotFound(`No tenant with slug '${slug}'.`);
    return this.writes.run({ ...systemContext(found.id, this.knex), ...meta }, async (w) => {
      // Tenants sit above tenancy: reached by id, locked so two operators serialise.
      const current = await Tenant.query(w.trx).findById(found.id).forUpdate();
      if (!current) throw NotFound(`No tenant with slug '${slug}'.`);
      if (current.is_active === active) return presentTenant(current);
      const updated = await Tenant.query(w.trx).patchAndFetchById(current.id, { is_active: active, updated_at: new Date() });
      const data = presentTenant(updated);
      w.record({
        entityType: 'tenants',
        entityId: current.id,
        entityName: current.slug,
        action: 'updated',
        data,
        changes: { is_active: { old: current.is_active, new: active } },
      });
      return data;
    });
  }
}
