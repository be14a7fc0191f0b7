// Co-editing storage in PostgreSQL: one collab_documents row per record (the compacted snapshot)
// and the append-only collab_updates log. Yjs updates commute and re-applying one is harmless, so
// a document is its snapshot plus every update still in the log, in any order.
import type { Knex } from 'knex';
import * as Y from 'yjs';
import { prepared, runPositional } from '../db.js';
import type { DocumentAddress } from './hooks.js';

export type { DocumentAddress };

export interface StoredDocument {
  snapshot: Uint8Array | null;
  updates: { id: number; update: Uint8Array; actorId: string | null }[];
}

/** What a compaction folded, and the size of the snapshot it wrote. */
export interface Compaction {
  folded: number;
  foldedBytes: number;
  snapshotBytes: number;
}

/** A stored document's size: its snapshot plus its update log, in bytes. */
export function storedBytes(stored: StoredDocument): number {
  return (stored.snapshot?.byteLength ?? 0) + stored.updates.reduce((sum, u) => sum + u.update.byteLength, 0);
}

/** Rows as the driver returns them: bytea as a Buffer, bigint ids as strings. */
interface DocumentRow {
  id: string;
  snapshot: Buffer | null;
}
interface UpdateRow {
  id: string;
  update: Buffer;
  actor_id: string | null;
}
/** read()'s union: part 0 is the snapshot (data may be null), part 1 the log's updates. */
interface PartRow {
  part: number;
  id: string | null;
  data: Buffer | null;
  actor_id: string | null;
}

export interface PendingUpdate {
  update: Uint8Array;
  actorId: string | null;
}

/** A batch of any size in one prepared statement, ids in arrival order. */
const APPEND = prepared(`INSERT INTO collab_updates (document_id, update, actor_id)
SELECT $1, x.update, x.actor_id FROM unnest($2::bytea[], $3::uuid[]) WITH ORDINALITY AS x(update, actor_id, n) ORDER BY x.n`);

export class CollabStorage {
  constructor(
    private readonly knex: Knex,
    /** Whether a fold (compaction) may fold a merged state (the feature's canCompact); default yes. */
    private readonly canCompact: (doc: Y.Doc) => boolean = () => true,
  ) {}

  /**
   * The document's id and stored state, creating it on first use. A new document's content is
   * built by `init` (from the entity row) and stored as its snapshot in the same transaction,
   * under the row lock, so concurrent first loads on several nodes agree on one initial state
   * instead of merging two.
   */
  async open(
    address: DocumentAddress,
    init: (trx: Knex.Transaction) => Promise<Uint8Array>,
  ): Promise<{ documentId: string; stored: StoredDocument; created: boolean }> {
    const key = { tenant_id: address.tenantId, entity_type: address.entityType, entity_id: address.entityId };
    const existing = await this.knex('collab_documents').where(key).first<Pick<DocumentRow, 'id'> | undefined>('id');
    if (existing) {
      const stored = await this.read(existing.id);
      if (stored.snapshot || stored.updates.length) return { documentId: existing.id, stored, created: false };
    }
    return this.knex.transaction(async (trx) => {
      await trx('collab_documents').insert(key).onConflict(['tenant_id', 'entity_type', 'entity_id']).ignore();
      const row = await trx('collab_documents').where(key).forUpdate().first<DocumentRow>('id', 'snapshot');
      // Holding the row lock, no compaction runs: snapshot and log read here are consistent.
      const updates = await this.logOf(trx, row.id);
      if (row.snapshot || updates.length) {
        return { documentId: row.id as string, stored: { snapshot: row.snapshot ? new Uint8Array(row.snapshot) : null, updates }, created: false };
      }
      const snapshot = await init(trx);
      await trx('collab_documents')
        .where('id', row.id)
        .update({ snapshot: Buffer.from(snapshot), snapshot_update_id: 0, updated_at: trx.fn.now() });
      return { documentId: row.id as string, stored: { snapshot, updates: [] }, created: true };
    });
  }

