// Who is signed in: the token (a login token, renewed before it expires, or an API key), the user
// and what their role may write. Kept in sessionStorage, so a reload keeps the session and closing
// the tab ends it. Every 401, `revoked` event or expiry ends it with a message for the sign-in page.
import createClient from 'openapi-fetch';
import type { paths, Schemas } from '../client/index.js';

export interface Session {
  token: string;
  kind: 'login' | 'api_key';
  /** When the login token expires (ms since the epoch); null for an API key. */
  expiresAt: number | null;
  user: Schemas['User'];
  tenantId: string;
  /** Record types the role may create and edit (GET /me's actor.writes). */
  writes: string[];
}

const KEY = 'appinventory.session';
// A bare client: signing in and renewing must not end the session on their own 401s.
const plain = createClient<paths>({ baseUrl: location.origin });

type Listener = (s: Session | null, message: string | null) => void;

class SessionStore {
  current: Session | null = null;
  /** Why the last session ended, shown on the sign-in page. */
  message: string | null = null;
  private listeners = new Set<Listener>();
  private renewal: ReturnType<typeof setTimeout> | undefined;
  private expiry: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    const stored = sessionStorage.getItem(KEY);
    if (stored) {
      try {
        this.set(JSON.parse(stored) as Session);
      } catch {
        sessionStorage.removeItem(KEY);
      }
    }
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The token a request or a reconnect should use now. */
  token(): string | undefined {
    return this.current?.token;
  }

  can(type: string): boolean {
    return this.current?.writes.includes(type) ?? false;
  }

  async signIn(tenant_slug: string, email: string, password: string): Promise<void> {
    const { data, error } = await plain.POST('/api/v1/auth/login', { body: { tenant_slug, email, password } });
    if (!data) throw new Error(error?.detail ?? 'Sign-in failed.');
    const { access_token, expires_in, user } = data.data;
    await this.establish(access_token, 'login', Date.now() + expires_in * 1000, user);
  }

  async signInWithKey(key: string): Promise<void> {
    await this.establish(key, 'api_key', null);
  }

  private async establish(token: string, kind: Session['kind'], expiresAt: number | null, user?: Schemas['User']): Promise<void> {
    const { data, error } = await plain.GET('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
    if (!data) throw new Error(error?.detail ?? 'That credential does not sign in.');
    const me = data.data;
    this.message = null;
    this.set({ token, kind, expiresAt, user: user ?? me.user, tenantId: me.tenant_id, writes: me.actor.writes });
  }

  /** Sign out: a login session is ended on the server too (every socket of it is told). */
  async signOut(): Promise<void> {
    const s = this.current;
    if (s?.kind === 'login') await plain.POST('/api/v1/auth/logout', { headers: { authorization: `Bearer ${s.token}` } }).catch(() => undefined);
    this.end(null);
  }

  /** The session is over (401, revoked, expired): back to sign-in with the reason. */
  end(message: string | null): void {
    if (!this.current) return;
    this.message = message;
    this.set(null);
  }

  /** Renews the login token (POST /auth/refresh); the live connection hands it to its socket. */
  async renew(): Promise<string | undefined> {
    const s = this.current;
    if (!s || s.kind !== 'login') return undefined;
    const { data } = await plain.POST('/api/v1/auth/refresh', { headers: { authorization: `Bearer ${s.token}` } });
    if (!data) {
      this.end('Your session has ended. Sign in again.');
      return undefined;
    }
    this.set({ ...s, token: data.data.access_token, expiresAt: Date.now() + data.data.expires_in * 1000 });
    return data.data.access_token;
  }

  private set(s: Session | null): void {
    this.current = s;
    if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
    else sessionStorage.removeItem(KEY);
    this.schedule();
    for (const fn of this.listeners) fn(s, this.message);
  }

  /** Renew a few minutes before expiry (a fifth of a short lifetime); end the session at expiry. */
  private schedule(): void {
    clearTimeout(this.renewal);
    clearTimeout(this.expiry);
    const s = this.current;
    if (!s || s.expiresAt === null) return;
    const left = s.expiresAt - Date.now();
    if (left <= 0) {
      queueMicrotask(() => this.end('Your session expired. Sign in again.'));
      return;
    }
    const margin = Math.min(5 * 60_000, left / 5);
    this.renewal = setTimeout(() => void this.renew(), left - margin);
    this.expiry = setTimeout(() => this.end('Your session expired. Sign in again.'), left);
  }
}

export const session = new SessionStore();
