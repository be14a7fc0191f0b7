// The projector's side of one loaded document: whether this node holds the document's projector
// lease (always, without Redis), the debounced projection of edits (bounded by a maximum delay),
// merges of REST writes, and the notice that tells the clients how the last projection went.
import { randomUUID } from 'node:crypto';
import type { ChangeEvent } from '../../platform/bus.js';
import type { DocumentHandle } from '../../platform/collab/hooks.js';
import type { Logger } from '../../platform/logger.js';
import { SPANS, inSpan } from '../../platform/tracing.js';
import { Attribution } from './attribution.js';
import { agreesWithBase, docState, readBase, sameValue } from './layout.js';
import type { RecordLayout } from './ports.js';
import type { ProjectionTarget, Projector, RefusedPath } from './projection.js';

export interface ProjectionNotice {
  status: 'ok' | 'invalid' | 'forbidden' | 'conflict';
  detail?: string;
  errors?: { path: string; message: string }[];
}

export interface ProjectionTiming {
  projectionDelayMs: number;
  projectionMaxDelayMs: number;
  lockTtlMs: number;
}

const RETRY_MS = 5_000;

const REFUSED_DETAIL = 'Changes made by someone who may not edit this record (any more) were discarded; the record keeps its values.';

function refusedErrors(refused: RefusedPath[]): { path: string; message: string }[] {
  return refused.map(({ path, reason }) => ({
    path: path.startsWith('fields.') ? path.slice('fields.'.length) : path, // as a PATCH names it
    message: reason === 'revoked' ? 'changed by someone who may no longer edit this record' : 'changed by an unknown author',
  }));
}

export class ProjectorRole {
  held = false;
  private readonly token = randomUUID();
  /** Who changed which value since the row last agreed (kept on every node: the lease can move). */
  readonly attribution = new Attribution();
  private dirtySince: number | null = null;
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private notice: ProjectionNotice | null = null;
  /** Taken over from another holder: catch up from PostgreSQL before the next merge. */
  private behind = false;

  constructor(
    private readonly document: DocumentHandle,
    private readonly layout: RecordLayout,
    private readonly projector: Projector,
    private readonly timing: ProjectionTiming,
    private readonly log: Logger,
  ) {}

  /** A contributor (`user:…` / `key:…:…`) changed these values. */
  noteTouches(contributor: string, paths: Iterable<string>): void {
    this.attribution.note(contributor, paths);
  }

  /**
   * The server's bookkeeping (`meta`) changed: a reconciliation happened, here or on the projector
   * node. Touches of values that now agree with the base are settled.
   */
  pruneSettled(): void {
    if (this.attribution.size === 0) return;
    const { base } = readBase(this.document.doc);
    if (!base) return;
    const state = docState(this.document.doc);
    this.attribution.prune((path) => agreesWithBase(state, base, path));
  }

  /** Takes the lease (if free) when the document loads; merges with the row unless both are known to agree. */
  async start(assumeInStep: boolean): Promise<void> {
    const { lease } = this.document;
    this.held = lease ? await lease.claim(this.token, this.timing.lockTtlMs) : true;
    if (!this.held) return;
    if (assumeInStep || (await this.projector.inStep(this.target()).catch(() => false))) return;
    await this.synchronise('load').catch(() => {});
  }

  /** An edit arrived: project after a quiet spell, and never later than the maximum delay. */
  markDirty(): void {
    if (!this.held || !this.document.isLive()) return;
    const now = Date.now();
    this.dirtySince ??= now;
    const { projectionDelayMs, projectionMaxDelayMs } = this.timing;
    clearTimeout(this.debounce);
    const wait = Math.max(0, Math.min(projectionDelayMs, this.dirtySince + projectionMaxDelayMs - now));
    this.debounce = setTimeout(() => void this.synchronise('edit').catch(() => {}), wait);
  }

  /**
   * A committed change of this record: a REST (or system) write on any node is merged at once. A
   * change with origin 'coediting' is the echo of this document's own write-back (one projector per
   * document, whichever node): its values came from the document, so there is nothing to merge. It
   * can arrive before the write-back's new version is in the base (the in-process bus delivers at
   * COMMIT), so the origin, not the version, tells.
   */
  onEntityEvent(event: ChangeEvent): void {
    if (!this.held || !this.document.isLive()) return;
    if (event.origin === 'coediting') return;
    const version = Number((event.data as { row_version?: unknown } | null)?.row_version ?? 0);
    if (version && version <= readBase(this.document.doc).rowVersion) return;
    void this.synchronise('rest').catch(() => {});
  }

