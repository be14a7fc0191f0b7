// The demo tenant, loaded through the domain services (so seeding exercises the real write path:
// validation, audit entries, change events). Runs on first start only; concurrent nodes take a
// PostgreSQL advisory lock so exactly one of them seeds.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createDomain, type Domain } from '../src/composition.js';
import { InProcessEventBus } from '../src/platform/bus.js';
import type { ServiceContext } from '../src/platform/context.js';
import { userActor } from '../src/platform/context.js';
import type { Logger } from '../src/platform/logger.js';

export const DEMO = {
  tenantName: 'Acme Corp',
  tenantSlug: 'acme',
  email: 'admin@acme.example',
  password: 'acme-demo-password',
} as const;

export interface SeedResult {
  seeded: boolean;
  tenantSlug: string;
  email: string;
  password: string;
}

const SEED_LOCK = 0x5eedac3e; // any fixed bigint; names this lock in pg_locks

export async function seedSampleDataIfEmpty(knex: Knex, logger: Logger): Promise<SeedResult> {
  const result = { tenantSlug: DEMO.tenantSlug, email: DEMO.email, password: DEMO.password };
  let seeded = false;
  await knex.transaction(async (lock) => {
    await lock.raw('SELECT pg_advisory_xact_lock(?)', [SEED_LOCK]);
    const existing = await lock('tenants').where({ slug: DEMO.tenantSlug }).first<{ settings: Record<string, unknown> | null } | undefined>();
    if (existing) {
      if (existing.settings?.sample_data !== 'loaded') {
        logger.warn('the demo tenant exists but its sample data is incomplete (an earlier first run was interrupted)');
      }
      return;
    }
    const bus = new InProcessEventBus();
    const domain = createDomain({ knex, bus, logger, jwtSecret: randomBytes(32).toString('hex') });
    await loadSampleData(domain, logger);
    await lock('tenants')
      .where({ slug: DEMO.tenantSlug })
      .update({ settings: JSON.stringify({ sample_data: 'loaded' }) });
    seeded = true;
  });
  return { seeded, ...result };
}

