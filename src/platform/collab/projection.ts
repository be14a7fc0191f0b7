// Projection: the document and its entity row brought into agreement through the domain service
// (EntityService.update: authorization, validation, version bump, audit, change event). A
// three-way merge against the base stored in the document decides the direction per value: what
// changed in the row since the base (REST) goes into the document, what changed in the document
// goes into the row. When both changed, the row wins.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import * as Y from 'yjs';
import { KINDS, type CatalogType } from '../../modules/catalog/kinds.js';
import { plain, type EntityService } from '../../modules/catalog/service.js';
import { systemActor, userActor, type Actor, type ServiceContext, type UserRole } from '../context.js';
import { AppError } from '../errors.js';
import { scoped } from '../tenancy.js';
import {
  baseOf, docState, editableFields, hasAttributes, hasDescription, hashValue, readBase, replaceText, rowState, sameValue,
  writeBase, type DocState, type Json,
} from './layout.js';

/** Transaction origins of the server's own edits (Hocuspocus-style local origins). */
export const REST_ORIGIN = Object.freeze({ source: 'rest' as const });
export const PROJECTION_ORIGIN = Object.freeze({ source: 'projection' as const });

export interface ProjectionTarget {
  type: CatalogType;
  tenantId: string;
  entityId: string;
  doc: Y.Doc;
  /** Users whose edits are not yet in the row, oldest first. */
  contributors: readonly string[];
}

export type ProjectionOutcome =
  | { kind: 'synced'; rowVersion: number; projected: boolean }
  | { kind: 'invalid'; error: AppError; rowVersion: number }
  | { kind: 'gone' };

const MAX_ATTEMPTS = 4;

export class Projector {
  constructor(
    private readonly entities: Record<CatalogType, EntityService>,
    private readonly knex: Knex,
  ) {}

  async synchronise(t: ProjectionTarget): Promise<ProjectionOutcome> {
    const service = this.entities[t.type];
    for (let attempt = 1; ; attempt++) {
      const row = await readRow(this.knex, t.tenantId, t.type, t.entityId);
      if (!row) return { kind: 'gone' };
      const rowVersion = Number(row.row_version);
      const fromRow = rowState(t.type, row);
      t.doc.transact(() => applyRowChanges(t.type, t.doc, fromRow), REST_ORIGIN);
      const patch = documentChanges(docState(t.doc), fromRow);
      if (!patch) {
        t.doc.transact(() => writeBase(t.doc, rowVersion, fromRow), PROJECTION_ORIGIN);
        return { kind: 'synced', rowVersion, projected: false };
      }
      let updated: Record<string, unknown>;
      try {
        const ctx: ServiceContext = { tenantId: t.tenantId, actor: await this.actorFor(t), db: this.knex, requestId: `collab-${randomUUID()}` };
        updated = await service.update(ctx, t.entityId, patch, { expectedVersion: rowVersion });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.status === 404) return { kind: 'gone' };
        if (err.status === 412 && attempt < MAX_ATTEMPTS) continue; // a REST write came in between: merge again
        if (err.status >= 500) throw err;
        // The row keeps its state; the document keeps the editors' (invalid) state until they fix it.
        t.doc.transact(() => writeBase(t.doc, rowVersion, fromRow), PROJECTION_ORIGIN);
        return { kind: 'invalid', error: err, rowVersion };
      }
      const stored = rowState(t.type, updated);
      t.doc.transact(() => {
        echoNormalised(t.doc, patch, stored);
        writeBase(t.doc, Number(updated.row_version), stored);
      }, PROJECTION_ORIGIN);
      return { kind: 'synced', rowVersion: Number(updated.row_version), projected: true };
    }
  }

  /**
   * True when neither side moved since the base: the document holds no unprojected edit and the
   * row is still at the base's version. Lets a load skip the full merge (one small query).
   */
  async inStep(t: ProjectionTarget): Promise<boolean> {
    const { base, rowVersion } = readBase(t.doc);
    if (!base || !sameValue(baseOf(docState(t.doc)), base)) return false;
    const row = await scoped(KINDS[t.type].model, { tenantId: t.tenantId, db: this.knex }).findById(t.entityId).select('row_version');
    return Boolean(row) && Number(row!.row_version) === rowVersion;
  }

  /** The latest contributor who is still an active user acts; every contributor is a co-actor. */
  private async actorFor(t: ProjectionTarget): Promise<Actor> {
    const coActors = [...new Set(t.contributors)];
    for (const userId of [...coActors].reverse()) {
      const user = await this.knex('users')
        .where({ tenant_id: t.tenantId, id: userId, is_active: true })
        .whereNull('deleted_at')
        .first<{ id: string; role: UserRole } | undefined>('id', 'role');
      if (user) return { ...userActor(user), coActors };
    }
    return { ...systemActor(), coActors };
  }
}

