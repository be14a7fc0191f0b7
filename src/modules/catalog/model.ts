// Objection models of the catalog: teams, people, the five entity kinds and their assignments.
// The relation mappings describe the detail views, which detail.ts builds into one statement.
import { Model, type RelationMappings } from 'objection';
import { TenantModel } from '../../platform/tenancy.js';

export class CatalogModel extends TenantModel {
  static override softDelete = true;
  id!: string;
  row_version!: number;
  created_at!: Date;
  updated_at!: Date;
  created_by!: string | null;
  updated_by!: string | null;
  deleted_at!: Date | null;
  [column: string]: unknown;
}

const manyToMany = (modelClass: typeof Model, from: string, join: string, ownKey: string, otherKey: string, to: string) => ({
  relation: Model.ManyToManyRelation,
  modelClass,
  join: { from, through: { from: `${join}.${ownKey}`, to: `${join}.${otherKey}` }, to },
});

const belongsToTeam = (table: string) => ({
  relation: Model.BelongsToOneRelation,
  modelClass: Team,
  join: { from: `${table}.team_id`, to: 'teams.id' },
});

const assignmentsOf = (table: string) => ({
  relation: Model.HasManyRelation,
  modelClass: EntityAssignment,
  filter: { entity_type: table },
  join: { from: `${table}.id`, to: 'entity_assignments.entity_id' },
});

export class Team extends CatalogModel {
  static override tableName = 'teams';
  static override relationMappings = (): RelationMappings => ({
    people: { relation: Model.HasManyRelation, modelClass: Person, join: { from: 'teams.id', to: 'people.team_id' } },
    products: { relation: Model.HasManyRelation, modelClass: Product, join: { from: 'teams.id', to: 'products.team_id' } },
    services: { relation: Model.HasManyRelation, modelClass: Service, join: { from: 'teams.id', to: 'services.team_id' } },
    components: { relation: Model.HasManyRelation, modelClass: Component, join: { from: 'teams.id', to: 'components.team_id' } },
    resources: { relation: Model.HasManyRelation, modelClass: Resource, join: { from: 'teams.id', to: 'resources.team_id' } },
    repositories: { relation: Model.HasManyRelation, modelClass: Repository, join: { from: 'teams.id', to: 'repositories.team_id' } },
  });
}

export class Person extends CatalogModel {
  static override tableName = 'people';
  static override relationMappings = (): RelationMappings => ({
    team: belongsToTeam('people'),
    assignments: { relation: Model.HasManyRelation, modelClass: EntityAssignment, join: { from: 'people.id', to: 'entity_assignments.person_id' } },
  });
}

export class Product extends CatalogModel {
  static override tableName = 'products';
  static override jsonAttributes = ['tags'];
  static override relationMappings = (): RelationMappings => ({
    team: belongsToTeam('products'),
    services: manyToMany(Service, 'products.id', 'product_services', 'product_id', 'service_id', 'services.id'),
    assignments: assignmentsOf('products'),
  });
}

export class Service extends CatalogModel {
  static override tableName = 'services';
  static override jsonAttributes = ['tags', 'attributes'];
  static override relationMappings = (): RelationMappings => ({
    team: belongsToTeam('services'),
    components: manyToMany(Component, 'services.id', 'service_components', 'service_id', 'component_id', 'components.id'),
    resources: manyToMany(Resource, 'services.id', 'service_resources', 'service_id', 'resource_id', 'resources.id'),
    depends_on: manyToMany(Service, 'services.id', 'service_dependencies', 'service_id', 'depends_on_service_id', 'services.id'),
    dependents: manyToMany(Service, 'services.id', 'service_dependencies', 'depends_on_service_id', 'service_id', 'services.id'),
    repositories: manyToMany(Repository, 'services.id', 'service_repositories', 'service_id', 'repository_id', 'repositories.id'),
    products: manyToMany(Product, 'services.id', 'product_services', 'service_id', 'product_id', 'products.id'),
    assignments: assignmentsOf('services'),
  });
}

export class Component extends CatalogModel {
  static override tableName = 'components';
  static override jsonAttributes = ['tags', 'attributes'];
  static override relationMappings = (): RelationMappings => ({
    team: belongsToTeam('components'),
    services: manyToMany(Service, 'components.id', 'service_components', 'component_id', 'service_id', 'services.id'),
    depends_on: manyToMany(Component, 'components.id', 'component_dependencies', 'component_id', 'depends_on_component_id', 'components.id'),
    dependents: manyToMany(Component, 'components.id', 'component_dependencies', 'depends_on_component_id', 'component_id', 'components.id'),
    depends_on_services: manyToMany(Service, 'components.id', 'component_service_dependencies', 'component_id', 'depends_on_service_id', 'services.id'),
    repositories: manyToMany(Repository, 'components.id', 'component_repositories', 'component_id', 'repository_id', 'repositories.id'),
    assignments: assignmentsOf('components'),
  });
}

export class Resource extends CatalogModel {
  static override tableName = 'resources';
  static override jsonAttributes = ['tags', 'attributes'];
  static override relationMappings = (): RelationMappings => ({
    team: belongsToTeam('resources'),
    services: manyToMany(Service, 'resources.id', 'service_resources', 'resource_id', 'service_id', 'services.id'),
    assignments: assignmentsOf('resources'),
  });
}

export class Repository extends CatalogModel {
  static override tableName = 'repositories';
  static override jsonAttributes = ['tags'];
  static override relationMappings = (): RelationMappings => ({
    team: belongsToTeam('repositories'),
    services: manyToMany(Service, 'repositories.id', 'service_repositories', 'repository_id', 'service_id', 'services.id'),
    components: manyToMany(Component, 'repositories.id', 'component_repositories', 'repository_id', 'component_id', 'components.id'),
    assignments: assignmentsOf('repositories'),
  });
}

export class EntityAssignment extends TenantModel {
  static override tableName = 'entity_assignments';
  id!: string;
  entity_type!: string;
  entity_id!: string;
  person_id!: string;
  role!: string;
  static override relationMappings = (): RelationMappings => ({
    person: { relation: Model.BelongsToOneRelation, modelClass: Person, join: { from: 'entity_assignments.person_id', to: 'people.id' } },
  });
}
