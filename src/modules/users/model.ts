// Login users of a tenant. password_hash never leaves this module's services.
import { TenantModel } from '../../platform/tenancy.js';
import type { UserRole } from '../../platform/context.js';

export class User extends TenantModel {
  static override tableName = 'users';
  static override softDelete = true;
  id!: string;
  email!: string;
  display_name!: string;
  password_hash!: string | null;
  role!: UserRole;
  auth_provider!: string;
  external_id!: string | null;
  is_active!: boolean;
  last_login_at!: Date | null;
  /** The `ver` a login token must carry; bumped to end every session of the user. */
  token_version!: number;
  person_id!: string | null;
  row_version!: number;
  created_at!: Date;
  updated_at!: Date;
  deleted_at!: Date | null;
}

/** The user as the API shows it. */
export function presentUser(u: User) {
  return {
    id: u.id,
    email: u.email,
    display_name: u.display_name,
    role: u.role,
    auth_provider: u.auth_provider,
    external_id: u.external_id,
    is_active: u.is_active,
    person_id: u.person_id,
    last_login_at: u.last_login_at ? new Date(u.last_login_at).toISOString() : null,
    row_version: u.row_version,
    created_at: new Date(u.created_at).toISOString(),
    updated_at: new Date(u.updated_at).toISOString(),
    deleted_at: u.deleted_at ? new Date(u.deleted_at).toISOString() : null,
  };
}
export type UserView = ReturnType<typeof presentUser>;
