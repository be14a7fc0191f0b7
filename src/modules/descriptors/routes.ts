// POST /import (Backstage catalog-info.yaml into the catalog) and GET /export (the catalog back as
// descriptors). The YAML body is read by its own gate (textBody, mounted in http.ts).
import { z } from 'zod';
import { UnsupportedMediaType, validationError } from '../../platform/errors.js';
import { documentedRouter, type DocumentedRouter } from '../../platform/http/openapi.js';
import { ctxOf, sendData } from '../../platform/http/respond.js';
import type { CatalogType } from '../catalog/kinds.js';
import type { EntityService } from '../catalog/service.js';
import { exportDescriptors } from './export.js';
import { DESCRIPTOR_EXAMPLE, DescriptorFile, ImportReport, YAML_TYPES, exportQuery, importQuery } from './schemas.js';
import type { DescriptorService } from './service.js';

export function descriptorRoutes(services: { descriptors: DescriptorService; entities: Record<CatalogType, EntityService> }): DocumentedRouter {
  const api = documentedRouter('', 'descriptors', 'Backstage catalog descriptors (catalog-info.yaml): import and export.');
  api.op(
    'post',
    '/import',
    {
      operationId: 'importDescriptors',
      summary: 'Import Backstage catalog descriptors',
      description:
        'Reads a multi-document `catalog-info.yaml` into the catalog (the mapping: docs/DESCRIPTORS.md): Component → services ' +
        '(`service`, `website`) or components (`library`, …), API → services of type api, Resource → resources, System → products, ' +
        'Group → teams, User → people; `spec.owner` → the team, `dependsOn`, `consumesApis`, `providesApis`, `system` and `memberOf` ' +
        '→ relations. Records are matched by name: an existing one is updated, else created. All or nothing, in one transaction, ' +
        'each record with its audit entry and change event: any invalid document is a 422 naming each problem and nothing is ' +
        'written. Other kinds are skipped and reported. `dry_run=true` validates and reports (invalid documents included) without ' +
        'writing. Editors and admins (the write rule of every kind the file touches).',
      body: DescriptorFile,
      bodyTypes: YAML_TYPES,
      example: DESCRIPTOR_EXAMPLE,
      query: importQuery,
      response: ImportReport,
    },
    async (req, res) => {
      if (typeof req.body !== 'string') throw UnsupportedMediaType(`Send the descriptors as ${YAML_TYPES.join(', ')}.`);
      const { dry_run } = queryOf(importQuery, req.query);
      sendData(res, await services.descriptors.import(ctxOf(req), req.body, dry_run));
    },
  );
  api.op(
    'get',
    '/export',
    {
      operationId: 'exportDescriptors',
      summary: 'Export the catalog as Backstage descriptors',
      description:
        "The tenant's live teams, people, products, resources, components and services as a multi-document YAML file of " +
        'Group, User, System, Resource and Component descriptors (the import mapping reversed): importing it into another tenant ' +
        'reproduces the records and their relations. Repositories and assignments are not exported. At most 10,000 records (else ' +
        'a 422). Any member.',
      query: exportQuery,
      response: z.string().describe('Backstage descriptors, one YAML document per record'),
      envelope: false,
      contentType: 'application/yaml',
      errors: [422, 503],
    },
    async (req, res) => {
      queryOf(exportQuery, req.query);
      res.type('application/yaml').send(await exportDescriptors(ctxOf(req), services.entities));
    },
  );
  return api;
}

function queryOf<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) throw validationError(parsed.error, ['query']);
  return parsed.data;
}
