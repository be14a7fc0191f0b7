// Input shapes of dashboards, their widgets (grid layout + config) and their filters.
import { z } from 'zod';
import { CATALOG_TYPES } from '../catalog/kinds.js';
import { jsonShapeIssue } from '../../platform/json-shape.js';
import { name255, optionalText, partialStrict, uuid } from '../../platform/schema-kit.js';

export const WIDGET_TYPES = ['counter', 'list', 'status_board', 'scorecard', 'timeline', 'chart'] as const;
export const FILTER_TYPES = ['team', 'status', 'type', 'tag', 'environment', 'severity'] as const;
/** Records a widget may take its data from. */
export const WIDGET_SOURCE_TYPES = [...CATALOG_TYPES, 'incidents', 'scorecards'] as const;

const MAX_CONFIG_CHARS = 20_000;
const MAX_CONFIG_DEPTH = 32;

/**
 * A JSON object of free-form settings, bounded in depth and size, with no reserved key. The depth
 * is checked first (without recursing), so serialising it to measure its size is always safe,
 * whoever the caller; HTTP bodies have passed the same checks at the door already.
 */
const configObject = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const shape = jsonShapeIssue(v, MAX_CONFIG_DEPTH);
  if (shape) ctx.addIssue({ code: 'custom', path: shape.path, message: shape.message });
  else if (JSON.stringify(v).length > MAX_CONFIG_CHARS) {
    ctx.addIssue({ code: 'custom', message: `must serialise to at most ${MAX_CONFIG_CHARS} characters` });
  }
});

const gridPosition = z.number().int().min(0).max(10_000);
const gridSpan = z.number().int().min(1).max(24);

export const widgetLayout = z.strictObject({ x: gridPosition, y: gridPosition, w: gridSpan, h: gridSpan });

const widgetFields = {
  title: name255,
  widget_type: z.enum(WIDGET_TYPES),
  source_entity_type: z.enum(WIDGET_SOURCE_TYPES).nullable().optional(),
  source_entity_id: uuid.nullable().optional(),
  layout: widgetLayout.optional(),
  config: configObject.optional(),
};

/** A widget's source is a type and an id together, or neither. */
export function sourcePairIssue(w: { source_entity_type?: string | null; source_entity_id?: string | null }) {
  const hasType = w.source_entity_type != null;
  const hasId = w.source_entity_id != null;
  if (hasType === hasId) return null;
  return hasType
    ? { path: 'source_entity_id', message: 'is required with source_entity_type' }
    : { path: 'source_entity_type', message: 'is required with source_entity_id' };
}

export const widgetInput = z.strictObject(widgetFields).superRefine((w, ctx) => {
  const issue = sourcePairIssue(w);
  if (issue) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
});
export type WidgetInput = z.infer<typeof widgetInput>;

/** The pairing of source fields is checked on the merged widget, in the service. */
export const widgetPatch = partialStrict(widgetFields);
export type WidgetPatch = z.infer<typeof widgetPatch>;

export const filterInput = z.strictObject({
  filter_type: z.enum(FILTER_TYPES),
  target_column: z.string().trim().min(1).max(100),
  config: configObject.optional(),
  /** Defaults to the filter's index in the list. */
  position: z.number().int().min(0).max(10_000).optional(),
});
export type FilterInput = z.infer<typeof filterInput>;

const dashboardFields = {
  name: name255,
  description: optionalText,
  widgets: z.array(widgetInput).max(100).optional(),
  filters: z.array(filterInput).max(50).optional(),
};

export const dashboardCreate = z.strictObject(dashboardFields);
export type DashboardCreate = z.infer<typeof dashboardCreate>;

/** `widgets` / `filters`, when given, replace the dashboard's lists. */
export const dashboardUpdate = partialStrict(dashboardFields);
export type DashboardUpdate = z.infer<typeof dashboardUpdate>;
