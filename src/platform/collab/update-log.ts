// A document's write-ahead path, a group commit: an update that arrives while no INSERT of this
// document is in flight is appended at once (no timer); the updates that arrive while one is in
// flight wait and go together in the next INSERT. Each batch is handed on for relaying, in arrival
// order, only after its INSERT committed. The log is folded into the snapshot after N updates (or
// that many bytes) or when the document goes idle, once what it holds is reconciled. It keeps the document's stored size as a
// running total (snapshot plus log), which the document's size cap is checked against.
import type { Logger } from '../logger.js';
import { SPANS, inSpan, withinSpan } from '../tracing.js';
import type { CollabStorage, PendingUpdate } from './storage.js';

const APPEND_RETRIES_MS = [100, 400, 1_500];
/** A fold refused because the document holds edits not yet projected is tried again this much later. */
const FOLD_RETRY_MS = 1_000;

export interface UpdateLogOptions {
  compactAfterUpdates: number;
  compactIdleMs: number;
  /** The log is also folded once it holds this many bytes (so a document near its size cap is not held up by superseded edits). */
  compactAfterBytes: number;
}

export class UpdateLog<T extends PendingUpdate> {
  documentId = '';
  private pending: T[] = [];
  /** An INSERT of this document's updates is in flight (at most one at a time). */
  private flushing = false;
  private failed = false;
  private waiters: (() => void)[] = [];
  private sinceCompaction = 0;
  /** The log is folded once it holds this many updates or bytes; moved on when a fold is refused. */
  private foldAtUpdates: number;
  private foldAtBytes: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Bytes of the stored snapshot, and of the log (stored or pending) on top of it: the document's stored size. */
  private snapshotBytes = 0;
  private logBytes = 0;
  /** The compaction running now, if any: one at a time. */
  private compaction: Promise<void> | null = null;

  constructor(
    private readonly storage: CollabStorage,
    private readonly options: UpdateLogOptions,
    private readonly log: Logger,
    /** Called with each batch once it is stored: now it may be relayed. */
    private readonly onStored: (batch: T[]) => void,
    /** Called once when storage keeps failing; nothing more is stored or relayed after. */
    private readonly onFailed: (err: unknown) => void,
  ) {
    this.foldAtUpdates = options.compactAfterUpdates;
    this.foldAtBytes = options.compactAfterBytes;
  }

  /** Updates found in the log at load (a crashed node's, say): folded when this document is idle. */
  adopt(count: number): void {
    this.sinceCompaction += count;
  }

  /** The stored sizes as read from PostgreSQL (at load and catch-up), plus what is still pending here. */
  measured(snapshotBytes: number, logBytes: number): void {
    this.snapshotBytes = snapshotBytes;
    this.logBytes = logBytes + this.pending.reduce((sum, p) => sum + p.update.byteLength, 0);
  }

  /** An update another node stored in this document's log. */
  noteStoredElsewhere(bytes: number): void {
    this.logBytes += bytes;
  }

  /** The document's stored size (snapshot and log, including what is being written): cheap, kept as a running total. */
  storedBytes(): number {
    return this.snapshotBytes + this.logBytes;
  }

  push(entry: T): void {
    if (this.failed) return;
    this.logBytes += entry.update.byteLength;
    this.pending.push(entry);
    // Nothing in flight: written now. Otherwise the running flush takes it with the next batch.
    if (!this.flushing) void this.flush();
  }

  /** Resolves once everything pushed so far is stored (or storage failed). */
  whenDurable(): Promise<void> {
    if (!this.pending.length && !this.flushing) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Folds the log into the snapshot. `whenReconciled`: only if the feature's canCompact accepts
   * the merged state (co-editing: it holds nothing the row has not got, so the log keeps the
   * authors of edits not yet projected for the next load). Every fold the engine starts asks for
   * it (idle, unload, and after N updates or bytes); a refused fold is tried again a second later
   * (by then the projection has usually reconciled) or after N more, and the document's size cap
   * bounds the log meanwhile.
   */
  async compact({ whenReconciled = false }: { whenReconciled?: boolean } = {}): Promise<void> {
    while (this.compaction) await this.compaction;
    clearTimeout(this.idleTimer);
    clearTimeout(this.retryTimer);
    const counted = this.sinceCompaction;
    if (counted === 0 || this.failed) return;
    this.sinceCompaction = 0;
    // Whatever is stored or being stored now is folded (the row lock waits for appends in flight).
    const foldable = this.logBytes - this.pending.reduce((sum, p) => sum + p.update.byteLength, 0);
    const run = (async () => {
      try {
        const folded = await this.storage.compact(this.documentId, { whenReconciled });
        if (folded === null) {
          this.sinceCompaction += counted; // kept for a later attempt
          this.foldAtUpdates = this.sinceCompaction + this.options.compactAfterUpdates;
          this.foldAtBytes = this.logBytes + this.options.compactAfterBytes;
          this.retryTimer = setTimeout(() => void this.compact({ whenReconciled: true }), FOLD_RETRY_MS);
          this.retryTimer.unref();
        } else {
          this.snapshotBytes = folded.snapshotBytes;
          this.logBytes = Math.max(0, this.logBytes - foldable);
          this.foldAtUpdates = this.options.compactAfterUpdates;
          this.foldAtBytes = this.options.compactAfterBytes;
        }
      } catch (err) {
        this.sinceCompaction += counted;
        this.log.warn('compacting the update log failed', { err: String(err) });
      }
    })();
    this.compaction = run;
    try {
      await run;
    } finally {
      this.compaction = null;
    }
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.retryTimer);
  }

  /**
   * Appends until nothing is pending: one batch per INSERT, each batch being everything that
   * arrived while the previous INSERT was in flight. Runs synchronously up to the first INSERT.
   */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length && !this.failed) {
        const batch = this.pending.splice(0);
        // The relay is the store span's child: a trace shows an edit stored, then sent on.
        const stored = await inSpan(SPANS.collabStore, this.batchAttributes(batch), async (span) => {
          await this.append(batch);
          return span;
        });
        this.sinceCompaction += batch.length;
        withinSpan(stored, () => this.onStored(batch));
      }
    } catch (err) {
      this.failed = true;
      this.pending = [];
      this.onFailed(err);
    } finally {
      this.flushing = false;
      for (const resolve of this.waiters.splice(0)) resolve();
    }
    if (this.failed) return;
    const due = this.sinceCompaction >= this.foldAtUpdates || this.logBytes >= this.foldAtBytes;
    if (due && !this.compaction) void this.compact({ whenReconciled: true });
    else this.armIdleCompaction();
  }

  private batchAttributes(batch: T[]) {
    return {
      'appinventory.collab.document_id': this.documentId,
      'appinventory.collab.updates': batch.length,
      'appinventory.collab.bytes': batch.reduce((sum, p) => sum + p.update.byteLength, 0),
    };
  }

  private async append(batch: T[]): Promise<void> {
    const rows = batch.map(({ update, actorId }) => ({ update, actorId }));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.storage.append(this.documentId, rows);
      } catch (err) {
        if (attempt >= APPEND_RETRIES_MS.length) throw err;
        await new Promise((resolve) => setTimeout(resolve, APPEND_RETRIES_MS[attempt]));
      }
    }
  }

  private armIdleCompaction(): void {
    clearTimeout(this.idleTimer);
    if (this.sinceCompaction === 0) return;
    this.idleTimer = setTimeout(() => void this.compact({ whenReconciled: true }), this.options.compactIdleMs);
    this.idleTimer.unref();
  }
}
