// What GET /dashboards/:id/data answers: one zod schema per widget type's data (the source of the
// types the computation returns and of the OpenAPI document), and the settings each type reads
// from a widget's `config`.
import { z } from 'zod';
import { FacetCounts } from '../../platform/facets.js';
import { isoTimestamp, named, recordId } from '../../platform/schema-kit.js';
import { TimelineEntry } from '../incidents/routes.js';
import { SCORABLE_TYPES } from '../scorecards/schemas.js';
import { WIDGET_SOURCE_TYPES } from './schemas.js';

/** Rows a list or a timeline widget shows by default, and at most. */
export const WIDGET_ROWS = { default: 10, max: 50 } as const;
/** Entities a scorecard widget scores at most (beyond, `truncated`). */
export const SCORECARD_WIDGET_ENTITIES = 1_000;

export const WIDGET_PROBLEMS = ['no_source', 'source_missing', 'unsupported', 'invalid_config'] as const;
export type WidgetProblemCode = (typeof WIDGET_PROBLEMS)[number];

const kind = z.enum(WIDGET_SOURCE_TYPES).describe("The widget's kind: its `source_entity_type`, else its `config.entity_type`");

const WidgetRecord = named(
  'WidgetRecord',
  z.record(z.string(), z.unknown()).describe('A record as REST returns it: `GET /<kind>` lists for a list, `GET /<kind>/:id` for a source record'),
);

export const CounterData = named(
  'CounterData',
  z
    .object({
      entity_type: kind,
      count: z.number().int().min(0).describe('Live records of the kind that the filters select; 1 for a source record'),
      record: WidgetRecord.nullable().describe('The source record (`source_entity_id`); null for a widget over the kind'),
    })
    .describe('counter: how many records'),
);
export type CounterData = z.infer<typeof CounterData>;

export const ListData = named(
  'ListData',
  z
    .object({
      entity_type: kind,
      records: z.array(WidgetRecord).describe('At most `limit`: incidents newest first, other kinds by name, unless `config.sort` says otherwise'),
      total: z.number().int().min(0).describe('Live records the filters select'),
      limit: z.number().int().min(1).max(WIDGET_ROWS.max),
    })
    .describe('list: the first records of the kind that the filters select (or the source record)'),
);
export type ListData = z.infer<typeof ListData>;

export const CountsData = named(
  'CountsData',
  FacetCounts.extend({ entity_type: kind }).describe(
    'status_board and chart: live records by the values of one enum field, as `GET /<kind>/facets` counts them (every value listed)',
  ),
);
export type CountsData = z.infer<typeof CountsData>;

export const TimelineData = named(
  'TimelineData',
  z
    .object({
      incident_id: recordId.nullable().describe('The source incident; null for the latest entries of every incident the filters select'),
      entries: z
        .array(named('WidgetTimelineEntry', TimelineEntry.extend({ incident_title: z.string() })))
        .describe("Newest first, at most `limit`, each with its incident's title; a deleted incident's entries are left out"),
    })
    .describe('timeline: the latest incident timeline entries'),
);
export type TimelineData = z.infer<typeof TimelineData>;

export const ScorecardSummaryData = named(
  'ScorecardSummaryData',
  z
    .object({
      scorecard_id: recordId,
      name: z.string(),
      entity_types: z.array(z.enum(SCORABLE_TYPES)),
      entities_scored: z.number().int().min(0).max(SCORECARD_WIDGET_ENTITIES),
      average_score: z.number().min(0).max(100).nullable().describe('Mean score of the entities scored, to one decimal; null when none'),
      levels: z.array(z.object({ level: z.string(), count: z.number().int().min(0) })).describe("Entities at each of the scorecard's levels, in its order"),
      below_levels: z.number().int().min(0).describe('Entities below the lowest level (all of them when the scorecard has no levels)'),
      truncated: z.boolean().describe(`More than ${SCORECARD_WIDGET_ENTITIES} entities: the figures cover the first ${SCORECARD_WIDGET_ENTITIES}`),
    })
    .describe("scorecard: a summary of the source scorecard's results (`GET /scorecards/:id/results`)"),
);
export type ScorecardSummaryData = z.infer<typeof ScorecardSummaryData>;

const WidgetProblem = named(
  'WidgetProblem',
  z
    .object({
      code: z
        .enum(WIDGET_PROBLEMS)
        .describe(
          '`no_source`: neither a source nor `config.entity_type`; `source_missing`: the source record is deleted or gone; ' +
            '`unsupported`: the type cannot show that kind (a timeline of services); `invalid_config`: a setting or a filter value does not fit the kind',
        ),
      message: z.string(),
    })
    .describe('Why the widget has no data'),
);

const widgetOf = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    widget_id: recordId,
    widget_type: z.literal(type),
    title: z.string(),
    data: data.nullable().describe('Null when `error` says why'),
    error: WidgetProblem.optional(),
  });

export const WidgetResult = named(
  'WidgetResult',
  z
    .discriminatedUnion('widget_type', [
      widgetOf('counter', CounterData),
      widgetOf('list', ListData),
      widgetOf('status_board', CountsData),
      widgetOf('scorecard', ScorecardSummaryData),
      widgetOf('timeline', TimelineData),
      widgetOf('chart', CountsData),
    ])
    .describe("One widget's data, its shape given by its type"),
);
export type WidgetResult = z.infer<typeof WidgetResult>;

export const DashboardWidgetData = named(
  'DashboardWidgetData',
  z.object({
    dashboard_id: recordId,
    row_version: z.number().int().min(1).describe('The version of the dashboard the widgets were read from'),
    computed_at: isoTimestamp.describe('When the data was read; everything else is a function of the stored records'),
    widgets: z.array(WidgetResult).describe("In the dashboard's grid order (row, then column)"),
  }),
);

// ---- the settings each type reads from `config` ------------------------------------------------

const query = z.record(z.string(), z.string()).describe("The kind's list filters (`{status: 'active'}`)");
const rows = z.number().int().min(1).max(WIDGET_ROWS.max).default(WIDGET_ROWS.default);
const common = { entity_type: z.string().optional(), query: query.optional() };

/** What each widget type reads from its `config` (other keys are the client's and are ignored). */
export const WIDGET_CONFIG = {
  counter: z.object(common),
  list: z.object({ ...common, limit: rows, sort: z.string().optional() }),
  status_board: z.object({ ...common, field: z.string().optional() }),
  chart: z.object({ ...common, field: z.string() }),
  timeline: z.object({ ...common, limit: rows }),
  scorecard: z.object(common),
};
