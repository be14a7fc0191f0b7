import { TenantModel } from '../../platform/tenancy.js';

export class ApiKey extends TenantModel {
  static override tableName = 'api_keys';
  id!: string;
  user_id!: string;
  name!: string;
  key_prefix!: string;
  key_hash!: string;
  scope!: 'read' | 'read_write';
  created_at!: Date;
  updated_at!: Date;
  revoked_at!: Date | null;
  last_used_at!: Date | null;
  created_by!: string | null;
  row_version!: number;
}

export function presentApiKey(k: ApiKey) {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: k.id,
    name: k.name,
    scope: k.scope,
    key_prefix: k.key_prefix,
    user_id: k.user_id,
    created_at: iso(k.created_at),
    revoked_at: iso(k.revoked_at),
    last_used_at: iso(k.last_used_at),
  };
}
