// Runtime configuration: read from the environment and validated in one place.
// A bad value stops start-up with a message naming every offending variable.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_COLLAB_LIMITS, type CollabLimits } from './collab/limits.js';
import { isExactOrigin } from './origins.js';

/** pino's level names, most verbose first; `silent` writes nothing. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface Config {
  port: number;
  host: string;
  databaseUrl?: string;
  /** Cluster mode: the owner role's URL that migrations run as (MIGRATION_DATABASE_URL); DATABASE_URL is the runtime role's. */
  migrationDatabaseUrl?: string;
  redisUrl?: string;
  dataDir: string;
  jwtSecret?: string;
  logLevel: LogLevel;
  nodeId: string;
  dbPoolMax: number;
  /** PostgreSQL statement_timeout of the runtime pool (ms, 0 = none): STATEMENT_TIMEOUT_MS. */
  statementTimeoutMs: number;
  http: HttpSettings;
  /** What one co-editing client may put into a document and its presence (COLLAB_*). */
  collab: CollabLimits;
  rateLimits: RateLimitSettings;
  live: LiveLimitSettings;
  webhooks: WebhookSettings;
  derivedEvents: DerivedEventSettings;
  /** 'cluster' when DATABASE_URL is set (shared Postgres, Redis fan-out), else one embedded node. */
  mode: 'embedded' | 'cluster';
  /**
   * Load the demo tenant (with its published password) into an empty database at start-up:
   * SEED_SAMPLE_DATA, by default on in embedded mode only.
   */
  seedSampleData: boolean;
  /** OpenTelemetry traces over OTLP/HTTP; absent (nothing of the SDK loaded) unless an OTLP endpoint is set. */
  tracing?: TracingSettings;
}

/**
 * What the app reads of the OpenTelemetry SDK's standard variables; the SDK reads them (and the
 * others: headers, sampler, resource attributes, batch sizes) itself. Validated here so a bad
 * value stops start-up before anything is loaded.
 */
