// The audit log (admin) and the change log (every member of the tenant).
import { documentedRouter } from '../../platform/http/openapi.js';
import { ctxOf } from '../../platform/http/respond.js';
import { eventsQuery } from '../changelog/service.js';
import { auditQuery } from './service.js';
import type { ChangeLogService } from '../changelog/service.js';
import type { AuditService } from './service.js';

export function logRoutes(services: { audit: AuditService; changeLog: ChangeLogService }) {
  const audit = documentedRouter('/audit-logs', 'audit');
  audit.op('get', '/', { summary: 'Who changed what, with before/after diffs (admin)', query: auditQuery, paginated: true }, async (req, res) => {
    res.json(await services.audit.list(ctxOf(req), req.query));
  });
  const events = documentedRouter('/events', 'events');
  events.op('get', '/', { summary: 'The tenant change log after a seq, same envelopes as live events', query: eventsQuery, paginated: true }, async (req, res) => {
    res.json(await services.changeLog.page(ctxOf(req), req.query));
  });
  return [audit, events];
}
