// The audit log (admin) and the change log (every member of the tenant).
import { z } from 'zod';
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf } from '../../platform/http/respond.js';
import { fieldChanges, isoTimestamp, named, recordId } from '../../platform/schema-kit.js';
import { eventsQuery } from '../changelog/service.js';
import { auditQuery } from './service.js';
import type { ChangeLogService } from '../changelog/service.js';
import type { AuditService } from './service.js';

const AuditEntry = named(
  'AuditEntry',
  z
    .object({
      id: recordId,
      timestamp: isoTimestamp,
      actor: z.object({
        type: z.string().describe('user, api_key or system'),
        id: recordId.nullable(),
        user_id: recordId.nullable().describe('The user the actor speaks for'),
      }),
      action: z.string().describe('create, update, delete, restore, …'),
      target: z.object({ entity_type: z.string(), entity_id: recordId.nullable(), name: z.string().nullable() }),
      changes: fieldChanges,
      request_id: z.string().nullable(),
      ip: z.string().nullable(),
      user_agent: z.string().nullable().describe("The client's User-Agent header (at most 512 characters)"),
      metadata: z.record(z.string(), z.unknown()).nullable(),
    })
    .describe('One audited write; the audit log cannot be altered, not even by the app'),
);

const ChangeEnvelope = named(
  'ChangeEnvelope',
  z
    .object({
      seq: z.number().int().min(1).describe('Strictly increasing per tenant, without gaps, in commit order'),
      type: z.string().describe('`<entity_type>.<action>`, or an incident or derived event type'),
      tenant_id: recordId,
      entity_type: z.string(),
      entity_id: recordId.nullable(),
      action: z.string(),
      actor: z.object({ type: z.string(), id: recordId.nullable() }),
      at: isoTimestamp,
      data: z.record(z.string(), z.unknown()).nullable().describe('The record as REST returns it (redacted for non-admins where it holds secrets)'),
      changes: fieldChanges,
    })
    .describe('A committed change, as live sockets, webhooks and this log deliver it'),
);

const EventsMeta = named(
  'EventsMeta',
  z.object({
    since: z.number().int().describe('The `since` asked for'),
    limit: z.number().int(),
    next_since: z.number().int().describe('The last seq of this page: pass it as `since` for the next one'),
    has_more: z.boolean().describe('There are more events after this page (exact)'),
  }),
);

export function logRoutes(services: { audit: AuditService; changeLog: ChangeLogService }) {
  const audit = documentedRouter('/audit-logs', 'audit', 'The append-only audit log (admin).');
  audit.op(
    'get',
    '/',
    {
      operationId: 'listAuditLogs',
      summary: 'Who changed what (admin)',
      description:
        'Audit entries, newest first, with before/after diffs, request id and address. Filters combine with AND; ' +
        'follow `meta.next_cursor` for older entries.',
      query: auditQuery,
      response: AuditEntry,
      paginated: true,
    },
    async (req, res) => {
      res.json(await services.audit.list(ctxOf(req), req.query));
    },
  );
  const events = documentedRouter('/events', 'events', "The tenant's change log: the same envelopes as live events, in seq order.");
  events.op(
    'get',
    '/',
    {
      operationId: 'listEvents',
      summary: 'The change log after a seq',
      description:
        'Events with `seq > since`, oldest first: what a client missed while offline. With `entity_type` (and `entity_id`) ' +
        'only the events of those records (of that record). Page with `meta.next_since` while `meta.has_more`.',
      query: eventsQuery,
      response: ChangeEnvelope,
      paginated: EventsMeta,
    },
    async (req, res) => {
      res.json(await services.changeLog.page(ctxOf(req), req.query));
    },
  );
  return [audit, events];
}
