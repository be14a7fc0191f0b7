// Tenants are the one table above tenancy: they are reached by id or slug, never listed.
import { Model } from 'objection';

export class Tenant extends Model {
  static override tableName = 'tenants';
  static override jsonAttributes = ['settings'];
  id!: string;
  name!: string;
  slug!: string;
  is_active!: boolean;
  settings!: Record<string, unknown>;
  created_at!: Date;
  updated_at!: Date;
}
