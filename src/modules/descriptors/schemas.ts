// The shapes of descriptor import and export: the YAML body, the query strings and the report.
import { z } from 'zod';
import { named, recordId } from '../../platform/schema-kit.js';
import { CATALOG_TYPES } from '../catalog/kinds.js';
import { IMPORT_ACTIONS } from './service.js';

/** The media types a descriptor file is sent as. */
export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];
/** The largest descriptor file an import reads. */
export const IMPORT_MAX_BYTES = 1024 * 1024;

export const DescriptorFile = z
  .string()
  .describe(
    'A multi-document catalog-info.yaml (documents separated by `---`): Component, API, Resource, System, Group and User ' +
      'descriptors; other kinds are reported as skipped. At most 1 MB and 1,000 documents; YAML aliases are refused.',
  );

export const DESCRIPTOR_EXAMPLE = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: identity}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: login-api, description: Signs people in, tags: [auth]}
spec: {type: service, lifecycle: production, owner: group:default/identity, dependsOn: [resource:default/login-vm]}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: login-vm}
spec: {type: virtual_machine, owner: identity}
`;

const flag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((v) => v === 'true');
export const importQuery = z.strictObject({
  dry_run: flag.describe('`true`: validate and report what would change, writing nothing'),
});
export const exportQuery = z.strictObject({
  format: z.enum(['yaml']).default('yaml').describe('The file format: Backstage descriptors in YAML'),
});

const ReportEntry = named(
  'ImportReportEntry',
  z
    .object({
      document: z.number().int().min(0).nullable().describe("The document's position in the file (0 first); null for a record the file only refers to"),
      kind: z.string().describe('The descriptor kind (Component, API, Group, …)'),
      name: z.string().describe("metadata.name: the record's name"),
      type: z.enum(CATALOG_TYPES).nullable().describe('The collection it maps to; null when skipped or unreadable'),
      action: z.enum(IMPORT_ACTIONS).describe('What the import did (or, in a dry run, would do) to the record'),
      id: recordId.nullable().describe("The record's id; null for a record a dry run would create"),
      errors: z.array(z.string()).optional().describe('Why the document is invalid or skipped'),
      warnings: z.array(z.string()).optional().describe('References that were not kept (no such relation between the two kinds)'),
    })
    .describe('One record of the import'),
);

export const ImportReport = named(
  'ImportReport',
  z
    .object({
      dry_run: z.boolean(),
      entities: z.array(ReportEntry).describe('One entry per document, in file order, then the records the file only added to'),
      totals: z.object(Object.fromEntries(IMPORT_ACTIONS.map((a) => [a, z.number().int().min(0)])) as Record<(typeof IMPORT_ACTIONS)[number], z.ZodNumber>),
    })
    .describe('What a descriptor import did, record by record'),
);
