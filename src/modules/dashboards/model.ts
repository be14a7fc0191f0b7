// Objection models of dashboards, their widgets and their filters. Widgets and filters carry
// tenant_id themselves, so every query on them is tenant-scoped like the dashboard's own.
import { TenantModel } from '../../platform/tenancy.js';

export class Dashboard extends TenantModel {
  static override tableName = 'dashboards';
  static override softDelete = true;
  id!: string;
  name!: string;
  description!: string | null;
  created_by!: string | null;
  updated_by!: string | null;
  created_at!: Date;
  updated_at!: Date;
  deleted_at!: Date | null;
  row_version!: number;
}

export interface WidgetLayout {
  x: number;
  y: number;
  w: number;
  h: number;
}

export class Widget extends TenantModel {
  static override tableName = 'widgets';
  static override jsonAttributes = ['layout', 'config'];
  id!: string;
  dashboard_id!: string;
  title!: string;
  widget_type!: string;
  source_entity_type!: string | null;
  source_entity_id!: string | null;
  layout!: WidgetLayout;
  config!: Record<string, unknown>;
  created_at!: Date;
  updated_at!: Date;
  row_version!: number;
}

export class DashboardFilter extends TenantModel {
  static override tableName = 'dashboard_filters';
  static override jsonAttributes = ['config'];
  id!: string;
  dashboard_id!: string;
  filter_type!: string;
  target_column!: string;
  config!: Record<string, unknown>;
  position!: number;
  created_at!: Date;
  updated_at!: Date;
}

/** What the dashboard-data follower last computed of a dashboard: a digest of each widget's data, by widget id. */
export class DashboardDataDigest extends TenantModel {
  static override tableName = 'dashboard_data_digests';
  static override idColumn = 'dashboard_id';
  static override jsonAttributes = ['digests'];
  dashboard_id!: string;
  digests!: Record<string, string>;
}
