// Threaded, resolvable comments on catalog records and incidents. Who may comment, edit, delete
// and resolve is the access policy's rule. Every write goes through the WriteRunner.
import type { ServiceContext } from '../../platform/context.js';
import { NotFound, UnprocessableEntity } from '../../platform/errors.js';
import { RecordTable, diff, parseInput, present as presentRow, type WriteOptions } from '../../platform/records.js';
import { liveRowOf, scoped, scopedRaw } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize, authorizeWriter, type Action } from '../access/policy.js';
import { recordExists } from '../permissions/service.js';
import { Comment } from './model.js';
import { commentCreate, commentListQuery, commentUpdate } from './schemas.js';

export interface CommentData {
  id: string;
  entity_type: string;
  entity_id: string;
  parent_id: string | null;
  author_id: string | null;
  body: string;
  resolved_at: string | null;
  resolved_by: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  row_version: number;
}

const comments = new RecordTable<Comment>(Comment, 'comment', false);
/** Replies are followed at most this deep when a comment is deleted with its thread. */
const MAX_THREAD_DEPTH = 1000;
const THREAD_SQL = `
WITH RECURSIVE thread(id, depth) AS (
  SELECT c.id, 0 FROM comments c WHERE c.id = :id AND ${liveRowOf('c')}
  UNION
  SELECT c.id, t.depth + 1 FROM comments c JOIN thread t ON c.parent_id = t.id
   WHERE ${liveRowOf('c')} AND t.depth < ${MAX_THREAD_DEPTH}
)
SELECT DISTINCT id FROM thread`;

const present = (row: Comment): CommentData => presentRow<CommentData>(row);

/** A comment as the access policy sees it: its author and the record it is on. */
function asResource(comment: Comment) {
  return { type: 'comments', id: comment.id, authorId: comment.author_id, on: { type: comment.entity_type, id: comment.entity_id } };
}

function asRecord(data: CommentData): Record<string, unknown> {
  return data as unknown as Record<string, unknown>;
}