/** The sample tenant itself; also used by tests that want a realistic catalog. */
export async function loadSampleData(domain: Domain, logger?: Logger): Promise<{ ctx: ServiceContext; tenantId: string }> {
  const signup = await domain.auth.signup(
    {
      tenant_name: DEMO.tenantName,
      tenant_slug: DEMO.tenantSlug,
      email: DEMO.email,
      password: DEMO.password,
      display_name: 'Acme Admin',
    },
    { requestId: 'seed', origin: 'seed' },
  );
  const tenantId = signup.tenant.id;
  const ctx: ServiceContext = { tenantId, actor: userActor({ id: signup.user.id, role: 'admin' }), db: domain.knex, requestId: 'seed', origin: 'seed' };
  const { teams, people, products, services, components, resources, repositories } = domain.entities;

  for (const [email, display_name, role] of [
    ['editor@acme.example', 'Eddie Editor', 'editor'],
    ['ic@acme.example', 'Iris Commander', 'incident_commander'],
    ['viewer@acme.example', 'Vic Viewer', 'viewer'],
  ] as const) {
    await domain.users.create(ctx, { email, display_name, role, password: DEMO.password });
  }

  const payments = await teams.create(ctx, {
    name: 'Payments',
    description: 'Money in, money out.',
    slack_channel: '#payments',
    contact_email: 'payments@acme.example',
  });
  const platform = await teams.create(ctx, { name: 'Platform', description: 'Runtime, data stores and delivery.', slack_channel: '#platform' });
  const identity = await teams.create(ctx, { name: 'Identity', description: 'Accounts, login and access.', slack_channel: '#identity' });

  const person = (name: string, email: string, team: { id: string }, role_title: string) =>
    people.create(ctx, { name, email, team_id: team.id, role_title, slack_handle: `@${email.split('@')[0]}` });
  const ada = await person('Ada Lovelace', 'ada@acme.example', payments, 'Staff Engineer');
  const grace = await person('Grace Hopper', 'grace@acme.example', platform, 'Principal Engineer');
  const linus = await person('Linus Park', 'linus@acme.example', platform, 'SRE');
  const mary = await person('Mary Jackson', 'mary@acme.example', identity, 'Engineering Manager');
  const alan = await person('Alan Kay', 'alan@acme.example', payments, 'Product Manager');
  const joan = await person('Joan Clarke', 'joan@acme.example', identity, 'Security Engineer');

  const repo = (name: string, team: { id: string }, language: string) =>
    repositories.create(ctx, { name, provider: 'github', url: `https://github.com/acme/${name}`, language, team_id: team.id, tags: [language.toLowerCase()] });
  const paymentsRepo = await repo('payments-api', payments, 'TypeScript');
  const ledgerRepo = await repo('ledger', payments, 'Go');
  const authRepo = await repo('auth-service', identity, 'Kotlin');
  const infraRepo = await repo('infrastructure', platform, 'HCL');

  const sdk = await components.create(ctx, {
    name: 'acme-payments-sdk',
    type: 'sdk',
    team_id: payments.id,
    description: 'Client SDK for merchants.',
    attributes: { vendor: 'Acme', version: '3.2.0', language: 'TypeScript', documentation: 'https://docs.acme.example/sdk' },
    repository_ids: [paymentsRepo.id],
    tags: ['public'],
  });
  const ledgerLib = await components.create(ctx, {
    name: 'ledger-core',
    type: 'library',
    team_id: payments.id,
    attributes: { language: 'Go', version: '1.8.1', license: 'proprietary', repository: 'ledger' },
    repository_ids: [ledgerRepo.id],
  });
  const tokenWorker = await components.create(ctx, {
    name: 'token-rotator',
    type: 'agent',
    team_id: identity.id,
    attributes: { runtime: 'jvm', schedule: '*/15 * * * *', containerized: true, repository: 'auth-service' },
    repository_ids: [authRepo.id],
    depends_on_component_ids: [],
  });
  const loginUi = await components.create(ctx, {
    name: 'login-widget',
    type: 'ui_component',
    team_id: identity.id,
    attributes: { framework: 'React', package_name: '@acme/login-widget' },
  });

  const cluster = await resources.create(ctx, {
    name: 'prod-eks',
    type: 'kubernetes',
    environment: 'production',
    team_id: platform.id,
    attributes: { provider: 'aws', region: 'eu-west-1' },
  });
  const pgVm = await resources.create(ctx, {
    name: 'ledger-db-vm',
    type: 'virtual_machine',
    environment: 'production',
    team_id: platform.id,
    attributes: { provider: 'aws', region: 'eu-west-1', instance_type: 'r6i.2xlarge' },
  });
  const cdn = await resources.create(ctx, {
    name: 'edge-cdn',
    type: 'cdn',
    environment: 'production',
    team_id: platform.id,
    attributes: { provider: 'cloudflare' },
  });
  const gateway = await resources.create(ctx, {
    name: 'public-gateway',
    type: 'api_gateway',
    environment: 'production',
    team_id: platform.id,
    attributes: { provider: 'aws', region: 'eu-west-1' },
  });

  const postgres = await services.create(ctx, {
    name: 'ledger-postgres',
    type: 'database',
    team_id: platform.id,
    description: 'System of record for the ledger.',
    attributes: { db_type: 'PostgreSQL', version: '16', hosting: 'self-managed', backup_frequency: 'hourly', encryption: 'at-rest' },
    resource_ids: [pgVm.id],
    tags: ['tier-0'],
    assignments: [
      { person_id: grace.id, role: 'Lead' },
      { person_id: linus.id, role: 'On-Call' },
    ],
  });
  const redis = await services.create(ctx, {
    name: 'session-cache',
    type: 'cache',
    team_id: platform.id,
    attributes: { cache_type: 'Redis', ttl: 3600, size: '8GB' },
    resource_ids: [cluster.id],
    tags: ['tier-1'],
    assignments: [{ person_id: linus.id, role: 'Lead' }],
  });
  const queue = await services.create(ctx, {
    name: 'payment-events',
    type: 'message_queue',
    team_id: payments.id,
    attributes: { broker: 'Kafka', topics: ['payments.authorized', 'payments.settled'], retention_days: 7, dlq: true },
    resource_ids: [cluster.id],
    assignments: [{ person_id: ada.id, role: 'Engineer' }],
  });
  const auth = await services.create(ctx, {
    name: 'auth-api',
    type: 'api',
    team_id: identity.id,
    description: 'OAuth2 and session issuance.',
    attributes: { endpoint: 'https://auth.acme.example', protocol: 'REST', auth_method: 'mTLS', rate_limit: 5000, sla: '99.95%' },
    component_ids: [tokenWorker.id],
    resource_ids: [cluster.id, gateway.id],
    depends_on_service_ids: [redis.id],
    repository_ids: [authRepo.id],
    tags: ['tier-0'],
    assignments: [
      { person_id: mary.id, role: 'Lead' },
      { person_id: joan.id, role: 'Engineer' },
    ],
  });
  const paymentsApi = await services.create(ctx, {
    name: 'payments-api',
    type: 'api',
    team_id: payments.id,
    description: 'Authorizes and captures card payments.',
    attributes: { endpoint: 'https://api.acme.example/payments', protocol: 'REST', auth_method: 'OAuth2', rate_limit: 2000, sla: '99.99%', version: 'v3' },
    component_ids: [sdk.id, ledgerLib.id],
    resource_ids: [cluster.id, gateway.id],
    depends_on_service_ids: [postgres.id, queue.id, auth.id],
    repository_ids: [paymentsRepo.id, ledgerRepo.id],
    tags: ['tier-0', 'pci'],
    assignments: [
      { person_id: ada.id, role: 'Lead' },
      { person_id: alan.id, role: 'Product Manager' },
      { person_id: linus.id, role: 'On-Call' },
    ],
  });
  const portal = await services.create(ctx, {
    name: 'merchant-portal',
    type: 'web_application',
    team_id: payments.id,
    attributes: { url: 'https://merchants.acme.example', framework: 'Next.js', hosting: 'kubernetes', cdn: 'edge-cdn', authentication: 'auth-api' },
    component_ids: [loginUi.id],
    resource_ids: [cdn.id],
    depends_on_service_ids: [paymentsApi.id, auth.id],
    tags: ['customer-facing'],
    assignments: [{ person_id: alan.id, role: 'Product Manager' }],
  });
  await services.create(ctx, {
    name: 'infra-terraform',
    type: 'infrastructure',
    team_id: platform.id,
    attributes: { provider: 'aws', region: 'eu-west-1', redundancy: 'multi-az', iac: 'terraform' },
    repository_ids: [infraRepo.id],
  });
  await components.update(ctx, ledgerLib.id, { depends_on_service_ids: [postgres.id] });

  await products.create(ctx, {
    name: 'Acme Checkout',
    team_id: payments.id,
    status: 'active',
    version: '2026.11',
    tags: ['revenue'],
    description: 'Hosted checkout and payment APIs for merchants.',
    service_ids: [paymentsApi.id, portal.id, queue.id],
    assignments: [
      { person_id: alan.id, role: 'Product Manager' },
      { person_id: ada.id, role: 'Architect' },
    ],
  });
  await products.create(ctx, {
    name: 'Acme Identity',
    team_id: identity.id,
    status: 'active',
    version: '5.1',
    description: 'Single sign-on for every Acme app.',
    service_ids: [auth.id],
    assignments: [{ person_id: mary.id, role: 'Stakeholder' }],
  });

  const resolved = await domain.incidents.create(ctx, {
    title: 'Login latency spike',
    severity: 'minor',
    impact_type: 'degraded',
    affected: [{ entity_type: 'services', entity_id: auth.id }],
    message: 'p99 login latency above 2 s.',
  });
  await domain.incidents.addUpdate(ctx, resolved.id, { status: 'identified', message: 'Session cache evictions after a config push.' });
  await domain.incidents.addUpdate(ctx, resolved.id, { status: 'monitoring', message: 'Config rolled back.' });
  await domain.incidents.addUpdate(ctx, resolved.id, { status: 'resolved', message: 'Latency back to normal for an hour.' });
  await domain.incidents.create(ctx, {
    title: 'Card authorizations failing for some merchants',
    severity: 'major',
    impact_type: 'outage',
    affected: [
      { entity_type: 'services', entity_id: paymentsApi.id },
      { entity_type: 'resources', entity_id: gateway.id },
    ],
    message: 'Error rate on /authorize at 12%.',
  });

  const readiness = await domain.scorecards.create(ctx, {
    name: 'Production readiness',
    description: 'The basics every production service needs.',
    entity_types: ['services'],
    criteria: [
      { name: 'Has an owning team', check_type: 'has_field', check_config: { field: 'team_id' }, weight: 3 },
      { name: 'Has a lead', check_type: 'has_assignment', check_config: { role: 'Lead' }, weight: 2 },
      { name: 'Has a repository', check_type: 'has_items', check_config: { field: 'repository_ids' }, weight: 1 },
      { name: 'No active incidents', check_type: 'no_active_incidents', check_config: {}, weight: 2 },
    ],
  });
  await domain.scorecards.create(ctx, {
    name: 'Ownership',
    description: 'Someone answers for every component.',
    entity_types: ['components', 'repositories'],
    criteria: [
      { name: 'Has an owning team', check_type: 'has_field', check_config: { field: 'team_id' }, weight: 2 },
      { name: 'At least one person assigned', check_type: 'min_assignments', check_config: { min: 1 }, weight: 1 },
    ],
  });
  // A widget shows one record (its source), or the records of the kind its config names.
  await domain.dashboards.create(ctx, {
    name: 'Payments overview',
    description: 'What the payments on-call watches.',
    widgets: [
      { title: 'Active incidents', widget_type: 'counter', config: { entity_type: 'incidents' }, layout: { x: 0, y: 0, w: 3, h: 1 } },
      { title: 'Services', widget_type: 'status_board', config: { entity_type: 'services' }, layout: { x: 3, y: 0, w: 5, h: 2 } },
      { title: 'Incident timeline', widget_type: 'timeline', config: { entity_type: 'incidents' }, layout: { x: 8, y: 0, w: 4, h: 2 } },
      {
        title: 'Production readiness',
        widget_type: 'scorecard',
        source_entity_type: 'scorecards',
        source_entity_id: readiness.id,
        layout: { x: 0, y: 1, w: 3, h: 2 },
      },
      { title: 'Resources', widget_type: 'status_board', config: { entity_type: 'resources' }, layout: { x: 3, y: 2, w: 9, h: 1 } },
    ],
  });
  logger?.info('sample data loaded', { tenant: DEMO.tenantSlug });
  return { ctx, tenantId };
}

/** knex CLI entry (`knex seed:run`). */
export async function seed(knex: Knex): Promise<void> {
  const { createLogger } = await import('../src/platform/logger.js');
  await seedSampleDataIfEmpty(knex, createLogger('info'));
}
