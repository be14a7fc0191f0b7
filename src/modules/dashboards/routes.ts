// Dashboards: the standard collection routes plus widget-level edits.
import { z } from 'zod';
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, expectedVersion, idParam, sendData } from '../../platform/http/respond.js';
import { grantRoutes } from '../permissions/routes.js';
import { authorColumns, isoTimestamp, named, recordId, versionedColumns } from '../../platform/schema-kit.js';
import { DASHBOARD_LISTING } from './service.js';
import { FILTER_TYPES, WIDGET_SOURCE_TYPES, WIDGET_TYPES, dashboardCreate, dashboardUpdate, widgetInput, widgetLayout, widgetPatch } from './schemas.js';
import { DashboardWidgetData, SCORECARD_WIDGET_ENTITIES, WIDGET_ROWS } from './widget-data.js';
import type { PermissionService } from '../permissions/service.js';
import type { DashboardService } from './service.js';

const Widget = named(
  'Widget',
  z
    .object({
      id: recordId,
      dashboard_id: recordId,
      title: z.string(),
      widget_type: z.enum(WIDGET_TYPES),
      source_entity_type: z.enum(WIDGET_SOURCE_TYPES).nullable(),
      source_entity_id: recordId.nullable(),
      layout: named('WidgetLayout', widgetLayout),
      config: z.record(z.string(), z.unknown()),
      row_version: z.number().int().min(1).describe("The widget's own version"),
      created_at: isoTimestamp,
      updated_at: isoTimestamp,
    })
    .describe('A widget: its place on the grid and its settings'),
);

const DashboardFilter = named(
  'DashboardFilter',
  z.object({
    id: recordId,
    dashboard_id: recordId,
    filter_type: z.enum(FILTER_TYPES),
    target_column: z.string(),
    config: z.record(z.string(), z.unknown()),
    position: z.number().int(),
    created_at: isoTimestamp,
    updated_at: isoTimestamp,
  }),
);

const dashboardFields = { ...versionedColumns, ...authorColumns, name: z.string(), description: z.string().nullable() };
const DashboardListItem = named('DashboardListItem', z.object(dashboardFields).describe('A dashboard as lists show it'));
const Dashboard = named(
  'Dashboard',
  z
    .object({
      ...dashboardFields,
      widgets: z.array(Widget),
      filters: z.array(DashboardFilter).describe('In position order'),
    })
    .describe('A dashboard with its widgets and filters'),
);

const WIDGET_EXAMPLE = { title: 'Open incidents', widget_type: 'counter', layout: { x: 0, y: 0, w: 4, h: 2 }, config: { status: 'investigating' } };
const WIDGET_ETAG =
  "If-Match takes the dashboard's ETag (a widget write is a write of its dashboard, whose version it bumps); " +
  "the ETag of the answer is the widget's own `row_version`.";

const DATA_DESCRIPTION = [
  "Every widget's data, read now from its source through the same reads as the records' own routes (any member of the tenant; " +
    "another tenant's dashboard is a 404). A widget shows the records of its kind (`source_entity_type`, else `config.entity_type`) " +
    "that its `config.query` (the kind's list filters, `{status: 'active'}`) and the dashboard's filters select, or its one source " +
    'record (`source_entity_id`), which the filters do not narrow. By `widget_type`:',
  '- `counter`: `count` of those records; with a source record 1, and the `record` as `GET /<kind>/:id` returns it.',
  `- \`list\`: the first \`config.limit\` records (default ${WIDGET_ROWS.default}, at most ${WIDGET_ROWS.max}) as \`GET /<kind>\` lists them, ` +
    'incidents newest first and other kinds by name unless `config.sort` (a list sort: `-updated_at`); `total` counts them all.',
  '- `status_board`: counts by `status` (resources: `operational_status`; `config.field` names another enum field), as `GET /<kind>/facets` counts.',
  '- `chart`: counts by `config.field`, an enum field of the kind.',
  `- \`timeline\` (incidents): the latest \`config.limit\` timeline entries (default ${WIDGET_ROWS.default}, at most ${WIDGET_ROWS.max}) of the source ` +
    'incident, or of every live incident the filters select, newest first.',
  `- \`scorecard\` (a scorecard as source): entities scored, average score and entities per level, over at most ${SCORECARD_WIDGET_ENTITIES} of its results.`,
  '',
  "Dashboard filters: a filter's value is `config.value`, else `config.default`; a filter with neither selects every record. " +
    'It applies to a widget whose kind has its `target_column`: an enum field of the kind (`status`, `severity`, `type`, `environment`, …), ' +
    "`team_id`, or `tags`; on other kinds it is ignored, and so it is on source records and scorecard widgets. It replaces the widget's own " +
    'query value for the same column.',
  '',
  'A widget that cannot be computed has `data: null` and an `error`: its source is gone (`source_missing`), it names none (`no_source`), ' +
    'its type cannot show its kind (`unsupported`), or a setting or filter value does not fit the kind (`invalid_config`). ' +
    'Everything but `computed_at` is a function of the stored records: the same records give the same body.',
].join('\n');

