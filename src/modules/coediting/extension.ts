// The co-editing feature as an extension of the y-websocket engine in platform/collab:
// who may open which record's document, the document's layout built from the row, who changed
// what (attribution), the projection into the row (projector lease, debounce, write-backs through
// the REST write path), and what committed events mean for open documents and connections.
import type { CollabExtension, ConnectionHandle, DocumentHandle, DocumentHooks, EditSource } from '../../platform/collab/hooks.js';
import type { ChangeEvent } from '../../platform/bus.js';
import type { Logger } from '../../platform/logger.js';
import type * as Y from 'yjs';
import { CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED, apiKeyOf, decideAccess, type CollabPrincipal } from './access.js';
import { META_PATH, changedPaths, parseContributor } from './attribution.js';
import { initialUpdate, presenceState, reconciled, topLevelTypes } from './layout.js';
import type { Authenticated, CoeditingPorts } from './ports.js';
import { Projector } from './projection.js';
import { ProjectorRole, type ProjectionTiming } from './projector-role.js';

export type CoeditingOptions = ProjectionTiming;

export const DEFAULT_COEDITING_OPTIONS: CoeditingOptions = {
  projectionDelayMs: 500,
  projectionMaxDelayMs: 2_000,
  lockTtlMs: 10_000,
};

export interface CoeditingDeps {
  ports: CoeditingPorts;
  logger: Logger;
  options?: Partial<CoeditingOptions>;
}

type Connection = ConnectionHandle<CollabPrincipal>;

export function createCoeditingExtension({ ports, logger, options = {} }: CoeditingDeps): CollabExtension<CollabPrincipal> {
  const timing: CoeditingOptions = { ...DEFAULT_COEDITING_OPTIONS, ...definedOnly(options) };
  const projector = new Projector(ports);
  const log = logger.child({ component: 'coediting' });

  /**
   * Authenticates each connection's token again (4401 when it no longer signs in: key revoked, user
   * deactivated or deleted, token expired) and re-checks a writer's write access (4403 when lost:
   * grant revoked or lowered, role lowered). One authentication per token and one write check per
   * token and record per round. A database error leaves the connections as they are.
   */
  async function recheckAccess(targets: Connection[]): Promise<void> {
    const principals = new Map<string, Promise<Authenticated | null>>();
    const writes = new Map<string, Promise<boolean>>();
    for (const c of targets) {
      if (!c.open) continue;
      const { token, tenantId, type, entityId, writable } = c.context;
      try {
        let authenticated = principals.get(token);
        if (!authenticated) principals.set(token, (authenticated = ports.authenticate(token, { fresh: true })));
        const principal = await authenticated;
        if (!principal || principal.tenantId !== tenantId) {
          c.close(CLOSE_UNAUTHENTICATED, 'access revoked');
          continue;
        }
        if (writable) {
          const key = `${token}\n${type}\n${entityId}`;
          let allowed = writes.get(key);
          if (!allowed) writes.set(key, (allowed = ports.canWrite({ tenantId, actor: principal.actor }, type, entityId)));
          if (!(await allowed)) {
            c.close(CLOSE_FORBIDDEN, 'write access revoked');
            continue;
          }
        }
        c.context = { ...c.context, actor: principal.actor, name: principal.name };
      } catch (err) {
        log.warn('re-checking co-editing access failed', { err: String(err) });
      }
    }
  }

  return {
    onAuthenticate: ({ request, url, segments }) => decideAccess(ports, request, url, segments),

    async onCreateDocument({ address, trx }) {
      const layout = ports.layoutOf(address.entityType);
      const row = layout ? await ports.readRow(address.tenantId, address.entityType, address.entityId, trx) : null;
      if (!layout || !row) throw new Error('the record is gone');
      return initialUpdate(layout, row);
    },

    createDocumentState({ document }) {
      return new CoeditedDocument(document, ports, projector, timing, logger);
    },

    // Only the layout's types: anything else a client writes would be stored and sent to every joiner.
    documentTypes: ({ address }) => {
      const layout = ports.layoutOf(address.entityType);
      return layout && topLevelTypes(layout);
    },

    // Presence shows who the connection signed in as, not what the client says.
    awarenessState: ({ state, context }) => presenceState(state, context.actor, context.name),

    // Idle and unload compaction keep the log (and its authors) while the document holds edits the row lacks.
    canCompact: ({ doc }) => reconciled(doc),

    onBusEvent({ event, connections }) {
      const change = ports.accessChangeOf(event);
      if (!change) return;
      for (const c of connections) {
        const { actor, tenantId, type, entityId } = c.context;
        if (tenantId !== change.tenantId) continue;
        if (change.kind === 'revoked') {
          // Neither a user nor a key named: the whole tenant (deactivated).
          const everyone = !change.userId && !change.apiKeyId;
          if (everyone || (change.userId && actor.userId === change.userId) || (change.apiKeyId && apiKeyOf(actor) === change.apiKeyId)) {
            c.close(CLOSE_UNAUTHENTICATED, change.reason);
          }
          continue;
        }
        if (change.userId && actor.userId !== change.userId) continue;
        if (change.entityId && (entityId !== change.entityId || type !== change.entityType)) continue;
        void recheckAccess([c]);
      }
    },

    // Revocation normally arrives as a change event; this bounds how long a lost event leaves a socket open.
    onRecheck: ({ connections }) => recheckAccess(connections),
  };
}

/** One loaded record's co-editing state: attribution and the projector role. */
class CoeditedDocument implements DocumentHooks {
  private readonly projection: ProjectorRole;

  constructor(
    private readonly document: DocumentHandle,
    ports: CoeditingPorts,
    projector: Projector,
    timing: CoeditingOptions,
    logger: Logger,
  ) {
    const { entityType, entityId } = document.address;
    const layout = ports.layoutOf(entityType);
    if (!layout) throw new Error(`${entityType} are not co-edited`);
    const log = logger.child({ component: 'collab', document: `${entityType}/${entityId}` });
    this.projection = new ProjectorRole(document, layout, projector, timing, log);
  }

  /** A document just built from the row agrees with it; any other may lag a REST change or hold edits a crash kept from the row. */
  onReady({ created }: { created: boolean }): Promise<void> {
    return this.projection.start(created);
  }

  /** Records who changed which value (for the projection); server bookkeeping settles touches. */
  afterTransaction({ transaction, source, author }: { transaction: Y.Transaction; source: EditSource; author: string | null }): void {
    const contributor = source === 'client' ? author : (parseContributor(author)?.key ?? null);
    const paths = changedPaths(this.document.doc, transaction);
    if (contributor) this.projection.noteTouches(contributor, paths);
    // Only the server writes `meta`; a client writing it settles nothing.
    else if (paths.has(META_PATH) && source !== 'client') this.projection.pruneSettled();
  }

  onChange(): void {
    this.projection.markDirty();
  }

  /** Committed change events of this record, from every node. */
  onBusEvent({ event }: { event: ChangeEvent }): void {
    if (event.action === 'deleted') this.document.closeClients(CLOSE_NOT_FOUND, 'the record was deleted');
    else this.projection.onEntityEvent(event);
  }

  onTick(): Promise<void> {
    return this.projection.tick();
  }

  onStop(): Promise<void> {
    return this.projection.stop();
  }

  onAbandon(): Promise<void> {
    return this.projection.abandon();
  }

  describe(): { projector: boolean } {
    return { projector: this.projection.held };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
