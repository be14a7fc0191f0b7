// Dashboards: the standard collection routes plus widget-level edits.
import { crudRoutes } from '../../platform/http/crud-routes.js';
import { ctxOf, expectedVersion, idParam, sendData } from '../../platform/http/respond.js';
import { grantRoutes } from '../permissions/routes.js';
import { DASHBOARD_LISTING } from './service.js';
import { dashboardCreate, dashboardUpdate, widgetInput, widgetPatch } from './schemas.js';
import type { PermissionService } from '../permissions/service.js';
import type { DashboardService } from './service.js';

export function dashboardRoutes(services: { dashboards: DashboardService; permissions: PermissionService }) {
  const api = crudRoutes(services.dashboards, {
    path: '/dashboards', label: 'dashboard', listing: DASHBOARD_LISTING, create: dashboardCreate, update: dashboardUpdate,
  });
  api.op('post', '/:id/widgets', { summary: 'Add a widget to a dashboard', body: widgetInput, status: 201 }, async (req, res) => {
    sendData(res, await services.dashboards.addWidget(ctxOf(req), idParam(req), req.body ?? {}, { expectedVersion: expectedVersion(req) }), 201);
  });
  api.op('patch', '/:id/widgets/:widgetId', { summary: 'Update a widget', body: widgetPatch }, async (req, res) => {
    sendData(res, await services.dashboards.updateWidget(ctxOf(req), idParam(req), idParam(req, 'widgetId'), req.body ?? {}, { expectedVersion: expectedVersion(req) }));
  });
  api.op('delete', '/:id/widgets/:widgetId', { summary: 'Remove a widget', status: 204 }, async (req, res) => {
    await services.dashboards.removeWidget(ctxOf(req), idParam(req), idParam(req, 'widgetId'), { expectedVersion: expectedVersion(req) });
    res.status(204).end();
  });
  grantRoutes(api, 'dashboards', services);
  return api;
}
