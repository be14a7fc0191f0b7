// The app layer's adapters: the ports that engines and features declare for themselves, built here
// from the domain services. Co-editing's write rule is the access policy's (canWrite below).
import type { Knex } from 'knex';
import type { Domain } from './composition.js';
import { systemContext, type ServiceContext } from './platform/context.js';
import { AppError } from './platform/errors.js';
import { plain } from './platform/records.js';
import { latestSeqs } from './platform/write.js';
import { scoped } from './platform/tenancy.js';
import type { Principal } from './modules/auth/service.js';
import { KINDS, isCatalogType } from './modules/catalog/kinds.js';
import type { CoeditingPorts, RecordLayout } from './modules/coediting/ports.js';
import { recordExists } from './modules/permissions/service.js';
import { can, readsAdminOnly } from './modules/access/policy.js';
import { accessChangeOf, needsRedaction, revocationOf, visibleTo } from './modules/access/visibility.js';
import type { LiveEventsOptions } from './platform/realtime/live-events.js';

const NOT_IN_FIELDS = new Set(['description', 'attributes']);

/** The co-edited layout of every catalog kind: its scalar create fields, description, attributes. */
export const CO_EDITED_LAYOUTS: Readonly<Record<string, RecordLayout>> = Object.fromEntries(
  Object.values(KINDS).map((kind) => [
    kind.type,
    {
      fields: Object.keys(kind.fields).filter((k) => !NOT_IN_FIELDS.has(k)),
      description: 'description' in kind.fields,
      attributes: 'attributes' in kind.fields,
    },
  ]),
);

/** Unauthorized (401) as null; anything else (the database is away) is thrown. */
async function principalOrNull(domain: Domain, token: string | undefined, opts: { fresh?: boolean } = {}): Promise<Principal | null> {
  try {
    return await domain.auth.authenticate(token, opts);
  } catch (err) {
    if (err instanceof AppError && err.status === 401) return null;
    throw err;
  }
}

/** May this actor write this co-edited record? The access policy's answer, as for a REST write. */
function canWrite(ctx: ServiceContext, type: string, id: string): Promise<boolean> {
  return isCatalogType(type) ? can(ctx, 'write', { type, id }) : Promise.resolve(false);
}

export function coeditingPorts(domain: Domain): CoeditingPorts {
  const db = domain.knex;
  const entityOf = (type: string) => {
    if (!isCatalogType(type)) throw new Error(`${type} are not co-edited`);
    return { kind: KINDS[type], service: domain.entities[type] };
  };
  return {
    async authenticate(token, opts) {
      const principal = await principalOrNull(domain, token, opts);
      return principal && { tenantId: principal.tenantId, actor: principal.actor, name: principal.user.display_name };
    },
    layoutOf: (type) => (Object.hasOwn(CO_EDITED_LAYOUTS, type) ? CO_EDITED_LAYOUTS[type] : null),
    recordExists: ({ tenantId, actor }, type, id) => recordExists({ tenantId, actor, db }, type, id),
    canWrite: ({ tenantId, actor }, type, id) => canWrite({ tenantId, actor, db }, type, id),
    // What the document holds are all columns: the relation lists REST adds are not read.
    async readRow(tenantId, type, id, on?: Knex) {
      const row = await scoped(entityOf(type).kind.model, { tenantId, db: on ?? db }).findById(id);
      return row ? (plain(row) as unknown as Record<string, unknown>) : null;
    },
    async rowVersion(tenantId, type, id) {
      const row = await scoped(entityOf(type).kind.model, { tenantId, db }).findById(id).select('row_version');
      return row ? Number(row.row_version) : null;
    },
    updateEntity: (ctx, type, id, patch, opts) => entityOf(type).service.update({ ...ctx, db }, id, patch, opts),
    actorFor: (tenantId, { userId, apiKeyId }) => domain.auth.actorFor(tenantId, userId, apiKeyId),
    accessChangeOf,
  };
}

/** Live events' ports: authentication, the change log, and the one visibility rule. */
export function liveEventPorts(domain: Domain): Pick<LiveEventsOptions, 'authenticate' | 'changeLog' | 'visibility' | 'bus'> {
  const db = domain.knex;
  return {
    async authenticate(token, opts) {
      // Looked up at call time: tests hold a handshake by wrapping domain.auth.authenticate.
      const principal = await principalOrNull(domain, token, opts);
      if (!principal) return null;
      const { tenantId, actor, user, expiresAt } = principal;
      return {
        tenantId,
        actor: { type: actor.type, id: actor.id, userId: actor.userId },
        admin: readsAdminOnly(actor),
        // Only a login token has a session version and an expiry; an API key has neither.
        tokenVersion: actor.type === 'user' ? user.token_version : null,
        expiresAt: expiresAt ?? null,
      };
    },
    changeLog: {
      since: (tenantId, since, limit) => domain.changeLog.since(systemContext(tenantId, db), since, limit),
      latest: (tenantId) => domain.changeLog.latestSeq(systemContext(tenantId, db)),
      latestSeqs: (tenantIds) => latestSeqs(db, tenantIds),
    },
    bus: domain.bus,
    visibility: { needsRedaction, visibleTo, revocationOf },
  };
}