  /** Renews the lease, or takes it over when its holder let go or died. */
  async tick(): Promise<void> {
    const { lease } = this.document;
    if (!lease) return;
    const held = await lease.claim(this.token, this.timing.lockTtlMs);
    if (!this.document.isLive()) {
      if (held && !this.held) await lease.release(this.token); // stop() releases its own
      return;
    }
    if (held && !this.held) {
      this.held = true;
      // What the last holder wrote may not have reached this node (a Redis outage drops relayed
      // updates): the merge waits for what PostgreSQL holds, or its base would be stale.
      this.behind = true;
      void this.synchronise('takeover').catch(() => {});
    } else if (!held && this.held) {
      this.held = false;
      this.cancel();
      // The next projector speaks for the projection now.
      this.notice = null;
      if (this.document.awareness.getLocalState() !== null) this.document.awareness.setLocalState(null);
      this.log.debug('lost the projector lease');
    }
  }

  /** Before unloading: project what is pending, wait for running work, give the lease up. */
  async stop(): Promise<void> {
    const pending = this.dirtySince !== null || this.retry !== undefined;
    this.cancel();
    if (this.held && pending) await this.synchronise('unload').catch(() => {});
    await this.work;
    if (this.held && this.document.lease) await this.document.lease.release(this.token);
    this.held = false;
  }

  /** Let go at once (failed load or storage): nothing more is projected. */
  async abandon(): Promise<void> {
    this.cancel();
    if (this.held && this.document.lease) await this.document.lease.release(this.token);
    this.held = false;
  }

  /** Serialised per document: projections, REST merges and takeovers never interleave. */
  synchronise(reason: string): Promise<void> {
    const run = this.work.then(() => this.synchroniseNow(reason));
    this.work = run.catch(() => {});
    return run;
  }

  private cancel(): void {
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
    this.debounce = undefined;
    this.retry = undefined;
    this.dirtySince = null;
  }

  private async synchroniseNow(reason: string): Promise<void> {
    if (!this.held || !this.document.isLive()) return;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    this.dirtySince = null;
    try {
      const { tenantId, entityType, entityId } = this.document.address;
      const attributes = {
        'appinventory.tenant_id': tenantId,
        'appinventory.collab.document': `${entityType}/${entityId}`,
        'appinventory.collab.reason': reason,
      };
      if (this.behind) {
        await this.document.catchUp();
        this.behind = false;
      }
      // The write-back (EntityService.update) is this span's child: its transaction, append and publish.
      const outcome = await inSpan(SPANS.collabProjection, attributes, async (span) => {
        const result = await this.projector.synchronise(this.target());
        span.setAttribute('appinventory.collab.outcome', result.kind);
        if (result.kind !== 'gone') span.setAttribute('appinventory.collab.refused', result.refused.length);
        return result;
      });
      if (outcome.kind === 'gone') {
        this.document.closeClients(4404, 'the record was deleted');
      } else if (outcome.kind === 'invalid') {
        const { status, detail, title, errors } = outcome.error;
        this.announce({
          status: status === 403 ? 'forbidden' : status === 409 ? 'conflict' : 'invalid',
          detail: detail ?? title,
          errors: [...refusedErrors(outcome.refused), ...(errors ?? [])],
        });
      } else if (outcome.refused.length) {
        this.log.info('discarded co-edits that may not be written', { reason, paths: outcome.refused.map((r) => r.path) });
        this.announce({ status: 'forbidden', detail: REFUSED_DETAIL, errors: refusedErrors(outcome.refused) });
      } else if (this.notice && this.notice.status !== 'ok' && (outcome.projected || this.notice.status !== 'forbidden')) {
        // A refusal is news until the next write; a merge that changes nothing (the echo of our own
        // write) does not clear it.
        this.announce({ status: 'ok' });
      }
    } catch (err) {
      // The database is away (or a bug shows): try again later rather than at once.
      this.log.warn('projecting the document failed; retrying', { reason, err: String(err) });
      if (!this.retry && this.document.isLive()) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.synchronise('retry').catch(() => {});
        }, RETRY_MS);
        this.retry.unref();
      }
      throw err;
    }
  }

  private projectionTarget: ProjectionTarget | undefined;

  private target(): ProjectionTarget {
    const d = this.document;
    const { tenantId, entityType, entityId } = d.address;
    return (this.projectionTarget ??= {
      type: entityType,
      layout: this.layout,
      tenantId,
      entityId,
      doc: d.doc,
      attribution: this.attribution,
      whenStored: () => d.whenStored(),
    });
  }

  /** Tells every client (the editors first of all) how the last projection went, via awareness. */
  private announce(notice: ProjectionNotice): void {
    if (sameValue(this.notice, notice)) return;
    this.notice = notice;
    this.document.awareness.setLocalState({ server: true, projection: { ...notice, at: new Date().toISOString() } });
  }
}
