// What one client may put into a document and its presence: the size of one update and of the
// whole document, the top-level types a document may hold, and one awareness client id per
// connection with a bounded, rate-limited state. Enforced before anything is applied, stored or
// relayed; a refusal closes the sender's connection with one of the codes below.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

export interface CollabLimits {
  /** One update (or sync step 2) from a client, in bytes: above it, closed with 4413. */
  maxUpdateBytes: number;
  /** A document as stored (snapshot plus update log) and held in memory: an update taking it past this is refused with 4413. */
  maxDocumentBytes: number;
  /** One client's awareness state (its JSON), in bytes: a larger one is dropped. */
  maxAwarenessBytes: number;
  /** Awareness messages per second and connection (a burst of as many): the excess is dropped, the latest delivered once allowed. */
  awarenessPerSecond: number;
}

export const DEFAULT_COLLAB_LIMITS: Readonly<CollabLimits> = {
  maxUpdateBytes: 1024 * 1024,
  maxDocumentBytes: 8 * 1024 * 1024,
  maxAwarenessBytes: 8 * 1024,
  awarenessPerSecond: 20,
};

/** An update above the update cap, or one that would take the document past the document cap. */
export const CLOSE_TOO_LARGE = 4413;
/** An update that creates or writes a top-level type the document's layout does not have. */
export const CLOSE_OUTSIDE_LAYOUT = 4422;

/** The largest WebSocket frame ws accepts (above: 1009): room for an update somewhat above the cap, which then closes with 4413. */
export function maxPayloadBytes(limits: CollabLimits): number {
  return Math.max(2 * limits.maxUpdateBytes, limits.maxAwarenessBytes + 1024);
}

/**
 * The first top-level type outside `allowed` that the update writes, or null. Only an item
 * without a left or right neighbour names its parent, as a top-level name or as the id of the
 * nested type it sits in; an item with a neighbour sits in its neighbour's parent, which is
 * already in the document or named in this update. So checking the named parents covers every
 * item, and nested types inside allowed ones stay allowed. Throws on a malformed update.
 */
export function typeOutside(update: Uint8Array, allowed: ReadonlySet<string>): string | null {
  const { structs } = Y.decodeUpdate(update);
  for (const struct of structs) {
    if (struct instanceof Y.Item && typeof struct.parent === 'string' && !allowed.has(struct.parent)) return struct.parent;
  }
  return null;
}

/** A token bucket: `perSecond` tokens a second, at most `perSecond` held (the burst). */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
  }
}

export interface AwarenessEntry {
  clientId: number;
  clock: number;
  /** The state's JSON as sent (null when the client removed its state). */
  json: Uint8Array;
}

/**
 * The entry for `clientId` in an awareness update (`clientId` null: the first entry), or null if
 * it has none. Throws on a malformed update. Other entries are skipped without decoding them.
 */
export function awarenessEntryOf(update: Uint8Array, clientId: number | null): AwarenessEntry | null {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  let found: AwarenessEntry | null = null;
  for (let i = 0; i < count; i++) {
    const id = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    const json = decoding.readVarUint8Array(decoder);
    if (!found && (clientId === null || id === clientId)) found = { clientId: id, clock, json };
  }
  return found;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The entry's state as sent (null for a removal). Throws when it is not UTF-8 JSON. */
export function awarenessStateOf(entry: AwarenessEntry): unknown {
  return JSON.parse(utf8.decode(entry.json));
}

/** An awareness update holding this one client's state. */
export function encodeAwarenessEntry(clientId: number, clock: number, state: Record<string, unknown> | null): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint(encoder, clientId);
  encoding.writeVarUint(encoder, clock);
  encoding.writeVarString(encoder, JSON.stringify(state));
  return encoding.toUint8Array(encoder);
}
