// Sign-up, login and turning a bearer token (login JWT or API key) into a service context.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Actor, ChangeOrigin, ServiceContext } from '../../platform/context.js';
import { userActor } from '../../platform/context.js';
import { Conflict, TooManyRequestsError, Unauthorized } from '../../platform/errors.js';
import type { RateLimiter } from '../../platform/rate-limits.js';
import { parseInput } from '../../platform/records.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner } from '../../platform/write.js';
import { ApiKey } from '../api-keys/model.js';
import { hashApiKey, looksLikeApiKey } from '../api-keys/service.js';
import { Tenant } from '../tenants/model.js';
import { presentTenant } from '../tenants/service.js';
import { User, presentUser } from '../users/model.js';
import { PASSWORD_MAX_BYTES } from './password-policy.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { loginInput, signupInput } from './schemas.js';
import type { PrincipalCache } from './principal-cache.js';
import { TOKEN_TTL_SECONDS, type TokenClaims, type TokenSigner, type VerifiedClaims } from './tokens.js';

export interface Principal {
  tenantId: string;
  actor: Actor;
  user: User;
  /** A login token's expiry (ms since the epoch); absent for API keys, which do not expire. */
  expiresAt?: number;
}

/**
 * How hard signing up and guessing passwords is, per client IP: failed logins count per account
 * and IP (a stranger elsewhere cannot lock the account's owner out), every login attempt per IP,
 * sign-ups per IP. Each throws a TooManyRequestsError (429) once its budget is spent.
 */
export interface AuthThrottle {
  loginFailures: RateLimiter;
  loginAttempts: RateLimiter;
  signups: RateLimiter;
}

/** What a request tells the auth service about itself. */
export interface RequestMeta {
  requestId?: string;
  /** The client's address (express's req.ip, which follows TRUST_PROXY); limits apply per IP. */
  ip?: string;
  userAgent?: string;
  origin?: ChangeOrigin;
}

// last_used_at is bookkeeping, written at most this often per key rather than on every request.
const LAST_USED_RESOLUTION_MS = 60_000;

/** The failure that spends the budget is still answered as the wrong password it was. */
function acceptLastFailure(err: unknown): void {
  if (!(err instanceof TooManyRequestsError)) throw err;
}

export class AuthService {
  constructor(
    private readonly knex: Knex,
    private readonly writes: WriteRunner,
    private readonly tokens: TokenSigner,
    /** Recently seen tokens' principals (this node); without one every request reads the user. */
    private readonly cache?: PrincipalCache<Principal>,
    /** Without one (CLIs, tests of the service itself) nothing is rate limited. */
    private readonly throttle?: AuthThrottle,
  ) {}

  async signup(input: unknown, meta: RequestMeta = {}) {
    if (meta.ip !== undefined) await this.throttle?.signups.consume(meta.ip);
    const data = parseInput(signupInput, input);
    const taken = await Tenant.query(this.knex).where('slug', data.tenant_slug).orWhere('name', data.tenant_name).first();
    if (taken) throw Conflict('A tenant with this name or slug already exists.');
    const password_hash = await hashPassword(data.password);
    const tenantId = randomUUID();
    const userId = randomUUID();
    const ctx: ServiceContext = { tenantId, actor: userActor({ id: userId, role: 'admin' }), db: this.knex, ...meta };
    const result = await this.writes.run(ctx, async (w) => {
      // The tenant row must exist before anything scoped to it; tenants sit above tenancy.
      const tenant = await Tenant.query(w.trx).insert({ id: tenantId, name: data.tenant_name, slug: data.tenant_slug }).returning('*');
      const user = (await scoped(User, w)
        .insert({ id: userId, email: data.email, display_name: data.display_name, role: 'admin', password_hash })
        .returning('*')) as unknown as User;
      const view = presentUser(user);
      w.record({ entityType: 'users', entityId: userId, entityName: view.email, action: 'created', data: view });
      return { tenant: presentTenant(tenant), user: view };
    });
    return { ...result, access_token: this.tokens.sign({ sub: userId, tid: tenantId, ver: 0 }) };
  }

  async login(input: unknown, meta: Pick<RequestMeta, 'ip' | 'userAgent'> = {}) {
    const { ip } = meta;
    if (ip !== undefined) await this.throttle?.loginAttempts.consume(ip);
    const data = parseInput(loginInput, input);
    // An account whose failures from this IP are spent is refused before its password is hashed.
    const account = JSON.stringify([data.tenant_slug, data.email, ip ?? '']);
    if (ip !== undefined) await this.throttle?.loginFailures.check(account);
    const tenant = await Tenant.query(this.knex).findOne({ slug: data.tenant_slug });
    const user = tenant ? await scoped(User, { tenantId: tenant.id, db: this.knex }).findOne({ email: data.email }) : undefined;
    // bcrypt compares only the first 72 bytes: a longer password would also let in every other
    // password sharing those bytes, so it is never accepted (none can be set any more).
    const fits = Buffer.byteLength(data.password, 'utf8') <= PASSWORD_MAX_BYTES;
    const ok = fits && (await verifyPassword(data.password, user?.password_hash ?? null));
    if (!tenant || !tenant.is_active || !user || !user.password_hash || !ok || !user.is_active) {
      if (ip !== undefined) await this.throttle?.loginFailures.consume(account).catch(acceptLastFailure);
      throw Unauthorized('Invalid tenant, email or password.');
    }
    if (ip !== undefined) await this.throttle?.loginFailures.reset(account);
    const view = await this.recordLogin(user, { tenantId: tenant.id, actor: userActor(user), db: this.knex, ...meta });
    return { ...this.issue({ sub: user.id, tid: tenant.id, ver: user.token_version }), user: view };
  }

