// The composition root of the domain: one WriteRunner (the single write path) shared by every
// service. REST, sockets, co-editing and seeds all reach the data through these services.
import type { Knex } from 'knex';
import type { EventBus } from './platform/bus.js';
import type { Logger } from './platform/logger.js';
import { WriteRunner } from './platform/write.js';
import { ApiKeyService } from './modules/api-keys/service.js';
import { AuditService } from './modules/audit/service.js';
import { AuthService } from './modules/auth/service.js';
import { TokenSigner } from './modules/auth/tokens.js';
import { createEntityServices } from './modules/catalog/service.js';
import { ChangeLogService } from './modules/changelog/service.js';
import { CommentService } from './modules/comments/service.js';
import { DashboardService } from './modules/dashboards/service.js';
import { PermissionService } from './modules/permissions/service.js';
import { IncidentService } from './modules/incidents/service.js';
import { ScorecardService } from './modules/scorecards/service.js';
import { UserService } from './modules/users/service.js';

export interface DomainDeps {
  knex: Knex;
  bus: EventBus;
  logger: Logger;
  jwtSecret: string;
}

export function createDomain({ knex, bus, logger, jwtSecret }: DomainDeps) {
  const writes = new WriteRunner(knex, bus, logger);
  const entities = createEntityServices(writes);
  return {
    knex,
    bus,
    writes,
    entities,
    auth: new AuthService(knex, writes, new TokenSigner(jwtSecret)),
    users: new UserService(writes),
    apiKeys: new ApiKeyService(writes),
    incidents: new IncidentService(writes, entities),
    scorecards: new ScorecardService(writes, entities),
    comments: new CommentService(writes),
    dashboards: new DashboardService(writes),
    permissions: new PermissionService(writes),
    audit: new AuditService(),
    changeLog: new ChangeLogService(),
  };
}

export type Domain = ReturnType<typeof createDomain>;
