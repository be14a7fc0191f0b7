// Many-to-many links between catalog entities. A link row goes
// with either end (ON DELETE CASCADE); the second column is indexed for reverse lookups
// (dependents, "used by"), which the composite primary key alone does not serve.
import type { Knex } from 'knex';

interface Link {
  table: string;
  left: [column: string, references: string];
  right: [column: string, references: string];
}

const LINKS: Link[] = [
  { table: 'product_services', left: ['product_id', 'products'], right: ['service_id', 'services'] },
  { table: 'service_components', left: ['service_id', 'services'], right: ['component_id', 'components'] },
  { table: 'service_resources', left: ['service_id', 'services'], right: ['resource_id', 'resources'] },
  { table: 'service_dependencies', left: ['service_id', 'services'], right: ['depends_on_service_id', 'services'] },
  { table: 'component_dependencies', left: ['component_id', 'components'], right: ['depends_on_component_id', 'components'] },
  { table: 'component_service_dependencies', left: ['component_id', 'components'], right: ['depends_on_service_id', 'services'] },
  { table: 'service_repositories', left: ['service_id', 'services'], right: ['repository_id', 'repositories'] },
  { table: 'component_repositories', left: ['component_id', 'components'], right: ['repository_id', 'repositories'] },
];

export async function up(knex: Knex): Promise<void> {
  for (const { table, left, right } of LINKS) {
    await knex.schema.createTable(table, (t) => {
      const [leftColumn, leftTable] = left;
      const [rightColumn, rightTable] = right;
      t.uuid(leftColumn).notNullable().references('id').inTable(leftTable).onDelete('CASCADE');
      t.uuid(rightColumn).notNullable().references('id').inTable(rightTable).onDelete('CASCADE');
      t.primary([leftColumn, rightColumn], { constraintName: `${table}_pkey` });
      t.index([rightColumn], `${table}_${rightColumn}_index`);
      // A self-referential link to itself is never a real dependency.
      if (leftTable === rightTable) {
        t.check(`"${leftColumn}" <> "${rightColumn}"`, undefined, `${table}_not_self_check`);
      }
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const { table } of [...LINKS].reverse()) {
    await knex.schema.dropTable(table);
  }
}
