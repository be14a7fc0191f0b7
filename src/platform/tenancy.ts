// Tenancy lives here and only here: every model of tenant data extends TenantModel, whose query
// builder refuses to run without a tenant in its context and adds `tenant_id = ?` (and hides
// soft-deleted rows) to every query it builds, including relation fetches.
import { Model, QueryBuilder, type ModelClass, type QueryContext, type Transaction } from 'objection';
import { dbOf, type ServiceContext } from './context.js';

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
export function scoped<C extends typeof Model>(
  model: C,
  ctx: Pick<ServiceContext, 'tenantId' | 'trx' | 'db'>,
  opts: { includeDeleted?: boolean } = {},
) {
  return model
    .query(dbOf(ctx) as Transaction)
    .context({ tenantId: ctx.tenantId, includeDeleted: opts.includeDeleted ?? false }) as unknown as QueryBuilder<InstanceType<C>, InstanceType<C>[]>;
}