  /**
   * A login is written like every change: `last_login_at` moves (bookkeeping: the user's version
   * stays, so an admin's If-Match on the user still holds), a `users.updated` event says so and the
   * audit entry is a `login`, with the client's address and User-Agent.
   */
  private async recordLogin(user: User, ctx: ServiceContext) {
    return this.writes.run(ctx, async (w) => {
      const [row] = (await scoped(User, w).where('id', user.id).patch({ last_login_at: new Date() }).returning('*')) as unknown as User[];
      const data = presentUser(row);
      const changes = { last_login_at: { old: presentUser(user).last_login_at, new: data.last_login_at } };
      w.record({ entityType: 'users', entityId: user.id, entityName: data.email, action: 'updated', auditAction: 'login', data, changes });
      return data;
    });
  }

  /**
   * A new login token for a valid one: the same user, tenant and token version, a new expiry. An
   * ended session (logout, password change, deactivation) cannot be renewed; nor can an API key.
   */
  async refresh(token: string | undefined) {
    const claims = token && !looksLikeApiKey(token) ? this.tokens.verify(token) : null;
    if (!claims) throw Unauthorized('Only a valid login token can be renewed.');
    await this.authenticate(token);
    return this.issue({ sub: claims.sub, tid: claims.tid, ver: claims.ver });
  }

  private issue(claims: TokenClaims) {
    return { access_token: this.tokens.sign(claims), token_type: 'Bearer' as const, expires_in: TOKEN_TTL_SECONDS };
  }

  /**
   * The principal behind a bearer token, or an Unauthorized error: from the principal cache when
   * this node saw the same token in the last few seconds (the entry never outlives the token's
   * expiry), else the token's signature and expiry are checked and its user (or key) is read.
   * `fresh` (re-checks of open connections) always reads the database.
   */
  async authenticate(token: string | undefined, opts: { fresh?: boolean } = {}): Promise<Principal> {
    if (!token) throw Unauthorized('A bearer token is required.');
    // A cached entry stands for this exact token, verified when it was cached, and never outlives
    // the token's expiry: the signature need not be checked again.
    const cached = opts.fresh ? undefined : this.cache?.get(token);
    if (cached) return cached;
    const readAt = this.cache?.epoch ?? 0;
    const isKey = looksLikeApiKey(token);
    const claims = isKey ? null : this.tokens.verify(token);
    if (!isKey && !claims) throw Unauthorized('The token is invalid, expired or revoked.');
    const principal = isKey ? await this.fromApiKey(token) : await this.fromLoginToken(claims!);
    if (!principal) throw Unauthorized('The token is invalid, expired or revoked.');
    this.cache?.set(token, principal, readAt, Date.now(), claims?.expiresAt);
    return principal;
  }

  private async fromLoginToken(claims: VerifiedClaims): Promise<Principal | null> {
    const user = await this.activeUser(claims.tid, claims.sub);
    // A token of an ended session (its version is behind the user's) no longer signs in.
    return user && user.token_version === claims.ver ? { tenantId: claims.tid, actor: userActor(user), user, expiresAt: claims.expiresAt } : null;
  }

  private async fromApiKey(token: string): Promise<Principal | null> {
    // Authentication precedes tenancy: the key's hash is the only thing that names its tenant.
    const key = await this.knex('api_keys')
      .where({ key_hash: hashApiKey(token) })
      .whereNull('revoked_at')
      .first<Pick<ApiKey, 'id' | 'tenant_id' | 'user_id' | 'scope' | 'last_used_at'> | undefined>();
    if (!key) return null;
    const user = await this.activeUser(key.tenant_id, key.user_id);
    if (!user) return null;
    if (!key.last_used_at || Date.now() - new Date(key.last_used_at).getTime() > LAST_USED_RESOLUTION_MS) {
      await scoped(ApiKey, { tenantId: key.tenant_id, db: this.knex }).findById(key.id).patch({ last_used_at: new Date() });
    }
    const actor: Actor = { type: 'api_key', id: key.id, userId: user.id, role: user.role, canWrite: key.scope === 'read_write' };
    return { tenantId: key.tenant_id, actor, user };
  }

  /**
   * The actor a user (or one of their API keys) writes as now, or null when they may not write at
   * all: an active, live user of an active tenant, and for a key one that is unrevoked, belongs to
   * that user and is read-write. Co-editing re-authorizes every contributor with it before a write-back.
   */
  async actorFor(tenantId: string, userId: string, apiKeyId: string | null): Promise<Actor | null> {
    const user = await this.activeUser(tenantId, userId);
    if (!user) return null;
    if (!apiKeyId) return userActor(user);
    const key = await scoped(ApiKey, { tenantId, db: this.knex }).findById(apiKeyId).where('user_id', user.id).whereNull('revoked_at').select('scope');
    if (!key || key.scope !== 'read_write') return null;
    return { type: 'api_key', id: apiKeyId, userId: user.id, role: user.role, canWrite: true };
  }

  /** One statement per request: the user, live and active, of an active tenant. */
  private async activeUser(tenantId: string, userId: string): Promise<User | null> {
    const user = await scoped(User, { tenantId, db: this.knex })
      .findById(userId)
      .where('users.is_active', true)
      .whereExists(Tenant.query(this.knex).where('tenants.id', tenantId).where('tenants.is_active', true));
    return user ?? null;
  }
}
