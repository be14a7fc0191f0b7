// The co-edited document's layout: `fields` (editable scalar columns), `description`
// (Y.Text) and `attributes` (Y.Map), plus `meta`, the server's record of the row the document was
// last reconciled with (row_version and a hash per value: the base of the three-way merge) and of
// the write-back in progress (`writing`: the values it is about to put in the row, stored before
// the row is written).
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import type { Actor } from '../../platform/context.js';
import type { RecordLayout } from './ports.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A record as the document sees it: one value per key; `description` '' stands for null. */
export interface DocState {
  fields: Record<string, Json>;
  description: string;
  attributes: Record<string, Json>;
}

/** Hashes of the values the row held at the last reconciliation. */
export interface BaseHashes {
  fields: Record<string, string>;
  description: string;
  attributes: Record<string, string>;
}

/** JSON with sorted object keys, so equal values compare equal whatever their key order. */
function stableJson(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export function sameValue(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

export function hashValue(value: unknown): string {
  return createHash('sha1').update(stableJson(value)).digest('base64url').slice(0, 16);
}

/** The top-level types of a document of this layout; `meta` is the server's (clients should not write it). */
export function topLevelTypes(layout: RecordLayout): string[] {
  return ['fields', 'meta', ...(layout.description ? ['description'] : []), ...(layout.attributes ? ['attributes'] : [])];
}

/**
 * A client's awareness state as its peers see it: `user` is the connection's own (user id,
 * display name, role), whatever the client put there, and `server` and `projection` (the
 * server's projection notices) are the server's to say.
 */
export function presenceState(state: Record<string, unknown>, actor: Actor, name: string): Record<string, unknown> {
  const { server: _server, projection: _projection, user: _user, ...rest } = state;
  return { ...rest, user: { id: actor.userId, name, role: actor.role } };
}

/** The document view of a row as REST returns it. */
export function rowState(layout: RecordLayout, row: Record<string, unknown>): DocState {
  const fields: Record<string, Json> = {};
  for (const key of layout.fields) fields[key] = (row[key] ?? null) as Json;
  const attributes = layout.attributes && row.attributes && typeof row.attributes === 'object' ? { ...(row.attributes as Record<string, Json>) } : {};
  const description = layout.description ? String((row.description as string | null | undefined) ?? '') : '';
  return { fields, description, attributes };
}

export function docState(doc: Y.Doc): DocState {
  return {
    fields: doc.getMap('fields').toJSON() as Record<string, Json>,
    description: doc.getText('description').toString(),
    attributes: doc.getMap('attributes').toJSON() as Record<string, Json>,
  };
}

export function baseOf(state: DocState): BaseHashes {
  const hashAll = (o: Record<string, Json>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, hashValue(v)]));
  return { fields: hashAll(state.fields), description: hashValue(state.description), attributes: hashAll(state.attributes) };
}

function validHashes(value: unknown): value is BaseHashes {
  const h = value as BaseHashes | undefined;
  return Boolean(
    h &&
    typeof h === 'object' &&
    h.fields &&
    typeof h.fields === 'object' &&
    h.attributes &&
    typeof h.attributes === 'object' &&
    typeof h.description === 'string',
  );
}

/**
 * The base of the merge, and `writing`: the values of a write-back that may have reached the row
 * although the base recording it was never stored (the node died, or storage failed, between the
 * row's COMMIT and the document's next update). A row value equal to either came from the document.
 */
export function readBase(doc: Y.Doc): { rowVersion: number; base: BaseHashes | null; writing: BaseHashes | null } {
  const meta = doc.getMap('meta');
  const base = meta.get('base');
  const writing = meta.get('writing');
  return { rowVersion: Number(meta.get('row_version') ?? 0), base: validHashes(base) ? base : null, writing: validHashes(writing) ? writing : null };
}

/** Records the row the document now agrees with (no write-back in progress). Call inside a transaction with a server origin. */
export function writeBase(doc: Y.Doc, rowVersion: number, row: DocState): void {
  const meta = doc.getMap('meta');
  const base = baseOf(row);
  if (Number(meta.get('row_version')) !== rowVersion) meta.set('row_version', rowVersion);
  if (!sameValue(meta.get('base'), base)) meta.set('base', base);
  if (meta.has('writing')) meta.delete('writing');
}

/**
 * Records, before the row is written, the values a write-back is about to put there: stored ahead
 * of the row (a write-ahead entry), so a merge after a crash tells them from a REST change. Call
 * inside a transaction with a server origin.
 */
export function writeAhead(doc: Y.Doc, row: DocState): void {
  doc.getMap('meta').set('writing', baseOf(row));
}

/** The row as it will be once `patch` (as patchOf builds it) is written. */
export function patched(row: DocState, patch: Record<string, unknown>): DocState {
  const fields = { ...row.fields };
  for (const [key, value] of Object.entries(patch)) if (key !== 'description' && key !== 'attributes') fields[key] = value as Json;
  const description = 'description' in patch ? String((patch.description as string | null) ?? '') : row.description;
  const attributes = 'attributes' in patch ? { ...(patch.attributes as Record<string, Json>) } : row.attributes;
  return { fields, description, attributes };
}

