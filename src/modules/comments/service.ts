// Threaded, resolvable comments on catalog records and incidents. Staff roles comment anywhere;
// anyone else needs a COMMENT (or EDIT) grant on the record. Every write goes through runWrite.
import type { ServiceContext } from '../../platform/context.js';
import { Forbidden, NotFound, PreconditionFailed, UnprocessableEntity } from '../../platform/errors.js';
import { uuid } from '../../platform/schema-kit.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { diff, parseInput, plain, type WriteOptions } from '../catalog/service.js';
import { grantLevel, levelAtLeast } from '../permissions/model.js';
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

/** Roles that may comment on any record without a grant. */
const COMMENTER_ROLES: readonly string[] = ['admin', 'editor', 'incident_commander'];
/** Roles that may resolve anyone's comment. */
const RESOLVER_ROLES: readonly string[] = ['admin', 'editor'];

function present(row: Comment): CommentData {
  const { tenant_id: _t, ...rest } = plain(row) as unknown as CommentData & { tenant_id?: string };
  return rest;
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
      const value = row.resolved_at !== null
        || (row.parent_id !== null && (!parent || depth > 1000 || isHidden(parent, depth + 1)));
      hidden.set(row.id, value);
      return value;
    };
    return rows.filter((r) => !isHidden(r)).map(present);
  }

  async get(ctx: ServiceContext, id: string, opts: { includeDeleted?: boolean } = {}): Promise<CommentData> {
    return present(await this.findRow(ctx, id, opts));
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(ctx: ServiceContext, input: unknown): Promise<CommentData> {
    this.requireWritableActor(ctx);
    const parsed = parseInput(commentCreate, input);
    return this.writes.run(ctx, async (w) => {
      // The record is named in the body: an unknown or another tenant's one is a 422 at its path.
      if (!(await recordExists(w, parsed.entity_type, parsed.entity_id))) {
        throw UnprocessableEntity('The comment refers to a record that does not exist.', [
          { path: 'entity_id', message: `no ${parsed.entity_type} record with id ${parsed.entity_id} in this tenant` },
        ]);
      }
      await this.requireCommentRight(w, parsed.entity_type, parsed.entity_id);
      if (parsed.parent_id) {
        const parent = await scoped(Comment, w)
          .findById(parsed.parent_id)
          .where({ entity_type: parsed.entity_type, entity_id: parsed.entity_id });
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
    this.requireWritableActor(ctx);
    const { body } = parseInput(commentUpdate, input);
    return this.writes.run(ctx, async (w) => {
      const current = await this.findRow(w, id, { forUpdate: true });
      await this.requireAuthorOr(w, current, ['admin']);
      this.checkVersion(current, opts);
      if (current.body === body) return present(current);
      const before = present(current);
      await scoped(Comment, w).findById(id).patch({ body, row_version: current.row_version + 1, updated_at: new Date() });
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
    this.requireWritableActor(ctx);
    await this.writes.run(ctx, async (w) => {
      const current = await this.findRow(w, id, { forUpdate: true });
      await this.requireAuthorOr(w, current, ['admin']);
      this.checkVersion(current, opts);
      const { rows } = (await w.trx.raw(
        `WITH RECURSIVE thread AS (
           SELECT id FROM comments WHERE id = ? AND tenant_id = ?
           UNION
           SELECT c.id FROM comments c JOIN thread t ON c.parent_id = t.id
           WHERE c.tenant_id = ? AND c.deleted_at IS NULL
         )
         SELECT id FROM thread`,
        [id, w.tenantId, w.tenantId],
      )) as { rows: { id: string }[] };
      const ids = rows.map((r) => r.id);
      const now = new Date();
      await scoped(Comment, w)
        .whereIn('id', ids)
        .patch({ deleted_at: now, updated_at: now, row_version: Comment.raw('row_version + 1') } as never);
      const deleted = await scoped(Comment, w, { includeDeleted: true })
        .whereIn('id', ids)
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
      for (const row of deleted) this.recordChange(w, present(row), 'deleted');
    });
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** May the actor comment on this record: a staff role, or a COMMENT/EDIT grant on it. */
  async mayComment(ctx: ServiceContext, entityType: string, entityId: string): Promise<boolean> {
    if (!ctx.actor.canWrite) return false;
    if (COMMENTER_ROLES.includes(ctx.actor.role)) return true;
    return levelAtLeast(await grantLevel(ctx, entityType, entityId), 'COMMENT');
  }

  private async setResolved(ctx: ServiceContext, id: string, resolved: boolean, opts: WriteOptions): Promise<CommentData> {
    this.requireWritableActor(ctx);
    return this.writes.run(ctx, async (w) => {
      const current = await this.findRow(w, id, { forUpdate: true });
      await this.requireAuthorOr(w, current, RESOLVER_ROLES);
      this.checkVersion(current, opts);
      if ((current.resolved_at !== null) === resolved) return present(current);
      const before = present(current);
      const now = new Date();
      await scoped(Comment, w).findById(id).patch({
        resolved_at: resolved ? now : null,
        resolved_by: resolved ? w.actor.userId : null,
        row_version: current.row_version + 1,
        updated_at: now,
      });
      const data = await this.get(w, id);
      this.recordChange(w, data, 'updated', diff(asRecord(before), asRecord(data)));
      return data;
    });
  }

  private requireWritableActor(ctx: ServiceContext): void {
    if (!ctx.actor.canWrite) throw Forbidden('This API key is read-only.');
  }

  private async requireRecord(ctx: ServiceContext, entityType: string, entityId: string): Promise<void> {
    if (!(await recordExists(ctx, entityType, entityId))) {
      throw NotFound(`No ${entityType} record with id ${entityId}.`);
    }
  }

  private async requireCommentRight(ctx: ServiceContext, entityType: string, entityId: string): Promise<void> {
    if (!(await this.mayComment(ctx, entityType, entityId))) {
      throw Forbidden(`Role '${ctx.actor.role}' without a COMMENT grant may not comment on this record.`);
    }
  }

  /** One of `roles`, or the comment's author who may still comment on its record. */
  private async requireAuthorOr(w: WriteScope, comment: Comment, roles: readonly string[]): Promise<void> {
    if (roles.includes(w.actor.role)) return;
    const isAuthor = w.actor.userId !== null && comment.author_id === w.actor.userId;
    if (isAuthor && (await this.mayComment(w, comment.entity_type, comment.entity_id))) return;
    throw Forbidden(isAuthor
      ? 'You may no longer comment on this record.'
      : `Only the author or ${roles.join(' or ')} may do this to a comment.`);
  }

  private async findRow(
    ctx: ServiceContext,
    id: string,
    opts: { includeDeleted?: boolean; forUpdate?: boolean } = {},
  ): Promise<Comment> {
    if (!uuid.safeParse(id).success) throw NotFound(`No comment with id ${id}.`);
    const q = scoped(Comment, ctx, { includeDeleted: opts.includeDeleted }).findById(id);
    if (opts.forUpdate) q.forUpdate();
    const row = await q;
    if (!row) throw NotFound(`No comment with id ${id}.`);
    return row;
  }

  private checkVersion(current: Comment, opts: WriteOptions): void {
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.row_version) {
      throw PreconditionFailed(`The comment is at version ${current.row_version}, not ${opts.expectedVersion}.`);
    }
  }

  private recordChange(
    w: WriteScope, data: CommentData, action: 'created' | 'updated' | 'deleted',
    changes?: Record<string, { old: unknown; new: unknown }>,
  ): void {
    w.record({ entityType: 'comments', entityId: data.id, entityName: excerpt(data.body), action, data, changes: changes ?? null });
  }
}
