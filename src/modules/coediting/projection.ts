// Projection: the document and its entity row brought into agreement through the domain service
// (EntityService.update: authorization, validation, version bump, audit, change event). A
// three-way merge against the base stored in the document decides the direction per value: what
// changed in the row since the base (REST) goes into the document, what changed in the document
// goes into the row. When both changed, the row wins.
import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import type { Actor } from '../../platform/context.js';
import { AppError } from '../../platform/errors.js';
import { parseContributor, type Attribution } from './attribution.js';
import {
  baseOf,
  differingPaths,
  docState,
  hashValue,
  patchOf,
  patched,
  readBase,
  replaceText,
  revertPaths,
  rowState,
  sameValue,
  writeAhead,
  writeBase,
  type DocState,
  type Json,
} from './layout.js';
import type { CoeditingPorts, RecordLayout } from './ports.js';

/** Transaction origins of the server's own edits (Hocuspocus-style local origins). */
const REST_ORIGIN = Object.freeze({ source: 'rest' as const });
const PROJECTION_ORIGIN = Object.freeze({ source: 'projection' as const });

export interface ProjectionTarget {
  type: string;
  layout: RecordLayout;
  tenantId: string;
  entityId: string;
  doc: Y.Doc;
  /** Who changed which value since the row last agreed with the document. */
  attribution: Attribution;
  /** Resolves once the document's edits so far (the server's own included) are stored; rejects when storing failed. */
  whenStored: () => Promise<void>;
}

/** A value the projection would not write, and put back to the row's value in the document. */
export interface RefusedPath {
  path: string;
  /** 'revoked': a contributor may no longer write the record; 'unattributed': no author is known. */
  reason: 'revoked' | 'unattributed';
}

export type ProjectionOutcome =
  | { kind: 'synced'; rowVersion: number; projected: boolean; refused: RefusedPath[] }
  | { kind: 'invalid'; error: AppError; rowVersion: number; refused: RefusedPath[] }
  | { kind: 'gone' };

const MAX_ATTEMPTS = 4;

/**
 * What one projection writes and refuses. A value touched by a contributor who arrived while the
 * others were being authorized is neither: the next projection decides it.
 */
interface Plan {
  patch: Record<string, unknown> | null;
  written: string[];
  refused: RefusedPath[];
  actor: Actor | null;
  coActors: string[];
}

export class Projector {
  constructor(private readonly ports: CoeditingPorts) {}

  /**
   * Brings document and row into agreement. A value the document changed is written only on behalf
   * of every contributor who changed it since the row last agreed, each re-authorized now (active
   * user, unrevoked read-write key, the record's write rule); the latest of them acts, all are
   * co-actors. A value with a contributor who may no longer write, or with no known contributor,
   * is refused: the document takes the row's value back (a server edit every client receives).
   */
  async synchronise(t: ProjectionTarget): Promise<ProjectionOutcome> {
    const refused: RefusedPath[] = [];
    for (let attempt = 1; ; attempt++) {
      const row = await this.ports.readRow(t.tenantId, t.type, t.entityId);
      if (!row) return { kind: 'gone' };
      const rowVersion = Number(row.row_version);
      const fromRow = rowState(t.layout, row);
      // Only the authors of values that differ now are asked about (the echo of our own write asks nobody).
      const decisions = await this.authorize(t, t.attribution.contributors(differingPaths(docState(t.doc), fromRow)));
      // From here to the write nothing yields: the plan is made on the document as it is.
      t.doc.transact(() => applyRowChanges(t.layout, t.doc, fromRow), REST_ORIGIN);
      const mark = t.attribution.mark;
      const current = docState(t.doc);
      const differing = differingPaths(current, fromRow);
      const plan = planWrite(current, fromRow, differing, t.attribution, decisions);
      const differs = new Set(differing);
      // Touches of values that agree with the row are settled.
      t.attribution.clearPaths(
        mark,
        t.attribution.paths().filter((p) => !differs.has(p)),
      );
      if (plan.refused.length) {
        const paths = plan.refused.map((r) => r.path);
        t.doc.transact(() => revertPaths(t.doc, paths, fromRow), PROJECTION_ORIGIN);
        t.attribution.clearPaths(mark, paths);
        refused.push(...plan.refused);
      }
      if (!plan.patch || !plan.actor) {
        t.doc.transact(() => writeBase(t.doc, rowVersion, fromRow), PROJECTION_ORIGIN);
        return { kind: 'synced', rowVersion, projected: false, refused };
      }
      // The values about to be written are stored in the document first: if the row's COMMIT lands
      // and the base below does not (a crash, storage gone), the next merge knows they came from
      // the document and does not take them for a REST change to copy over later edits.
      t.doc.transact(() => writeAhead(t.doc, patched(fromRow, plan.patch!)), PROJECTION_ORIGIN);
      await t.whenStored();
      let updated: Record<string, unknown>;
      try {
        const actor: Actor = { ...plan.actor, coActors: plan.coActors };
        // origin 'coediting': every node's document of this record knows the change event for its own echo.
        const ctx = { tenantId: t.tenantId, actor, requestId: `collab-${randomUUID()}`, origin: 'coediting' as const };
        updated = await this.ports.updateEntity(ctx, t.type, t.entityId, plan.patch, { expectedVersion: rowVersion });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.status === 404) return { kind: 'gone' };
        // A REST write came in between (412), or access was lost since it was checked (403): again.
        if ((err.status === 412 || err.status === 403) && attempt < MAX_ATTEMPTS) continue;
        if (err.status >= 500) throw err;
        // The row keeps its state; the document keeps the editors' (invalid) state until they fix it.
        t.doc.transact(() => writeBase(t.doc, rowVersion, fromRow), PROJECTION_ORIGIN);
        return { kind: 'invalid', error: err, rowVersion, refused };
      }
      const stored = rowState(t.layout, updated);
      t.doc.transact(() => {
        echoNormalised(t.doc, plan.patch!, stored);
        writeBase(t.doc, Number(updated.row_version), stored);
      }, PROJECTION_ORIGIN);
      t.attribution.clearPaths(mark, plan.written);
      return { kind: 'synced', rowVersion: Number(updated.row_version), projected: true, refused };
    }
  }

  /**
   * True when neither side moved since the base: the document holds no unprojected edit and the
   * row is still at the base's version. Lets a load skip the full merge (one small query).
   */
  async inStep(t: ProjectionTarget): Promise<boolean> {
    const { base, rowVersion } = readBase(t.doc);
    if (!base || !sameValue(baseOf(docState(t.doc)), base)) return false;
    const version = await this.ports.rowVersion(t.tenantId, t.type, t.entityId);
    return version !== null && version === rowVersion;
  }

  /**
   * Each contributor as the actor who may write the record now, or null when they may not: the
   * same rule as a REST write by this user or key (never the system, never a revoked key).
   */
  private async authorize(t: ProjectionTarget, contributors: Set<string>): Promise<Map<string, Actor | null>> {
    const decisions = new Map<string, Actor | null>();
    for (const key of contributors) {
      const contributor = parseContributor(key);
      const actor = contributor ? await this.ports.actorFor(t.tenantId, contributor) : null;
      const mayWrite = actor ? await this.ports.canWrite({ tenantId: t.tenantId, actor }, t.type, t.entityId) : false;
      decisions.set(key, mayWrite ? actor : null);
    }
    return decisions;
  }
}