function excerpt(body: string): string {
  const line = body.trim().replace(/\s+/g, ' ');
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

export class CommentService {
  constructor(private readonly writes: WriteRunner) {}

  // ---- reads ---------------------------------------------------------------------------------

  /**
   * The live comments on a record, oldest first, each with parent_id for threading. Unless
   * include_resolved, resolved comments are left out together with the replies beneath them.
   */
  async list(ctx: ServiceContext, query: unknown): Promise<CommentData[]> {
    const q = parseInput(commentListQuery, query);
    await this.requireRecord(ctx, q.entity_type, q.entity_id);
    const rows = await scoped(Comment, ctx)
      .where({ entity_type: q.entity_type, entity_id: q.entity_id })
      .orderBy([{ column: 'created_at' }, { column: 'id' }]);
    if (q.include_resolved) return rows.map(present);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const hidden = new Map<string, boolean>();
    const isHidden = (row: Comment, depth = 0): boolean => {
      const known = hidden.get(row.id);
      if (known !== undefined) return known;
      const parent = row.parent_id ? byId.get(row.parent_id) : undefined;
      const value = row.resolved_at !== null || (row.parent_id !== null && (!parent || depth > MAX_THREAD_DEPTH || isHidden(parent, depth + 1)));
      hidden.set(row.id, value);
      return value;
    };
    return rows.filter((r) => !isHidden(r)).map(present);
  }

  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<CommentData> {
    return present(await comments.find(ctx, id, opts));
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<CommentData> {
    authorizeWriter(ctx);
    const parsed = parseInput(commentCreate, input);
    return this.writes.run(ctx, async (w) => {
      // The record is named in the body: an unknown or another tenant's one is a 422 at its path.
      if (!(await recordExists(w, parsed.entity_type, parsed.entity_id))) {
        throw UnprocessableEntity('The comment refers to a record that does not exist.', [
          { path: 'entity_id', message: `no ${parsed.entity_type} record with id ${parsed.entity_id} in this tenant` },
        ]);
      }
      await authorize(w, 'comment', { type: parsed.entity_type, id: parsed.entity_id });
      if (parsed.parent_id) {
        const parent = await scoped(Comment, w).findById(parsed.parent_id).where({ entity_type: parsed.entity_type, entity_id: parsed.entity_id });
        if (!parent) {
          throw UnprocessableEntity('The parent comment does not exist.', [
            { path: 'parent_id', message: `no live comment with id ${parsed.parent_id} on this record` },
          ]);
        }
      }
      const row = (await scoped(Comment, w)
        .insert({
          entity_type: parsed.entity_type,
          entity_id: parsed.entity_id,
          parent_id: parsed.parent_id ?? null,
          author_id: w.actor.userId,
          body: parsed.body,
        })
        .returning('*')) as unknown as Comment;
      const data = present(row);
      this.recordChange(w, data, 'created');
      return data;
    });
  }

  /** The author (while still allowed to comment on the record) or an admin edits the body. */
  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<CommentData> {
    const { body } = parseInput(commentUpdate, input);
    return this.writes.run(ctx, async (w) => {
      const current = await this.lockFor(w, id, 'write', opts);
      if (current.body === body) return present(current);
      const before = present(current);
      await comments.patch(w, current, { body });
      const data = await this.get(w, id);
      this.recordChange(w, data, 'updated', diff(asRecord(before), asRecord(data)));
      return data;
    });
  }

  async resolve(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<CommentData> {
    return this.setResolved(ctx, id, true, opts);
  }

  async unresolve(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<CommentData> {
    return this.setResolved(ctx, id, false, opts);
  }

  /**
   * Soft delete by the author or an admin. Replies go with the comment they answer (each gets its
   * own deleted event), since a reply without its parent can no longer be threaded.
   */
  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await this.writes.run(ctx, async (w) => {
      await this.lockFor(w, id, 'write', opts);
      const deleted = await comments.softDeleteMany(w, await this.threadOf(w, id));
      deleted.sort((a, b) => +new Date(a.created_at) - +new Date(b.created_at) || (a.id < b.id ? -1 : 1));
      for (const row of deleted) this.recordChange(w, present(row), 'deleted');
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async setResolved(ctx: ServiceContext, id: string, resolved: boolean, opts: WriteOptions): Promise<CommentData> {
    return this.writes.run(ctx, async (w) => {
      const current = await this.lockFor(w, id, 'resolve', opts);
      if ((current.resolved_at !== null) === resolved) return present(current);
      const before = present(current);
      await comments.patch(w, current, { resolved_at: resolved ? new Date() : null, resolved_by: resolved ? w.actor.userId : null });
      const data = await this.get(w, id);
      this.recordChange(w, data, 'updated', diff(asRecord(before), asRecord(data)));
      return data;
    });
  }

  /**
   * The comment locked for this write, once the policy allows the action on it (a read-only key
   * is refused before the row is read) and If-Match agrees.
   */
  private async lockFor(w: WriteScope, id: string, action: Action, opts: WriteOptions): Promise<Comment> {
    authorizeWriter(w);
    const current = await comments.find(w, id, { forUpdate: true });
    await authorize(w, action, asResource(current));
    comments.checkVersion(current, opts);
    return current;
  }

  /** The comment and every live reply beneath it, in one recursive statement (bounded depth). */
  private async threadOf(w: WriteScope, id: string): Promise<string[]> {
    const { rows } = (await scopedRaw(w, THREAD_SQL, { id })) as { rows: { id: string }[] };
    return rows.map((r) => r.id);
  }

  private async requireRecord(ctx: ServiceContext, entityType: string, entityId: string): Promise<void> {
    if (!(await recordExists(ctx, entityType, entityId))) {
      throw NotFound(`No ${entityType} record with id ${entityId}.`);
    }
  }

  private recordChange(
    w: WriteScope,
    data: CommentData,
    action: 'created' | 'updated' | 'deleted',
    changes?: Record<string, { old: unknown; new: unknown }>,
  ): void {
    w.record({ entityType: 'comments', entityId: data.id, entityName: excerpt(data.body), action, data, changes });
  }
}
