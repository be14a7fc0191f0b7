// The raw write transaction the write suite compares the API with: the writes a REST POST or PATCH
// of a service makes (src/platform/write.ts, src/modules/catalog/service.ts), as hand-written SQL
// on a plain pg.Pool, one round trip each:
//   BEGIN
//   INSERT INTO services … RETURNING *          (PATCH: UPDATE services … RETURNING *, old value)
//   INSERT INTO audit_logs …                    (same columns and metadata as WriteRunner)
//   INSERT INTO tenant_event_counters … ON CONFLICT DO UPDATE … RETURNING last_seq   (the tenant's lock)
//   INSERT INTO change_events … origin 'rest'   (the row as JSON, like the event's data)
//   COMMIT
// No authentication, no reads back, no relation lists: what is left is the cost of the writes.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export interface WriteActor {
  tenantId: string;
  userId: string;
}

const INSERT_SERVICE = `INSERT INTO services (tenant_id, name, type, description, created_by, updated_by)
  VALUES ($1, $2, $3, $4, $5, $5) RETURNING *`;

// The FROM subselect locks the row and yields its old value in the same statement (the app locks
// with SELECT … FOR UPDATE first and reads the row back after).
const UPDATE_SERVICE = `UPDATE services s
     SET description = $3, row_version = s.row_version + 1, updated_at = now(), updated_by = $4
    FROM (SELECT id, description FROM services WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE) o
   WHERE s.id = o.id
  RETURNING s.*, o.description AS old_description`;

const INSERT_AUDIT = `INSERT INTO audit_logs (tenant_id, user_id, actor_type, action, entity_type, entity_id, entity_name, changes, metadata, "timestamp")
  VALUES ($1, $2, 'user', $3, 'services', $4, $5, $6, $7, $8)`;

const BUMP_COUNTER = `INSERT INTO tenant_event_counters (tenant_id, last_seq) VALUES ($1, 1)
  ON CONFLICT (tenant_id) DO UPDATE SET last_seq = tenant_event_counters.last_seq + 1 RETURNING last_seq`;

const INSERT_EVENT = `INSERT INTO change_events (tenant_id, seq, type, entity_type, entity_id, action, actor_type, actor_id, data, changes, request_id, origin, at)
  VALUES ($1, $2, $3, 'services', $4, $5, 'user', $6, $7, $8, $9, 'rest', $10)`;

type Json = Record<string, unknown>;

export class WriteBaseline {
  readonly pool: pg.Pool;
  /** Queries sent (one round trip each), for the round-trips row. */
  roundTrips = 0;

  constructor(connectionString: string, max = 10) {
    this.pool = new pg.Pool({ connectionString, max });
  }

  /** POST: a new service row, its audit entry, the counter bump and the change event. */
  create(a: WriteActor, input: { name: string; type: string; description: string }): Promise<Json> {
    return this.transaction(async (q) => {
      const row = (await q(INSERT_SERVICE, [a.tenantId, input.name, input.type, input.description, a.userId]))[0]!;
      await this.appendLog(q, a, row, 'created', null);
      return row;
    });
  }

  /** PATCH of the description: the row updated with its version bumped, then the same log writes. */
  update(a: WriteActor, id: string, description: string): Promise<Json> {
    return this.transaction(async (q) => {
      const updated = (await q(UPDATE_SERVICE, [a.tenantId, id, description, a.userId]))[0];
      if (!updated) throw new Error(`baseline: no service ${id}`);
      const { old_description: old, ...row } = updated;
      await this.appendLog(q, a, row, 'updated', { description: { old, new: row.description } });
      return row;
    });
  }

  private async appendLog(q: Query, a: WriteActor, row: Json, action: 'created' | 'updated', changes: Json | null): Promise<void> {
    const at = new Date().toISOString();
    const requestId = randomUUID();
    const changesJson = changes ? JSON.stringify(changes) : null;
    await q(INSERT_AUDIT, [
      a.tenantId,
      a.userId,
      action === 'created' ? 'create' : 'update',
      row.id,
      String(row.name).slice(0, 255),
      changesJson,
      JSON.stringify({ request_id: requestId, ip: '127.0.0.1', actor_id: a.userId }),
      at,
    ]);
    const [{ last_seq: seq }] = (await q(BUMP_COUNTER, [a.tenantId])) as [{ last_seq: string }];
    const { tenant_id: _t, ...data } = row;
    await q(INSERT_EVENT, [a.tenantId, seq, `services.${action}`, row.id, action, a.userId, JSON.stringify(data), changesJson, requestId, at]);
  }

  private async transaction<T>(work: (q: Query) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const q: Query = async (sql, params) => {
      this.roundTrips++;
      return (await client.query(sql, params)).rows as Json[];
    };
    try {
      await q('BEGIN');
      const result = await work(q);
      await q('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

type Query = (sql: string, params?: unknown[]) => Promise<Json[]>;
