// Who changed what in a document since the row last agreed with it: per value (`fields.<key>`,
// `description`, `attributes.<key>`) the contributors who touched it. The projector writes a value
// only on behalf of every one of them, each re-authorized at that moment; nothing is ever written
// for a value whose authors are unknown or no longer allowed to write.
import * as Y from 'yjs';

/** A contributor as carried in memory and over Redis: `user:<userId>` or `key:<apiKeyId>:<userId>`. */
export interface Contributor {
  key: string;
  userId: string;
  apiKeyId: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function contributorKey(userId: string, apiKeyId: string | null = null): string {
  return apiKeyId ? `key:${apiKeyId}:${userId}` : `user:${userId}`;
}

/** Parses a contributor key; a bare user id (as `collab_updates.actor_id` holds) is that user. */
export function parseContributor(value: string | null | undefined): Contributor | null {
  if (!value) return null;
  if (UUID.test(value)) return { key: contributorKey(value), userId: value, apiKeyId: null };
  const parts = value.split(':');
  if (parts[0] === 'user' && parts.length === 2 && UUID.test(parts[1])) return { key: value, userId: parts[1], apiKeyId: null };
  if (parts[0] === 'key' && parts.length === 3 && UUID.test(parts[1]) && UUID.test(parts[2])) {
    return { key: value, userId: parts[2], apiKeyId: parts[1] };
  }
  return null;
}

/** The value a transaction changed belongs to: its path, or 'meta' (server bookkeeping), or null. */
export const META_PATH = 'meta';

/** The paths a transaction changed (nested types count as the top-level value that holds them). */
export function changedPaths(doc: Y.Doc, tr: Y.Transaction): Set<string> {
  const paths = new Set<string>();
  if (tr.changed.size === 0) return paths;
  // Compared by identity only.
  const fields: unknown = doc.getMap('fields');
  const attributes: unknown = doc.getMap('attributes');
  const description: unknown = doc.getText('description');
  const meta: unknown = doc.getMap('meta');
  for (const [type, keys] of tr.changed) {
    let root = type;
    let underRoot: string | null = null;
    while (root._item) {
      underRoot = root._item.parentSub;
      root = root._item.parent as typeof type;
    }
    const nested = root !== type;
    if (root === fields || root === attributes) {
      const prefix = root === fields ? 'fields.' : 'attributes.';
      if (nested) {
        if (underRoot !== null) paths.add(prefix + underRoot);
      } else {
        for (const key of keys) if (key !== null) paths.add(prefix + key);
      }
    } else if (root === description) {
      paths.add('description');
    } else if (root === meta) {
      paths.add(META_PATH);
    }
  }
  return paths;
}

/**
 * Per path, the contributors who touched it and the sequence number of their latest touch. The
 * sequence orders touches (the latest contributor acts) and lets a projection forget exactly the
 * touches it reconciled, not the ones that arrived while it was writing.
 */
export class Attribution {
  private seq = 0;
  private readonly touches = new Map<string, Map<string, number>>();

  /** The sequence number of the latest touch so far. */
  get mark(): number {
    return this.seq;
  }

  get size(): number {
    return this.touches.size;
  }

  note(contributor: string, paths: Iterable<string>): void {
    const seq = ++this.seq;
    for (const path of paths) {
      if (path === META_PATH) continue;
      let byContributor = this.touches.get(path);
      if (!byContributor) this.touches.set(path, (byContributor = new Map<string, number>()));
      byContributor.delete(contributor); // re-inserted last: the map stays in touch order
      byContributor.set(contributor, seq);
    }
  }

  /** The contributors who touched the path, oldest touch first. */
  touchers(path: string): { contributor: string; seq: number }[] {
    const byContributor = this.touches.get(path);
    return byContributor ? [...byContributor].map(([contributor, seq]) => ({ contributor, seq })) : [];
  }

  /** Every contributor with a touch on record (of these paths only, when given). */
  contributors(paths?: Iterable<string>): Set<string> {
    const all = new Set<string>();
    const maps = paths ? [...paths].map((p) => this.touches.get(p)) : [...this.touches.values()];
    for (const byContributor of maps) for (const c of byContributor?.keys() ?? []) all.add(c);
    return all;
  }

  paths(): string[] {
    return [...this.touches.keys()];
  }

  /** Forgets the touches up to `upTo` (inclusive) of these paths: they were reconciled with the row. */
  clearPaths(upTo: number, paths: Iterable<string>): void {
    for (const path of paths) {
      const byContributor = this.touches.get(path);
      if (!byContributor) continue;
      for (const [contributor, seq] of byContributor) if (seq <= upTo) byContributor.delete(contributor);
      if (byContributor.size === 0) this.touches.delete(path);
    }
  }

  /** Forgets every touch of the paths for which `settled` says nothing is pending. */
  prune(settled: (path: string) => boolean): void {
    for (const path of [...this.touches.keys()]) if (settled(path)) this.touches.delete(path);
  }
}