/** Per differing value: written (every contributor may write), refused, or left for the next projection. */
function planWrite(doc: DocState, row: DocState, differing: string[], attribution: Attribution, decisions: Map<string, Actor | null>): Plan {
  const written: string[] = [];
  const refused: RefusedPath[] = [];
  let actor: Actor | null = null;
  let latest = -1;
  const coActors = new Map<string, number>();
  for (const path of differing) {
    const touchers = attribution.touchers(path);
    if (touchers.length === 0) {
      refused.push({ path, reason: 'unattributed' });
    } else if (touchers.some((x) => decisions.has(x.contributor) && decisions.get(x.contributor) === null)) {
      refused.push({ path, reason: 'revoked' });
    } else if (touchers.some((x) => !decisions.has(x.contributor))) {
      continue; // undecided: left for the next projection
    } else {
      written.push(path);
      for (const x of touchers) {
        const a = decisions.get(x.contributor)!;
        if (x.seq > latest) {
          latest = x.seq;
          actor = a;
        }
        const userId = a.userId!;
        coActors.set(userId, Math.max(coActors.get(userId) ?? -1, x.seq));
      }
    }
  }
  const ordered = [...coActors].sort((a, b) => a[1] - b[1]).map(([userId]) => userId);
  return { patch: patchOf(doc, row, written), written, refused, actor, coActors: ordered };
}

/**
 * Values the row changed since the base, written into the document. A row value that is the one a
 * write-back in progress was writing (`writing`) came from the document: not a change.
 */
function applyRowChanges(layout: RecordLayout, doc: Y.Doc, row: DocState): void {
  const { base, writing } = readBase(doc);
  if (!base) return; // no base: the document is the newer side
  const current = docState(doc);
  const fields = doc.getMap('fields');
  for (const key of layout.fields) {
    const known = base.fields[key];
    const rowHash = hashValue(row.fields[key]);
    const rowChanged = known === undefined ? !(key in current.fields) : rowHash !== known && rowHash !== writing?.fields[key];
    if (rowChanged && !sameValue(current.fields[key], row.fields[key])) fields.set(key, row.fields[key]);
  }
  const descriptionHash = hashValue(row.description);
  if (layout.description && descriptionHash !== base.description && descriptionHash !== writing?.description) {
    replaceText(doc.getText('description'), row.description);
  }
  if (layout.attributes) {
    const attributes = doc.getMap('attributes');
    const keys = new Set([...Object.keys(row.attributes), ...Object.keys(base.attributes), ...Object.keys(current.attributes)]);
    for (const key of keys) {
      const rowHash = key in row.attributes ? hashValue(row.attributes[key]) : undefined;
      if (rowHash === base.attributes[key] || (writing && rowHash === writing.attributes[key])) continue;
      if (!(key in row.attributes)) {
        if (attributes.has(key)) attributes.delete(key);
      } else if (!sameValue(current.attributes[key], row.attributes[key])) {
        attributes.set(key, row.attributes[key]);
      }
    }
  }
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
