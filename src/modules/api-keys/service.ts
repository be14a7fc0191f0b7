// API keys: created by admins, shown once, stored as a SHA-256 hash (the key is 256 random bits,
// so a slow hash adds nothing), scoped read or read_write, revocable with immediate effect.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ServiceContext } from '../../platform/context.js';
import { name255 } from '../../platform/schema-kit.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner } from '../../platform/write.js';
import { RecordTable, parseInput } from '../../platform/records.js';
import { authorize } from '../access/policy.js';
import { ApiKey, presentApiKey } from './model.js';

export const API_KEY_PREFIX = 'ail_';
export const apiKeyCreate = z.strictObject({ name: name255, scope: z.enum(['read', 'read_write']) });

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

const keys = new RecordTable<ApiKey>(ApiKey, 'API key', false);

export class ApiKeyService {
  constructor(private readonly writes: WriteRunner) {}

  async list(ctx: ServiceContext) {
    await authorize(ctx, 'read', { type: 'api_keys' });
    const rows = await scoped(ApiKey, ctx).orderBy('created_at', 'desc').limit(1000);
    return rows.map(presentApiKey);
  }

  /** Returns the key itself: the only time it is ever shown. */
  async create(ctx: ServiceContext, input: unknown) {
    await authorize(ctx, 'write', { type: 'api_keys' });
    const { name, scope } = parseInput(apiKeyCreate, input);
    const secret = randomBytes(32).toString('base64url');
    const key = `${API_KEY_PREFIX}${secret}`;
    return this.writes.run(ctx, async (w) => {
      const row = (await scoped(ApiKey, w)
        .insert({
          name,
          scope,
          user_id: w.actor.userId!,
          created_by: w.actor.userId,
          key_prefix: key.slice(0, 12),
          key_hash: hashApiKey(key),
        })
        .returning('*')) as unknown as ApiKey;
      const data = presentApiKey(row);
      w.record({ entityType: 'api_keys', entityId: row.id, entityName: name, action: 'created', data });
      return { ...data, key };
    });
  }

  async revoke(ctx: ServiceContext, id: string): Promise<void> {
    await authorize(ctx, 'write', { type: 'api_keys' });
    await this.writes.run(ctx, async (w) => {
      const row = await keys.lock(w, id);
      if (row.revoked_at) return;
      await keys.patch(w, row, { revoked_at: new Date() });
      const data = presentApiKey(await keys.find(w, id));
      w.record({ entityType: 'api_keys', entityId: id, entityName: row.name, action: 'deleted', data, previous: row });
    });
  }
}