export interface TracingSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT (the collector's base URL), or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full traces URL). */
  endpoint: string;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: OTLP over HTTP, protobuf (default) or JSON. */
  protocol: OtlpProtocol;
  /** OTEL_SERVICE_NAME, default appinventory-live (unless OTEL_RESOURCE_ATTRIBUTES names service.name). */
  serviceName?: string;
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json'];
export const DEFAULT_SERVICE_NAME = 'appinventory-live';

/** Limits and headers of the HTTP API. */
export interface HttpSettings {
  /** Largest request body, in bytes after any Content-Encoding is undone (BODY_MAX_BYTES). */
  bodyMaxBytes: number;
  /** Deepest nesting of objects and arrays in a JSON body (BODY_MAX_DEPTH). */
  bodyMaxDepth: number;
  /** Strict-Transport-Security max-age in seconds; 0 sends no HSTS header (HSTS_MAX_AGE). */
  hstsMaxAge: number;
  /** When set, GET /metrics wants `Authorization: Bearer <token>` (METRICS_TOKEN). */
  metricsToken?: string;
  /**
   * Express's `trust proxy`: whether (and which hops') X-Forwarded-For names the client IP that
   * rate limits key on (TRUST_PROXY; false: the peer address, the default).
   */
  trustProxy: boolean | number | string;
  /** Idempotency-Key on POST: how long a stored response is kept and how long a retry waits for it. */
  idempotency: IdempotencySettings;
  /**
   * Browser origins allowed to call the API, open live sockets and co-edit (CORS_ORIGINS, exact
   * origins); unset: none in cluster mode, the node's own localhost origins in embedded mode.
   */
  corsOrigins?: string[];
  /** The most records a relation graph or an impact list answers with; more are cut and flagged (GRAPH_MAX_NODES). */
  graphMaxNodes: number;
}

export interface IdempotencySettings {
  /** How long a key's first response is kept and replayed (IDEMPOTENCY_TTL_SECONDS). */
  ttlSeconds: number;
  /** How long a retry waits for the first request with its key to finish before a 409 (IDEMPOTENCY_WAIT_MS). */
  waitMs: number;
  /**
   * How long a first request holds its key before a retry may run in its place, when its node died
   * before storing the response (IDEMPOTENCY_LEASE_MS).
   */
  leaseMs: number;
}

export const IDEMPOTENCY_DEFAULTS: Readonly<IdempotencySettings> = { ttlSeconds: 24 * 60 * 60, waitMs: 10_000, leaseMs: 60_000 };

/** Attempts per client, counted cluster-wide in Redis (per node in memory without it). */
export interface RateLimitSettings {
  /** Failed logins per (tenant, email, client IP) per 15 min, then refused for 15 min (LOGIN_FAILURES_PER_ACCOUNT_IP). */
  loginFailuresPerAccountIp: number;
  /** Login attempts per client IP per 15 min (LOGIN_ATTEMPTS_PER_IP). */
  loginAttemptsPerIp: number;
  /** Sign-ups per client IP per hour (SIGNUPS_PER_IP). */
  signupsPerIp: number;
}

export const RATE_LIMIT_DEFAULTS: Readonly<RateLimitSettings> = { loginFailuresPerAccountIp: 10, loginAttemptsPerIp: 100, signupsPerIp: 20 };

/** Outbound webhook delivery (WEBHOOK_*). */
export interface WebhookSettings {
  /** First retry delay (ms), doubled per consecutive failure, with jitter (WEBHOOK_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** Longest retry delay (ms) (WEBHOOK_RETRY_CAP_MS). */
  retryCapMs: number;
  /** Consecutive failures after which an endpoint is disabled (WEBHOOK_MAX_FAILURES). */
  maxFailures: number;
  /** Per-request timeout (ms) (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** How often the worker looks for due deliveries without a bus wake-up (ms) (WEBHOOK_POLL_MS). */
  pollMs: number;
  /** Deliver to loopback, private and link-local addresses (WEBHOOK_ALLOW_PRIVATE=true; for tests). */
  allowPrivate: boolean;
  /** Whether this node runs the delivery worker (WEBHOOK_DELIVERY=false: it stores webhooks and delivers nothing). */
  deliver: boolean;
}

/** The change-log followers that append derived events after commit (DERIVED_EVENTS*). */
export interface DerivedEventSettings {
  /** Whether this node runs them (DERIVED_EVENTS=false: another node must, or scores and dashboard data stay unannounced). */
  run: boolean;
  /** How often they look for tenants behind their cursor without a bus wake-up (ms) (DERIVED_EVENTS_POLL_MS). */
  pollMs: number;
}

export const DERIVED_EVENT_DEFAULTS: Readonly<DerivedEventSettings> = { run: true, pollMs: 2_000 };

export const WEBHOOK_DEFAULTS: Readonly<WebhookSettings> = {
  retryBaseMs: 1_000,
  retryCapMs: 60 * 60 * 1000,
  maxFailures: 20,
  timeoutMs: 10_000,
  pollMs: 5_000,
  allowPrivate: false,
  deliver: true,
};

/** Bounds of live sockets. */
export interface LiveLimitSettings {
  /** Concurrent live sockets per user, their API keys' included (SOCKETS_PER_USER). */
  socketsPerUser: number;
  /** Concurrent live sockets per tenant (SOCKETS_PER_TENANT). */
  socketsPerTenant: number;
  /** Unsent bytes a socket may have queued before it is dropped as a slow consumer (SOCKET_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
}

export const LIVE_LIMIT_DEFAULTS: Readonly<LiveLimitSettings> = {
  socketsPerUser: 200,
  socketsPerTenant: 10_000,
  maxBufferedBytes: 8 * 1024 * 1024,
};

export const HTTP_DEFAULTS: Readonly<HttpSettings> = {
  bodyMaxBytes: 256 * 1024,
  bodyMaxDepth: 32,
  hstsMaxAge: 0,
  trustProxy: false,
  idempotency: IDEMPOTENCY_DEFAULTS,
  graphMaxNodes: 1000,
};

export interface ConfigIssue {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(`Invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

// An empty variable (`REDIS_URL=` in a compose file or .env) means "not set".
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

function integer(min: number, max: number, fallback: number) {
  return optionalString.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `expected an integer ${min}-${max}` });
      return z.NEVER;
    }
    return n;
  });
}

function url(protocols: string[], what: string) {
  return optionalString.transform((raw, ctx) => {
    if (raw === undefined) return undefined;
    let parsed: URL | undefined;
    try {
      parsed = new URL(raw);
    } catch {
      parsed = undefined;
    }
    // The value may hold a password, so it is never echoed back.
    if (!parsed || !protocols.includes(parsed.protocol) || !parsed.hostname) {
      ctx.addIssue({ code: 'custom', message: `expected a ${what} URL (${protocols.map((p) => `${p}//`).join(' or ')}…)` });
      return z.NEVER;
    }
    return raw;
  });
}

/**
 * TRUST_PROXY as express takes it: `true`/`false`, a number of proxy hops, or a comma-separated
 * list of proxy addresses, subnets and express's names for them (loopback, linklocal, uniquelocal).
 */
/** `true` or `false`, else a config error; undefined when unset. */
const trueOrFalse = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') {
    ctx.addIssue({ code: 'custom', message: 'expected true or false' });
    return z.NEVER;
  }
  return v === 'true';
});

