// The composition root of the domain: one WriteRunner (the single write path) shared by every
// service. REST, sockets, co-editing and seeds all reach the data through these services.
import type { Knex } from 'knex';
import type { EventBus } from './platform/bus.js';
import { DERIVED_EVENT_DEFAULTS, WEBHOOK_DEFAULTS, type DerivedEventSettings, type RateLimitSettings, type WebhookSettings } from './platform/config.js';
import { ChangeLogFollowers } from './platform/followers.js';
import { ScoreEvents } from './modules/scorecards/score-events.js';
import { DashboardDataEvents } from './modules/dashboards/data-events.js';
import type { Logger } from './platform/logger.js';
import type { MetricsSink } from './platform/metrics-sink.js';
import type { RateLimits } from './platform/rate-limits.js';
import { WriteRunner } from './platform/write.js';
import { ApiKeyService } from './modules/api-keys/service.js';
import { AuditService } from './modules/audit/service.js';
import { PrincipalCache } from './modules/auth/principal-cache.js';
import { AuthService, type AuthThrottle, type Principal } from './modules/auth/service.js';
import { TokenSigner } from './modules/auth/tokens.js';
import { createEntityServices } from './modules/catalog/service.js';
import { ChangeLogService } from './modules/changelog/service.js';
import { CommentService } from './modules/comments/service.js';
import { DescriptorService } from './modules/descriptors/service.js';
import { DashboardService } from './modules/dashboards/service.js';
import { PermissionService } from './modules/permissions/service.js';
import { IncidentService } from './modules/incidents/service.js';
import { ScorecardService } from './modules/scorecards/service.js';
import { TenantService } from './modules/tenants/service.js';
import { UserService } from './modules/users/service.js';
import { WebhookService } from './modules/webhooks/service.js';
import { WebhookWorker } from './modules/webhooks/worker.js';

export interface DomainDeps {
  knex: Knex;
  bus: EventBus;
  logger: Logger;
  jwtSecret: string;
  /** The node's rate limits (Redis or memory) and their budgets; without them nothing is limited. */
  rateLimits?: { store: RateLimits; settings: RateLimitSettings };
  /** Where the write path counts the events it publishes (the node's metrics). */
  metrics?: MetricsSink;
  /** Webhook delivery settings; the worker is started by the node (start/stop on the returned domain). */
  webhooks?: WebhookSettings;
  /** The change-log followers' settings; started by the node (followers.start/stop on the returned domain). */
  derivedEvents?: DerivedEventSettings;
}

/** How long a principal may be served from a node's cache without reading the user again. */
const PRINCIPAL_TTL_MS = 5_000;

const LOGIN_WINDOW_SECONDS = 15 * 60;
const SIGNUP_WINDOW_SECONDS = 60 * 60;

function authThrottle({ store, settings }: NonNullable<DomainDeps['rateLimits']>): AuthThrottle {
  return {
    loginFailures: store.limiter('login-failures', { points: settings.loginFailuresPerAccountIp, windowSeconds: LOGIN_WINDOW_SECONDS }),
    loginAttempts: store.limiter('login-attempts', { points: settings.loginAttemptsPerIp, windowSeconds: LOGIN_WINDOW_SECONDS }),
    signups: store.limiter('signups', { points: settings.signupsPerIp, windowSeconds: SIGNUP_WINDOW_SECONDS }),
  };
}

export function createDomain({
  knex,
  bus,
  logger,
  jwtSecret,
  rateLimits,
  metrics,
  webhooks: webhookSettings = WEBHOOK_DEFAULTS,
  derivedEvents = DERIVED_EVENT_DEFAULTS,
}: DomainDeps) {
  const writes = new WriteRunner(knex, bus, logger, metrics);
  const webhooks = new WebhookService(writes);
  const entities = createEntityServices(writes);
  const incidents = new IncidentService(writes, entities);
  const scorecards = new ScorecardService(writes, entities);
  // Invalidated by every committed user and key change this node hears; bypassed while it hears none.
  const principals = new PrincipalCache<Principal>({
    ttlMs: PRINCIPAL_TTL_MS,
    maxEntries: 10_000,
    listening: () => bus.isListening?.() ?? true,
  });
  bus.subscribe((events) => principals.onEvents(events));
  bus.onResume?.(() => principals.clear());
  const changeLog = new ChangeLogService();
  const dashboards = new DashboardService(writes, { entities, incidents, scorecards });
  const followers = new ChangeLogFollowers(
    { knex, writes, bus, logger, metrics, settings: derivedEvents, read: (scope, range) => changeLog.between(scope, range) },
    [new ScoreEvents(scorecards, entities), new DashboardDataEvents(dashboards)],
  );
  return {
    knex,
    bus,
    writes,
    entities,
    auth: new AuthService(knex, writes, new TokenSigner(jwtSecret), principals, rateLimits && authThrottle(rateLimits)),
    tenants: new TenantService(knex, writes),
    users: new UserService(writes),
    apiKeys: new ApiKeyService(writes),
    incidents,
    scorecards,
    comments: new CommentService(writes),
    dashboards,
    descriptors: new DescriptorService(entities, writes),
    permissions: new PermissionService(writes),
    audit: new AuditService(),
    changeLog,
    followers,
    webhooks,
    webhookWorker: new WebhookWorker(knex, bus, webhooks, webhookSettings, logger),
  };
}

export type Domain = ReturnType<typeof createDomain>;