  /** Snapshot and log in one statement (one database snapshot): a concurrent compaction is seen whole or not at all. */
  async read(documentId: string): Promise<StoredDocument> {
    const rows = await this.knex
      .select<PartRow[]>(this.knex.raw('0 as part'), this.knex.raw('null::bigint as id'), 'snapshot as data', this.knex.raw('null::uuid as actor_id'))
      .from('collab_documents')
      .where('id', documentId)
      .unionAll((q) => {
        q.select(this.knex.raw('1'), 'id', 'update', 'actor_id').from('collab_updates').where('document_id', documentId);
      })
      .orderBy([{ column: 'part' }, { column: 'id' }]);
    const head = rows.find((r) => Number(r.part) === 0);
    return {
      snapshot: head?.data ? new Uint8Array(head.data) : null,
      updates: rows.filter((r) => Number(r.part) === 1).map((r) => ({ id: Number(r.id), update: new Uint8Array(r.data!), actorId: r.actor_id ?? null })),
    };
  }

  private async logOf(trx: Knex.Transaction, documentId: string): Promise<StoredDocument['updates']> {
    const rows = await trx('collab_updates').where('document_id', documentId).orderBy('id').select<UpdateRow[]>('id', 'update', 'actor_id');
    return rows.map((r) => ({ id: Number(r.id), update: new Uint8Array(r.update), actorId: r.actor_id ?? null }));
  }

  /** One INSERT for a batch (the updates that arrived while the document's previous INSERT was in flight). */
  async append(documentId: string, updates: PendingUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const bytes = updates.map((u) => Buffer.from(u.update.buffer, u.update.byteOffset, u.update.byteLength));
    await runPositional(this.knex, APPEND, [documentId, bytes, updates.map((u) => u.actorId)]);
  }

  /**
   * Folds the log into the snapshot. FOR UPDATE on the document row serialises compactions and
   * waits for appends in flight (each insert's foreign-key check holds FOR KEY SHARE on that row
   * until it commits), so every row at or below the highest id read is in the new snapshot.
   * Returns how many updates (and bytes of them) were folded and the new snapshot's size, or null
   * when `whenReconciled` was asked for and the feature's canCompact refused the merged state
   * (co-editing: it holds edits not yet in the row, whose authors the log keeps; nothing folded).
   */
  async compact(documentId: string, { whenReconciled = false }: { whenReconciled?: boolean } = {}): Promise<Compaction | null> {
    return this.knex.transaction(async (trx) => {
      const doc = await trx('collab_documents').where('id', documentId).forUpdate().first<Pick<DocumentRow, 'snapshot'> | undefined>('snapshot');
      if (!doc) return { folded: 0, foldedBytes: 0, snapshotBytes: 0 };
      const rows = await trx('collab_updates').where('document_id', documentId).orderBy('id').select<Pick<UpdateRow, 'id' | 'update'>[]>('id', 'update');
      if (rows.length === 0) return { folded: 0, foldedBytes: 0, snapshotBytes: doc.snapshot?.length ?? 0 };
      const merged = new Y.Doc();
      try {
        Y.transact(merged, () => {
          if (doc.snapshot) Y.applyUpdate(merged, new Uint8Array(doc.snapshot));
          for (const r of rows) Y.applyUpdate(merged, new Uint8Array(r.update));
        });
        // An update whose dependencies are not stored yet (a client's earlier update still on its
        // way, say after a reconnection) stays pending in Yjs, and a snapshot would leave it out:
        // folding now would delete it from the log. The log is kept until everything integrates.
        if (merged.store.pendingStructs !== null || merged.store.pendingDs !== null) return null;
        if (whenReconciled && !this.canCompact(merged)) return null;
        const lastId = Number(rows[rows.length - 1].id);
        const snapshot = Y.encodeStateAsUpdate(merged);
        await trx('collab_documents')
          .where('id', documentId)
          .update({ snapshot: Buffer.from(snapshot), snapshot_update_id: lastId, updated_at: trx.fn.now() });
        await trx('collab_updates').where('document_id', documentId).where('id', '<=', lastId).delete();
        const foldedBytes = rows.reduce((sum: number, r: { update: Buffer }) => sum + r.update.length, 0);
        return { folded: rows.length, foldedBytes, snapshotBytes: snapshot.byteLength };
      } finally {
        merged.destroy();
      }
    });
  }
}