export function dashboardRoutes(services: { dashboards: DashboardService; permissions: PermissionService }) {
  const api = crudRoutes(services.dashboards, {
    path: '/dashboards',
    label: 'dashboard',
    listing: DASHBOARD_LISTING,
    about: 'Dashboards: a grid of widgets over the catalog and incidents, with filters; pushed live to subscribed sockets.',
    create: named('DashboardCreate', dashboardCreate),
    update: named('DashboardUpdate', dashboardUpdate),
    examples: {
      create: {
        name: 'Payments overview',
        description: 'What the payments team watches',
        widgets: [WIDGET_EXAMPLE],
        filters: [{ filter_type: 'team', target_column: 'team_id' }],
      },
      update: { name: 'Payments at a glance' },
    },
    read: Dashboard,
    listItem: DashboardListItem,
    writers: 'editor or admin, or an EDIT grant on the dashboard for updates',
    writeErrors: [409],
  });
  api.op(
    'post',
    '/:id/widgets',
    {
      operationId: 'addDashboardWidget',
      summary: 'Add a widget to a dashboard',
      description: `Adds one widget; a source, when given, is a live record of the tenant (type and id together). ${WIDGET_ETAG}`,
      body: named('WidgetInput', widgetInput),
      example: WIDGET_EXAMPLE,
      response: Widget,
      status: 201,
      ifMatch: true,
    },
    async (req, res) => {
      sendData(res, await services.dashboards.addWidget(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) }), 201);
    },
  );
  api.op(
    'patch',
    '/:id/widgets/:widgetId',
    {
      operationId: 'updateDashboardWidget',
      summary: 'Update a widget',
      description: `Changes the widget's fields given. ${WIDGET_ETAG}`,
      body: named('WidgetPatch', widgetPatch),
      example: { layout: { x: 4, y: 0, w: 4, h: 3 } },
      response: Widget,
      ifMatch: true,
    },
    async (req, res) => {
      sendData(
        res,
        await services.dashboards.updateWidget(ctxOf(req), idParam(req), idParam(req, 'widgetId'), req.body ?? {}, { expectedVersion: expectedVersion(req) }),
      );
    },
  );
  api.op(
    'delete',
    '/:id/widgets/:widgetId',
    {
      operationId: 'removeDashboardWidget',
      summary: 'Remove a widget',
      description: 'Deletes the widget from its dashboard (a write of the dashboard: If-Match takes its ETag).',
      status: 204,
      ifMatch: true,
    },
    async (req, res) => {
      await services.dashboards.removeWidget(ctxOf(req), idParam(req), idParam(req, 'widgetId'), { expectedVersion: expectedVersion(req) });
      res.status(204).end();
    },
  );
  api.op(
    'get',
    '/:id/data',
    {
      operationId: 'getDashboardData',
      summary: "Compute a dashboard's widgets",
      description: DATA_DESCRIPTION,
      response: DashboardWidgetData,
      etag: false,
    },
    async (req, res) => {
      const data = await services.dashboards.data(ctxOf(req), idParam(req));
      res.json({ data: { dashboard_id: data.dashboard_id, row_version: data.row_version, computed_at: new Date().toISOString(), widgets: data.widgets } });
    },
  );
  grantRoutes(api, 'dashboards', 'dashboard', services);
  return api;
}