/**
 * The record's columns (what the document holds are all columns), or null when it is gone. The
 * write goes through the service; this read skips the relation lists the document does not hold.
 */
export async function readRow(db: Knex, tenantId: string, type: CatalogType, entityId: string): Promise<Record<string, unknown> | null> {
  const row = await scoped(KINDS[type].model, { tenantId, db }).findById(entityId);
  return row ? (plain(row) as unknown as Record<string, unknown>) : null;
}

/** Values the row changed since the base, written into the document. */
function applyRowChanges(type: CatalogType, doc: Y.Doc, row: DocState): void {
  const { base } = readBase(doc);
  if (!base) return; // no base: the document is the newer side
  const current = docState(doc);
  const fields = doc.getMap('fields');
  for (const key of editableFields(type)) {
    const known = base.fields[key];
    const rowChanged = known === undefined ? !(key in current.fields) : hashValue(row.fields[key]) !== known;
    if (rowChanged && !sameValue(current.fields[key], row.fields[key])) fields.set(key, row.fields[key]);
  }
  if (hasDescription(type) && hashValue(row.description) !== base.description) {
    replaceText(doc.getText('description'), row.description);
  }
  if (hasAttributes(type)) {
    const attributes = doc.getMap('attributes');
    const keys = new Set([...Object.keys(row.attributes), ...Object.keys(base.attributes), ...Object.keys(current.attributes)]);
    for (const key of keys) {
      const rowHash = key in row.attributes ? hashValue(row.attributes[key]) : undefined;
      if (rowHash === base.attributes[key]) continue;
      if (!(key in row.attributes)) {
        if (attributes.has(key)) attributes.delete(key);
      } else if (!sameValue(current.attributes[key], row.attributes[key])) {
        attributes.set(key, row.attributes[key]);
      }
    }
  }
}

/** The PATCH that makes the row what the document says, or null when they agree. */
function documentChanges(doc: DocState, row: DocState): Record<string, unknown> | null {
  const patch: Record<string, unknown> = {};
  // Every key the editors put in `fields`, known or not: an unknown one is refused by validation.
  for (const [key, value] of Object.entries(doc.fields)) {
    if (!sameValue(value, row.fields[key])) patch[key] = value;
  }
  if (doc.description !== row.description) patch.description = doc.description === '' ? null : doc.description;
  if (!sameValue(doc.attributes, row.attributes)) patch.attributes = doc.attributes;
  return Object.keys(patch).length ? patch : null;
}

/**
 * The service normalises some values (trimmed names, lower-case emails): those go back into the
 * document, unless an editor changed the value again meanwhile.
 */
function echoNormalised(doc: Y.Doc, patch: Record<string, unknown>, stored: DocState): void {
  const fields = doc.getMap('fields');
  for (const [key, sent] of Object.entries(patch)) {
    if (key === 'description' || key === 'attributes' || !(key in stored.fields)) continue;
    if (sameValue(fields.get(key), sent) && !sameValue(stored.fields[key], sent)) fields.set(key, stored.fields[key] as Json);
  }
  if ('description' in patch) {
    const text = doc.getText('description');
    if (text.toString() === (patch.description ?? '') && stored.description !== text.toString()) replaceText(text, stored.description);
  }
}
