// Tenancy lives here and only here: every model of tenant data extends TenantModel, whose query
// builder refuses to run without a tenant in its context and adds `tenant_id = ?` (and hides
// soft-deleted rows) to every query it builds, including relation fetches.
import { Model, QueryBuilder, type ModelClass, type QueryContext, type Transaction } from 'objection';
import { dbOf, type ServiceContext } from './context.js';
import { runNamed, type RunOptions } from './db.js';

export interface TenantQueryContext {
  tenantId?: string;
  includeDeleted?: boolean;
}

export class UnscopedQueryError extends Error {
  constructor(table: string) {
    super(`Refusing an unscoped query on ${table}: use scoped(Model, ctx)`);
  }
}

class TenantQueryBuilder<M extends Model, R = M[]> extends QueryBuilder<M, R> {
  constructor(modelClass: ModelClass<M>) {
    // @ts-expect-error objection's typings omit the constructor's model class argument
    super(modelClass);
    this.onBuild((builder) => {
      // Grouped conditions (`where(q => …)`) build a partial builder inside the scoped query.
      if ((builder as unknown as { isPartial(): boolean }).isPartial()) return;
      const cls = builder.modelClass() as unknown as typeof TenantModel;
      const { tenantId, includeDeleted } = builder.context() as TenantQueryContext;
      if (!tenantId) throw new UnscopedQueryError(cls.tableName);
      if (builder.isInsert()) return; // $beforeInsert stamps tenant_id on the rows themselves
      const table = builder.tableRefFor(cls as unknown as ModelClass<M>);
      builder.where(`${table}.tenant_id`, tenantId);
      if (cls.softDelete && !includeDeleted) builder.whereNull(`${table}.deleted_at`);
    });
  }
}

export class TenantModel extends Model {
  /** Rows with deleted_at set are hidden unless a query asks for includeDeleted. */
  static softDelete = false;
  static override QueryBuilder = TenantQueryBuilder as unknown as typeof QueryBuilder;

  tenant_id!: string;

  override $beforeInsert(queryContext: QueryContext): void {
    const { tenantId } = queryContext as TenantQueryContext;
    if (!tenantId) throw new UnscopedQueryError((this.constructor as typeof TenantModel).tableName);
    this.tenant_id = tenantId;
  }
}

/** The one way services reach tenant data: a query bound to the context's tenant and transaction. */
export function scoped<C extends typeof Model>(model: C, ctx: Pick<ServiceContext, 'tenantId' | 'trx' | 'db'>, opts: { includeDeleted?: boolean } = {}) {
  return model.query(dbOf(ctx) as Transaction).context({ tenantId: ctx.tenantId, includeDeleted: opts.includeDeleted ?? false }) as unknown as QueryBuilder<
    InstanceType<C>,
    InstanceType<C>[]
  >;
}

/**
 * A link table without a tenant_id of its own (catalog associations, an incident's affected
 * entities): its rows belong to the tenant of their owner row, and are only reached through it.
 */
export interface LinkTable {
  table: string;
  /** The column that names the owner row. */
  ownerKey: string;
  owner: typeof Model;
}

/** The link rows whose owner is a row of the context's tenant (the owner table filters, in a subquery). */
export function scopedLinks(ctx: Pick<ServiceContext, 'tenantId' | 'trx' | 'db'>, link: LinkTable) {
  const owners = scoped(link.owner, ctx, { includeDeleted: true }).select(`${link.owner.tableName}.id`).toKnexQuery();
  return dbOf(ctx)(link.table).whereIn(`${link.table}.${link.ownerKey}`, owners);
}

/**
 * Replaces an owner's link rows with `rows`. The owner is a row this write read through scoped(),
 * so it carries its tenant: a row of another tenant is refused before anything is written.
 */
export async function replaceLinks(
  ctx: Pick<ServiceContext, 'tenantId' | 'trx' | 'db'>,
  link: LinkTable,
  owner: { id: string; tenant_id: string },
  rows: Record<string, unknown>[],
): Promise<void> {
  if (owner.tenant_id !== ctx.tenantId) throw new UnscopedQueryError(link.table);
  await scopedLinks(ctx, link).where(`${link.table}.${link.ownerKey}`, owner.id).delete();
  if (rows.length) await dbOf(ctx)(link.table).insert(rows.map((r) => ({ ...r, [link.ownerKey]: owner.id })));
}

/**
 * The few statements that must be raw SQL (recursive CTEs) take their tenant from the context
 * here: `:tenant` is always bound to ctx.tenantId, and every tenant table in the statement carries
 * `liveRowOf(alias)` (or `tenantRowOf(alias)` where deleted rows count).
 */
export function scopedRaw(ctx: Pick<ServiceContext, 'tenantId' | 'trx' | 'db'>, sql: string, bindings: Record<string, unknown> = {}, opts: RunOptions = {}) {
  return runNamed(dbOf(ctx), sql, { ...bindings, tenant: ctx.tenantId }, opts);
}

export const tenantRowOf = (alias: string) => `${alias}.tenant_id = :tenant`;
/** SQL written with tenantRowOf/liveRowOf, with the tenant as the positional parameter `param` (`$3`). */
export const withTenantParam = (sql: string, param: string) => sql.split(':tenant').join(param);
export const liveRowOf = (alias: string) => `${tenantRowOf(alias)} AND ${alias}.deleted_at IS NULL`;