const trustProxy = optionalString.transform((raw, ctx): boolean | number | string => {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d{1,2}$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((e) => e.trim());
  if (entries.every((e) => /^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(e))) return entries.join(',');
  ctx.addIssue({ code: 'custom', message: 'expected true, false, a hop count or a comma-separated list of proxy addresses/subnets' });
  return z.NEVER;
});

// OTLP over gRPC would need an exporter this project does not ship.
const otlpProtocol = optionalString.transform((raw, ctx): OtlpProtocol | undefined => {
  if (raw === undefined) return undefined;
  if ((OTLP_PROTOCOLS as readonly string[]).includes(raw)) return raw as OtlpProtocol;
  ctx.addIssue({ code: 'custom', message: `expected one of ${OTLP_PROTOCOLS.join(', ')} (OTLP over HTTP)` });
  return z.NEVER;
});

interface TracingEnv {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_PROTOCOL?: OtlpProtocol;
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?: OtlpProtocol;
  OTEL_SERVICE_NAME?: string;
  OTEL_RESOURCE_ATTRIBUTES?: string;
  OTEL_SDK_DISABLED: boolean;
}

/** Traces are on when an OTLP endpoint is set (and the SDK is not disabled); otherwise nothing of the SDK loads. */
function tracingOf(env: TracingEnv): { tracing?: TracingSettings } {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED) return {};
  const namedByResource = /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const serviceName = env.OTEL_SERVICE_NAME ?? (namedByResource ? undefined : DEFAULT_SERVICE_NAME);
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  return { tracing: { endpoint, protocol, ...(serviceName ? { serviceName } : {}) } };
}

/** CORS_ORIGINS: a comma-separated list of exact origins (`https://app.example.com,http://localhost:5173`). */
const corsOrigins = optionalString.transform((raw, ctx): string[] | undefined => {
  if (raw === undefined) return undefined;
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const bad = entries.filter((e) => !isExactOrigin(e));
  if (bad.length > 0 || entries.length === 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected comma-separated origins such as https://app.example.com (scheme, lower-case host, optional port; no path or wildcard)${bad.length ? `, not ${bad.map((b) => JSON.stringify(b)).join(', ')}` : ''}`,
    });
    return z.NEVER;
  }
  return [...new Set(entries)];
});