/** A new document's content: the row, and the row as its base. */
export function initialUpdate(layout: RecordLayout, row: Record<string, unknown>): Uint8Array {
  const doc = new Y.Doc();
  const state = rowState(layout, row);
  doc.transact(() => {
    const fields = doc.getMap('fields');
    for (const [k, v] of Object.entries(state.fields)) fields.set(k, v);
    if (state.description) doc.getText('description').insert(0, state.description);
    const attributes = doc.getMap('attributes');
    for (const [k, v] of Object.entries(state.attributes)) attributes.set(k, v);
    writeBase(doc, Number(row.row_version ?? 0), state);
  });
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/**
 * Replaces the text with `next` by deleting and inserting only the middle that differs, so a
 * concurrent edit elsewhere in the text survives. Never splits a surrogate pair.
 */
export function replaceText(text: Y.Text, next: string): void {
  const current = text.toString();
  if (current === next) return;
  let start = 0;
  const max = Math.min(current.length, next.length);
  while (start < max && current.charCodeAt(start) === next.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && current.charCodeAt(current.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++;
  // Step back off a low surrogate so the edit covers whole code points.
  if (start > 0 && isLowSurrogate(current.charCodeAt(start))) start--;
  if (end > 0 && isLowSurrogate(current.charCodeAt(current.length - end))) end--;
  const deleteCount = current.length - start - end;
  if (deleteCount > 0) text.delete(start, deleteCount);
  const insert = next.slice(start, next.length - end);
  if (insert) text.insert(start, insert);
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

// ---- values by path: `fields.<key>`, `description`, `attributes.<key>` ----------------------------

type PathRef = { root: 'fields' | 'attributes'; key: string } | { root: 'description' } | null;

function refOf(path: string): PathRef {
  if (path === 'description') return { root: 'description' };
  if (path.startsWith('fields.')) return { root: 'fields', key: path.slice('fields.'.length) };
  if (path.startsWith('attributes.')) return { root: 'attributes', key: path.slice('attributes.'.length) };
  return null;
}

/** The values in which document and row disagree, as paths (a fields key the document lacks is not projected). */
export function differingPaths(doc: DocState, row: DocState): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(doc.fields)) if (!sameValue(value, row.fields[key])) paths.push(`fields.${key}`);
  if (doc.description !== row.description) paths.push('description');
  for (const key of new Set([...Object.keys(doc.attributes), ...Object.keys(row.attributes)])) {
    if (!sameValue(doc.attributes[key], row.attributes[key])) paths.push(`attributes.${key}`);
  }
  return paths;
}

/** The PATCH that writes these paths' document values (and nothing else) into the row, or null. */
export function patchOf(doc: DocState, row: DocState, paths: Iterable<string>): Record<string, unknown> | null {
  const patch: Record<string, unknown> = {};
  let attributes: Record<string, Json> | undefined;
  for (const path of paths) {
    const ref = refOf(path);
    if (!ref) continue;
    if (ref.root === 'description') {
      patch.description = doc.description === '' ? null : doc.description;
    } else if (ref.root === 'fields') {
      if (ref.key in doc.fields) patch[ref.key] = doc.fields[ref.key];
    } else {
      attributes ??= { ...row.attributes };
      if (ref.key in doc.attributes) attributes[ref.key] = doc.attributes[ref.key];
      else delete attributes[ref.key];
    }
  }
  if (attributes) patch.attributes = attributes;
  return Object.keys(patch).length ? patch : null;
}

/** Puts the row's values of these paths back into the document. Call inside a transaction with a server origin. */
export function revertPaths(doc: Y.Doc, paths: Iterable<string>, row: DocState): void {
  for (const path of paths) {
    const ref = refOf(path);
    if (!ref) continue;
    if (ref.root === 'description') {
      replaceText(doc.getText('description'), row.description);
      continue;
    }
    const map = doc.getMap(ref.root);
    const values = ref.root === 'fields' ? row.fields : row.attributes;
    if (ref.key in values) {
      if (!sameValue(map.get(ref.key), values[ref.key])) map.set(ref.key, values[ref.key]);
    } else if (map.has(ref.key)) {
      map.delete(ref.key);
    }
  }
}

/** True when the document's value at the path is the one the base (the row at the last reconciliation) holds. */
export function agreesWithBase(doc: DocState, base: BaseHashes, path: string): boolean {
  const ref = refOf(path);
  if (!ref) return true;
  if (ref.root === 'description') return hashValue(doc.description) === base.description;
  const values = ref.root === 'fields' ? doc.fields : doc.attributes;
  const hashes = ref.root === 'fields' ? base.fields : base.attributes;
  if (!(ref.key in values)) return ref.root === 'fields' || hashes[ref.key] === undefined;
  return hashValue(values[ref.key]) === hashes[ref.key];
}

/** True when the document holds nothing the row has not got (every value is the base's). */
export function reconciled(doc: Y.Doc): boolean {
  const { base } = readBase(doc);
  if (!base) return false;
  const state = docState(doc);
  const attributeKeys = new Set([...Object.keys(state.attributes), ...Object.keys(base.attributes)]);
  const paths = ['description', ...Object.keys(state.fields).map((k) => `fields.${k}`), ...[...attributeKeys].map((k) => `attributes.${k}`)];
  return paths.every((path) => agreesWithBase(state, base, path));
}
