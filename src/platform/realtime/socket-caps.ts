// Caps on concurrent live sockets per user and per tenant. Each node counts its own sockets; with
// Redis, every node also writes its counts into one hash per user and per tenant (a field per
// node, holding its count and an expiry it keeps pushing forward), and a handshake is admitted
// only if the sum over live nodes stays within the cap. A node that dies stops refreshing its
// fields, which then expire: its sockets are not counted for ever. Without Redis (one node, or
// during an outage) the caps hold per node.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export interface SocketCapsOptions {
  perUser: number;
  perTenant: number;
  /** Shared counts (cluster mode); a client without an offline queue, so an outage fails fast. */
  redis?: Redis;
  prefix: string;
  nodeId: string;
  logger: Logger;
  /** How long a node's counts stand without a refresh (ms); refreshed every third of it. */
  ttlMs?: number;
}

export type SocketAdmission = { ok: true } | { ok: false; scope: 'user' | 'tenant'; limit: number };

const DEFAULT_TTL_MS = 60_000;

// KEYS: the hashes; ARGV: now, ttl, node, then (cap, this node's count with the new socket) per key.
// Fields of other nodes are `count:expiresAt`; expired ones are dropped. Returns the 1-based index
// of the first key whose cap the socket would pass (nothing written), else 0 (counts written).
const ADMIT = `
local now, ttl, node = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i = 1, #KEYS do
  local total = tonumber(ARGV[3 + 2 * i])
  local fields = redis.call('HGETALL', KEYS[i])
  for j = 1, #fields, 2 do
    if fields[j] ~= node then
      local value = fields[j + 1]
      local sep = string.find(value, ':', 1, true)
      if sep and tonumber(string.sub(value, sep + 1)) > now then
        total = total + tonumber(string.sub(value, 1, sep - 1))
      else
        redis.call('HDEL', KEYS[i], fields[j])
      end
    end
  end
  if total > tonumber(ARGV[2 + 2 * i]) then return i end
end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], node, ARGV[3 + 2 * i] .. ':' .. (now + ttl))
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 0
`;

export class SocketCaps {
  /** This node's sockets per hash key. */
  private readonly local = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(private readonly opts: SocketCapsOptions) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.logger = opts.logger.child({ component: 'socket-caps' });
    if (opts.redis) {
      this.timer = setInterval(() => void this.write([...this.local.keys()]), Math.floor(this.ttlMs / 3));
      this.timer.unref();
    }
  }

  /** Admits one more socket of the user (null: none, counted for the tenant only) or says which cap it would pass. */
  async admit(tenantId: string, userId: string | null): Promise<SocketAdmission> {
    const keys = this.keysOf(tenantId, userId);
    const caps = [this.opts.perTenant, this.opts.perUser];
    const scopes = ['tenant', 'user'] as const;
    const over = keys.findIndex((key, i) => this.count(key) >= caps[i]);
    if (over >= 0) return { ok: false, scope: scopes[over], limit: caps[over] };
    for (const key of keys) this.local.set(key, this.count(key) + 1);
    const refusedAt = await this.admitShared(keys, caps);
    if (refusedAt >= 0) {
      this.releaseKeys(keys);
      return { ok: false, scope: scopes[refusedAt], limit: caps[refusedAt] };
    }
    return { ok: true };
  }

  /**
   * Gives back the place of one admitted socket (call exactly once per admission). Takes the
   * principal rather than a closure, so an admitted socket holds nothing of the caps' own.
   */
  release(tenantId: string, userId: string | null): void {
    this.releaseKeys(this.keysOf(tenantId, userId));
  }

  private keysOf(tenantId: string, userId: string | null): string[] {
    return [this.key(`tenant:${tenantId}`), ...(userId ? [this.key(`user:${tenantId}:${userId}`)] : [])];
  }

  close(): void {
    clearInterval(this.timer);
  }

  private key(scope: string): string {
    return `${this.opts.prefix}:sockets:${scope}`;
  }

  private count(key: string): number {
    return this.local.get(key) ?? 0;
  }

  /** Index of the key whose cluster-wide cap is passed, or -1; -1 too when Redis cannot answer (per-node caps then). */
  private async admitShared(keys: string[], caps: number[]): Promise<number> {
    const { redis } = this.opts;
    if (!redis) return -1;
    const args = keys.flatMap((key, i) => [caps[i], this.count(key)]);
    try {
      const refused = Number(await redis.eval(ADMIT, keys.length, ...keys, Date.now(), this.ttlMs, this.opts.nodeId, ...args));
      return refused - 1;
    } catch (err) {
      this.logger.debug('shared socket counts unavailable; capping per node', { err: String(err) });
      return -1;
    }
  }

  private releaseKeys(keys: string[]): void {
    for (const key of keys) {
      const n = this.count(key) - 1;
      if (n > 0) this.local.set(key, n);
      else this.local.delete(key);
    }
    void this.write(keys);
  }

  /** This node's current counts of these keys into Redis, expiring ttl from now. */
  private async write(keys: string[]): Promise<void> {
    const { redis, nodeId } = this.opts;
    if (!redis || keys.length === 0) return;
    const expiresAt = Date.now() + this.ttlMs;
    const batch = redis.multi();
    for (const key of keys) {
      const n = this.count(key);
      if (n === 0) batch.hdel(key, nodeId);
      else batch.hset(key, nodeId, `${n}:${expiresAt}`).pexpire(key, this.ttlMs);
    }
    await batch.exec().catch((err: unknown) => this.logger.debug('socket counts not written', { err: String(err) }));
  }
}