/** Environment variables → typed config. Cross-variable rules live in loadConfig's refinement below. */
export const configSchema = z
  .object({
    PORT: integer(0, 65535, 3000),
    HOST: optionalString.transform((v) => v ?? '0.0.0.0'),
    DATABASE_URL: url(['postgres:', 'postgresql:'], 'PostgreSQL'),
    MIGRATION_DATABASE_URL: url(['postgres:', 'postgresql:'], 'PostgreSQL'),
    REDIS_URL: url(['redis:', 'rediss:'], 'Redis'),
    DATA_DIR: optionalString.transform((v) => path.resolve(v ?? './data')),
    JWT_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, {
      message: 'expected at least 32 characters',
    }),
    LOG_LEVEL: optionalString.transform((v, ctx) => {
      const level = (v ?? 'info').toLowerCase();
      if (!(LOG_LEVELS as readonly string[]).includes(level)) {
        ctx.addIssue({ code: 'custom', message: `expected one of ${LOG_LEVELS.join(', ')}` });
        return z.NEVER;
      }
      return level as LogLevel;
    }),
    NODE_ID: optionalString.refine((v) => v === undefined || /^[\w.:@-]{1,128}$/.test(v), {
      message: 'expected 1-128 characters from [A-Za-z0-9_.:@-]',
    }),
    DB_POOL_MAX: integer(1, 1000, 10),
    STATEMENT_TIMEOUT_MS: integer(0, 3_600_000, 30_000),
    SEED_SAMPLE_DATA: trueOrFalse,
    BODY_MAX_BYTES: integer(1024, 64 * 1024 * 1024, HTTP_DEFAULTS.bodyMaxBytes),
    BODY_MAX_DEPTH: integer(2, 256, HTTP_DEFAULTS.bodyMaxDepth),
    // Two years is the most browsers' preload lists ask for.
    HSTS_MAX_AGE: integer(0, 63_072_000, HTTP_DEFAULTS.hstsMaxAge),
    GRAPH_MAX_NODES: integer(1, 10_000, HTTP_DEFAULTS.graphMaxNodes),
    COLLAB_MAX_UPDATE_BYTES: integer(1024, 256 * 1024 * 1024, DEFAULT_COLLAB_LIMITS.maxUpdateBytes),
    COLLAB_MAX_DOC_BYTES: integer(4096, 1024 * 1024 * 1024, DEFAULT_COLLAB_LIMITS.maxDocumentBytes),
    COLLAB_MAX_AWARENESS_BYTES: integer(256, 1024 * 1024, DEFAULT_COLLAB_LIMITS.maxAwarenessBytes),
    COLLAB_AWARENESS_PER_SECOND: integer(1, 10_000, DEFAULT_COLLAB_LIMITS.awarenessPerSecond),
    // Never echoed back: the value is a secret.
    METRICS_TOKEN: optionalString.refine((v) => v === undefined || /^[\x21-\x7e]{16,256}$/.test(v), {
      message: 'expected 16-256 printable characters without spaces',
    }),
    TRUST_PROXY: trustProxy,
    CORS_ORIGINS: corsOrigins,
    LOGIN_FAILURES_PER_ACCOUNT_IP: integer(1, 1_000_000, RATE_LIMIT_DEFAULTS.loginFailuresPerAccountIp),
    LOGIN_ATTEMPTS_PER_IP: integer(1, 1_000_000, RATE_LIMIT_DEFAULTS.loginAttemptsPerIp),
    SIGNUPS_PER_IP: integer(1, 1_000_000, RATE_LIMIT_DEFAULTS.signupsPerIp),
    SOCKETS_PER_USER: integer(1, 1_000_000, LIVE_LIMIT_DEFAULTS.socketsPerUser),
    SOCKETS_PER_TENANT: integer(1, 10_000_000, LIVE_LIMIT_DEFAULTS.socketsPerTenant),
    SOCKET_MAX_BUFFERED_BYTES: integer(1024, 1024 * 1024 * 1024, LIVE_LIMIT_DEFAULTS.maxBufferedBytes),
    IDEMPOTENCY_TTL_SECONDS: integer(60, 30 * 24 * 60 * 60, IDEMPOTENCY_DEFAULTS.ttlSeconds),
    IDEMPOTENCY_WAIT_MS: integer(0, 600_000, IDEMPOTENCY_DEFAULTS.waitMs),
    IDEMPOTENCY_LEASE_MS: integer(1_000, 3_600_000, IDEMPOTENCY_DEFAULTS.leaseMs),
    WEBHOOK_RETRY_BASE_MS: integer(1, 3_600_000, WEBHOOK_DEFAULTS.retryBaseMs),
    WEBHOOK_RETRY_CAP_MS: integer(1, 24 * 3_600_000, WEBHOOK_DEFAULTS.retryCapMs),
    WEBHOOK_MAX_FAILURES: integer(1, 1_000_000, WEBHOOK_DEFAULTS.maxFailures),
    WEBHOOK_TIMEOUT_MS: integer(100, 600_000, WEBHOOK_DEFAULTS.timeoutMs),
    WEBHOOK_POLL_MS: integer(10, 3_600_000, WEBHOOK_DEFAULTS.pollMs),
    WEBHOOK_ALLOW_PRIVATE: optionalString.transform((v) => v?.toLowerCase() === 'true'),
    WEBHOOK_DELIVERY: trueOrFalse,
    DERIVED_EVENTS: trueOrFalse,
    DERIVED_EVENTS_POLL_MS: integer(10, 3_600_000, DERIVED_EVENT_DEFAULTS.pollMs),
    OTEL_EXPORTER_OTLP_ENDPOINT: url(['http:', 'https:'], 'HTTP'),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url(['http:', 'https:'], 'HTTP'),
    OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol,
    OTEL_SERVICE_NAME: optionalString,
    OTEL_RESOURCE_ATTRIBUTES: optionalString,
    OTEL_SDK_DISABLED: optionalString.transform((v) => v?.toLowerCase() === 'true'),
  })
  .transform((env): Config => ({
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    ...(env.MIGRATION_DATABASE_URL ? { migrationDatabaseUrl: env.MIGRATION_DATABASE_URL } : {}),
    redisUrl: env.REDIS_URL,
    dataDir: env.DATA_DIR,
    jwtSecret: env.JWT_SECRET,
    logLevel: env.LOG_LEVEL,
    nodeId: env.NODE_ID ?? `${os.hostname()}-${process.pid}`,
    dbPoolMax: env.DB_POOL_MAX,
    statementTimeoutMs: env.STATEMENT_TIMEOUT_MS,
    http: {
      bodyMaxBytes: env.BODY_MAX_BYTES,
      bodyMaxDepth: env.BODY_MAX_DEPTH,
      hstsMaxAge: env.HSTS_MAX_AGE,
      ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
      idempotency: { ttlSeconds: env.IDEMPOTENCY_TTL_SECONDS, waitMs: env.IDEMPOTENCY_WAIT_MS, leaseMs: env.IDEMPOTENCY_LEASE_MS },
      trustProxy: env.TRUST_PROXY,
      ...(env.CORS_ORIGINS ? { corsOrigins: env.CORS_ORIGINS } : {}),
      graphMaxNodes: env.GRAPH_MAX_NODES,
    },
    rateLimits: {
      loginFailuresPerAccountIp: env.LOGIN_FAILURES_PER_ACCOUNT_IP,
      loginAttemptsPerIp: env.LOGIN_ATTEMPTS_PER_IP,
      signupsPerIp: env.SIGNUPS_PER_IP,
    },
    live: {
      socketsPerUser: env.SOCKETS_PER_USER,
      socketsPerTenant: env.SOCKETS_PER_TENANT,
      maxBufferedBytes: env.SOCKET_MAX_BUFFERED_BYTES,
    },
    collab: {
      maxUpdateBytes: env.COLLAB_MAX_UPDATE_BYTES,
      maxDocumentBytes: env.COLLAB_MAX_DOC_BYTES,
      maxAwarenessBytes: env.COLLAB_MAX_AWARENESS_BYTES,
      awarenessPerSecond: env.COLLAB_AWARENESS_PER_SECOND,
    },
    webhooks: {
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      retryCapMs: env.WEBHOOK_RETRY_CAP_MS,
      maxFailures: env.WEBHOOK_MAX_FAILURES,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      pollMs: env.WEBHOOK_POLL_MS,
      allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
      deliver: env.WEBHOOK_DELIVERY ?? WEBHOOK_DEFAULTS.deliver,
    },
    derivedEvents: { run: env.DERIVED_EVENTS ?? DERIVED_EVENT_DEFAULTS.run, pollMs: env.DERIVED_EVENTS_POLL_MS },
    mode: env.DATABASE_URL ? 'cluster' : 'embedded',
    seedSampleData: env.SEED_SAMPLE_DATA ?? !env.DATABASE_URL,
    ...tracingOf(env),
  }));

