// Cluster mode: document updates and awareness travel between nodes over Redis pub/sub (one
// channel per loaded document), and a per-document lease (SET NX PX, renewed while loaded) names
// the one node that projects the document into its entity row.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Logger } from '../logger.js';

export const RELAY_UPDATE = 0;
export const RELAY_AWARENESS = 1;
/** A node that just loaded a document asks the others to publish their clients' awareness. */
export const RELAY_QUERY_AWARENESS = 2;
/** A node whose publishes failed during an outage tells the others to re-read the document. */
export const RELAY_CATCH_UP = 3;

export interface RelayMessage {
  kind: number;
  /** Who the edit is attributed to (updates only): `user:<id>` or `key:<apiKeyId>:<userId>`; '' for the server's. */
  actorId: string;
  payload: Uint8Array;
}

export type RelayHandler = (message: RelayMessage) => void;

// Take the lease if free, renew it if ours: one round trip whichever it is.
const CLAIM = `local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

function client(url: string, logger: Logger, name: string): Redis {
  const redis = new Redis(url, {
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    maxRetriesPerRequest: 1,
  });
  let healthy = true;
  redis.on('error', (err: Error) => {
    if (healthy) logger.warn('collab redis unavailable; retrying', { client: name, err: err.message });
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) logger.info('collab redis connection restored', { client: name });
    healthy = true;
  });
  return redis;
}

async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([redis.quit().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 1_000)))]);
    clearTimeout(timer);
  }
  if ((redis.status as string) !== 'end') redis.disconnect();
}

export class RedisRelay {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, RelayHandler>();
  private readonly origin = randomUUID();
  private readonly reconnectListeners = new Set<() => void>();
  /** Documents with a publish lost to an outage: announced for catch-up once Redis is back. */
  private readonly missed = new Set<string>();

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    // During an outage a command fails after one reconnect attempt instead of piling up; the other
    // nodes catch up from PostgreSQL when their subscriber reconnects.
    this.pub = client(url, logger, 'collab-publisher');
    this.sub = client(url, logger, 'collab-subscriber');
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.dispatch(channel.toString(), message));
    let connectedBefore = false;
    this.sub.on('ready', () => {
      if (connectedBefore) for (const listener of this.reconnectListeners) listener();
      connectedBefore = true;
    });
    this.pub.on('ready', () => {
      const keys = [...this.missed];
      this.missed.clear();
      for (const key of keys) this.publish(key, { kind: RELAY_CATCH_UP, actorId: '', payload: new Uint8Array() });
    });
  }

  channel(key: string): string {
    return `${this.prefix}:collab:doc:${key}`;
  }

  /** Subscribes before the document is read from PostgreSQL, so nothing published meanwhile is missed. */
  async subscribe(key: string, handler: RelayHandler, timeoutMs = 3_000): Promise<void> {
    this.handlers.set(this.channel(key), handler);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    // If Redis is away the subscription completes when it returns; the reconnect catch-up covers the gap.
    await Promise.race([
      this.sub.subscribe(this.channel(key)).then(
        () => undefined,
        () => undefined,
      ),
      timeout,
    ]);
    clearTimeout(timer);
  }

  async unsubscribe(key: string): Promise<void> {
    const channel = this.channel(key);
    this.handlers.delete(channel);
    if (this.sub.status === 'ready') await this.sub.unsubscribe(channel).catch(() => {});
  }

  publish(key: string, message: RelayMessage): void {
    const encoder = encoding.createEncoder();
    encoding.writeVarString(encoder, this.origin);
    encoding.writeVarUint(encoder, message.kind);
    encoding.writeVarString(encoder, message.actorId);
    encoding.writeVarUint8Array(encoder, message.payload);
    this.pub.publish(this.channel(key), Buffer.from(encoding.toUint8Array(encoder))).catch((err: unknown) => {
      if (this.handlers.has(this.channel(key))) this.missed.add(key);
      this.logger.debug('collab relay publish failed', { err: String(err) });
    });
  }

  /** Called after the subscriber reconnected: messages published during the outage are gone. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  // ---- projector lease ------------------------------------------------------------------------

  lockKey(key: string): string {
    return `${this.prefix}:collab:projector:${key}`;
  }

  /** True when this token holds the lease now (newly taken or renewed); false when another does or Redis is away. */
  async claim(key: string, token: string, ttlMs: number): Promise<boolean> {
    try {
      return Number(await this.pub.eval(CLAIM, 1, this.lockKey(key), token, String(ttlMs))) === 1;
    } catch {
      return false;
    }
  }

  async release(key: string, token: string): Promise<void> {
    await this.pub.eval(RELEASE, 1, this.lockKey(key), token).catch(() => {});
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.reconnectListeners.clear();
    this.missed.clear();
    await Promise.all([quit(this.sub), quit(this.pub)]);
  }

  private dispatch(channel: string, message: Buffer): void {
    const handler = this.handlers.get(channel);
    if (!handler) return;
    try {
      const decoder = decoding.createDecoder(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
      if (decoding.readVarString(decoder) === this.origin) return; // our own publish
      const kind = decoding.readVarUint(decoder);
      const actorId = decoding.readVarString(decoder);
      const payload = decoding.readVarUint8Array(decoder);
      handler({ kind, actorId, payload });
    } catch (err) {
      this.logger.warn('ignoring a malformed collab relay message', { err: String(err) });
    }
  }
}
