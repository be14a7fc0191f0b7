// Objection model of comments: threaded (parent_id) and resolvable notes on a record.
import { TenantModel } from '../../platform/tenancy.js';

export class Comment extends TenantModel {
  static override tableName = 'comments';
  static override softDelete = true;
  id!: string;
  entity_type!: string;
  entity_id!: string;
  parent_id!: string | null;
  author_id!: string | null;
  body!: string;
  resolved_at!: Date | null;
  resolved_by!: string | null;
  created_at!: Date;
  updated_at!: Date;
  deleted_at!: Date | null;
  row_version!: number;
}
