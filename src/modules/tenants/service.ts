// Turning a whole tenant off and on again (an operator's act, `npm run tenant`). Written like any
// record: the row, an audit entry and a `tenants.updated` change event in one transaction, so every
// node hears it: cached principals of the tenant are dropped, its live sockets are told
// `tenant_deactivated` and disconnected, its co-editing connections closed.
import type { Knex } from 'knex';
import { systemContext, type ChangeOrigin } from '../../platform/context.js';
import { NotFound } from '../../platform/errors.js';
import type { WriteRunner } from '../../platform/write.js';
import { Tenant } from './model.js';

export function presentTenant(t: Tenant) {
  return { id: t.id, name: t.name, slug: t.slug, is_active: t.is_active, created_at: new Date(t.created_at).toISOString() };
}

export class TenantService {
  constructor(
    private readonly knex: Knex,
    private readonly writes: WriteRunner,
  ) {}

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
