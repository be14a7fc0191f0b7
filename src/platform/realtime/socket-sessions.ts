// A live socket's session: the timer that ends it at its login token's expiry (`token_expired`),
// and `refresh_token`, which swaps in a renewed token of the same principal and moves that timer,
// so a console left open is not cut off and need not reconnect.
import { invalidPayload, refreshTokenInput, type RefreshAck, type RevokedReason } from './events.js';
import type { StreamMember } from './tenant-stream.js';

/** Who a socket's token names, as live events need it. */
export interface LivePrincipal {
  tenantId: string;
  actor: { type: string; id: string | null; userId: string | null };
  /** Sees admin-only records in full (the visibility rule's reader class). */
  admin: boolean;
  /** A login token's session version; null for API keys. */
  tokenVersion: number | null;
  /** A login token's expiry (ms since the epoch); null for API keys. */
  expiresAt: number | null;
}

export interface SocketSessionDeps {
  /** The principal behind a token, read fresh (not from a cache); null when it does not sign in. */
  authenticate(token: string): Promise<LivePrincipal | null>;
  /** Sends `revoked` and disconnects. */
  revoke(member: StreamMember, reason: RevokedReason): void;
}

/** setTimeout's longest delay; a later expiry re-arms the timer when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SocketSessions {
  private readonly timers = new Map<StreamMember, NodeJS.Timeout>();

  constructor(private readonly deps: SocketSessionDeps) {}

  /** Ends the socket when its token expires (`expiresAt` null: an API key, which does not). */
  expireAt(member: StreamMember, expiresAt: number | null): void {
    this.end(member);
    if (expiresAt === null || member.state === 'closed') return;
    const timer = setTimeout(
      () => {
        this.timers.delete(member);
        if (Date.now() >= expiresAt) this.deps.revoke(member, 'token_expired');
        else this.expireAt(member, expiresAt);
      },
      Math.min(Math.max(0, expiresAt - Date.now()), MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(member, timer);
  }

  /** The socket is gone: its timer with it. */
  end(member: StreamMember): void {
    clearTimeout(this.timers.get(member));
    this.timers.delete(member);
  }

  /**
   * `refresh_token`: a renewed token of the same principal replaces the socket's, and its expiry
   * moves. A token that does not sign in, or names someone else, is refused and the socket keeps
   * its token and expiry; a role changed since the handshake ends the socket (`role_changed`).
   */
  async refresh(member: StreamMember, payload: unknown, reply: (result: RefreshAck) => void): Promise<void> {
    const parsed = refreshTokenInput.safeParse(payload);
    if (!parsed.success) return reply(invalidPayload(parsed.error, 'Invalid token'));
    const refused = (message: string) => reply({ ok: false, error: { title: 'Token refused', errors: [{ path: 'token', message }] } });
    let principal: LivePrincipal | null;
    try {
      principal = await this.deps.authenticate(parsed.data.token);
    } catch {
      return refused('cannot be checked now; try again');
    }
    if (member.state === 'closed') return refused('the socket was closed');
    if (!principal) return refused('does not sign in (invalid, expired or revoked)');
    const { data } = member.socket;
    if (principal.tenantId !== data.tenantId || principal.actor.type !== data.actor.type || principal.actor.id !== data.actor.id) {
      return refused("names another principal than the socket's");
    }
    if (principal.admin !== member.principal.admin) return this.deps.revoke(member, 'role_changed');
    member.principal.tokenVersion = principal.tokenVersion;
    data.tokenVersion = principal.tokenVersion;
    data.expiresAt = principal.expiresAt;
    this.expireAt(member, principal.expiresAt);
    reply({ ok: true, expires_at: principal.expiresAt === null ? null : new Date(principal.expiresAt).toISOString() });
  }
}