/**
 * The validated config, or a ConfigError naming every bad variable. `serve`: the config of a node
 * that will serve requests (`npm start`), which in cluster mode needs JWT_SECRET (every node must
 * verify every token): checked here, before anything is started or written.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { serve?: boolean } = {}): Config {
  const issues: ConfigIssue[] = [];
  const result = configSchema.safeParse(env);
  if (!result.success) {
    for (const issue of result.error.issues) {
      issues.push({ variable: String(issue.path[0] ?? 'environment'), message: issue.message });
    }
  }
  // Checked on the raw values so it is reported together with any other bad variable.
  const hasValue = (v: string | undefined) => v !== undefined && v.trim() !== '';
  if (hasValue(env.REDIS_URL) && !hasValue(env.DATABASE_URL)) {
    issues.push({
      variable: 'REDIS_URL',
      message: 'requires DATABASE_URL (cluster mode); Redis fan-out between nodes that each run their own embedded database makes no sense',
    });
  }
  if (result.success && result.data.collab.maxUpdateBytes > result.data.collab.maxDocumentBytes) {
    issues.push({ variable: 'COLLAB_MAX_UPDATE_BYTES', message: 'must not exceed COLLAB_MAX_DOC_BYTES' });
  }
  if (hasValue(env.MIGRATION_DATABASE_URL) && !hasValue(env.DATABASE_URL)) {
    issues.push({ variable: 'MIGRATION_DATABASE_URL', message: 'requires DATABASE_URL (cluster mode); the embedded database makes its own roles' });
  }
  if (opts.serve && hasValue(env.DATABASE_URL) && !hasValue(env.JWT_SECRET)) {
    issues.push({ variable: 'JWT_SECRET', message: 'is required in cluster mode (every node must verify every token)' });
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.data;
}
