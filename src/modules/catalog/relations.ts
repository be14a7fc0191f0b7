// The catalog's relation graph, described once from the kinds: every kind of edge (a link table, a
// team reference, a person's assignment) with the SQL step that finds one record's neighbours
// along it through the index on that end. The graph and impact walks (walk.ts) are built from these.
import { liveRowOf, tenantRowOf } from '../../platform/tenancy.js';
import { ASSIGNABLE_TYPES, CATALOG_TYPES, KINDS, type CatalogType } from './kinds.js';

export interface Relation {
  /** Read `<from> <name> <to>`: `services depends_on services`, `people member_of teams`. */
  name: string;
  from: CatalogType;
  to: CatalogType;
  /** `from` needs `to` to work. Impact follows these only: an owner or an assignee is not a dependency. */
  dependency: boolean;
  /**
   * Subqueries over the walk row `w` (its type, id and team_id): its neighbours when it is the
   * `from` end (forward) or the `to` end (backward), as rows of NEIGHBOUR_COLUMNS.
   */
  forward: string;
  backward: string;
}

/** What a step yields: the neighbour (type, id, name, team_id) and the edge it was reached by. */
export const NEIGHBOUR_COLUMNS = ['type', 'id', 'name', 'team_id', 'relation', 'from_id', 'to_id'] as const;

const tableOf = (type: CatalogType) => KINDS[type].model.tableName;
const teamOf = (type: CatalogType, alias: string) => (type === 'teams' ? 'NULL::uuid' : `${alias}.team_id`);

/**
 * One step's SELECT: the neighbour is the live row `x` of `type` that `on` finds (through the link
 * rows `via`, when the edge has its own table), the edge runs from `ends[0]` to `ends[1]`. Through
 * a link table, the link rows of `w` come first (by their index) and each finds its row by its
 * key: the LATERAL subquery (OFFSET 0 keeps it one) holds that order whatever the statistics say.
 */
function neighbour(type: CatalogType, relation: string, ends: [string, string], on: string, where: string, via?: string): string {
  const x = `${tableOf(type)} x`;
  const from = via
    ? `${via} CROSS JOIN LATERAL (SELECT * FROM ${x} WHERE ${on} AND ${liveRowOf('x')} OFFSET 0) x WHERE ${where}`
    : `${x} WHERE ${where} AND ${on} AND ${liveRowOf('x')}`;
  return `SELECT '${type}'::text AS type, x.id, x.name::text AS name, ${teamOf(type, 'x')} AS team_id, '${relation}'::text AS relation,
      ${ends[0]} AS from_id, ${ends[1]} AS to_id
    FROM ${from}`;
}

/** A link table's rows (no tenant of their own): reached from a live record of the tenant, ending at one. */
function linkRelations(): Relation[] {
  return Object.values(KINDS).flatMap((kind) =>
    kind.relations.map((rel) => {
      const [from, to, j] = [kind.type, rel.target, rel.joinTable];
      return {
        name: rel.relation,
        from,
        to,
        dependency: true,
        forward: neighbour(to, rel.relation, ['w.id', 'x.id'], `x.id = ${j}.${rel.otherKey}`, `w.type = '${from}' AND ${j}.${rel.ownKey} = w.id`, j),
        backward: neighbour(from, rel.relation, ['x.id', 'w.id'], `x.id = ${j}.${rel.ownKey}`, `w.type = '${to}' AND ${j}.${rel.otherKey} = w.id`, j),
      };
    }),
  );
}

/** team_id: a person is a member of their team, every other record is owned by its team. */
function teamRelations(): Relation[] {
  return CATALOG_TYPES.filter((type) => KINDS[type].references.some((r) => r.field === 'team_id')).map((from) => {
    const name = from === 'people' ? 'member_of' : 'owned_by';
    return {
      name,
      from,
      to: 'teams',
      dependency: false,
      forward: neighbour('teams', name, ['w.id', 'x.id'], 'x.id = w.team_id', `w.type = '${from}'`),
      backward: neighbour(from, name, ['x.id', 'w.id'], 'x.team_id = w.id', `w.type = 'teams'`),
    };
  });
}

/** entity_assignments: a person assigned (with any role) to a record; several roles are one edge. */
function assignmentRelations(): Relation[] {
  return ASSIGNABLE_TYPES.map((to) => ({
    name: 'assigned_to',
    from: 'people',
    to,
    dependency: false,
    forward: neighbour(
      to,
      'assigned_to',
      ['w.id', 'x.id'],
      'x.id = a.entity_id',
      `w.type = 'people' AND a.person_id = w.id AND a.entity_type = '${to}' AND ${tenantRowOf('a')}`,
      'entity_assignments a',
    ),
    backward: neighbour(
      'people',
      'assigned_to',
      ['x.id', 'w.id'],
      'x.id = a.person_id',
      `w.type = '${to}' AND a.entity_type = '${to}' AND a.entity_id = w.id AND ${tenantRowOf('a')}`,
      'entity_assignments a',
    ),
  }));
}

export const RELATIONS: readonly Relation[] = [...linkRelations(), ...teamRelations(), ...assignmentRelations()];
export const DEPENDENCIES: readonly Relation[] = RELATIONS.filter((r) => r.dependency);

/** The kinds a dependency edge starts or ends at: those with an impact ("what depends on this"). */
export const IMPACT_TYPES: readonly CatalogType[] = CATALOG_TYPES.filter((t) => DEPENDENCIES.some((r) => r.from === t || r.to === t));
