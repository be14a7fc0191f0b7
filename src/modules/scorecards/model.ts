// Objection models of scorecards and their weighted criteria. Only the
// definitions are stored; results are computed on read (scoring.ts), never written back.
import { Model, type RelationMappings } from 'objection';
import { TenantModel } from '../../platform/tenancy.js';

export class Scorecard extends TenantModel {
  static override tableName = 'scorecards';
  static override softDelete = true;
  static override jsonAttributes = ['entity_types', 'levels'];

  id!: string;
  name!: string;
  description!: string | null;
  entity_types!: string[];
  levels!: { name: string; min_score: number }[];
  row_version!: number;
  created_at!: Date;
  updated_at!: Date;
  created_by!: string | null;
  updated_by!: string | null;
  deleted_at!: Date | null;
  criteria?: ScorecardCriterion[];

  static override relationMappings = (): RelationMappings => ({
    criteria: {
      relation: Model.HasManyRelation,
      modelClass: ScorecardCriterion,
      join: { from: 'scorecards.id', to: 'scorecard_criteria.scorecard_id' },
    },
  });
}

/** One weighted check of a scorecard; the database cascades these away with a deleted scorecard row. */
export class ScorecardCriterion extends TenantModel {
  static override tableName = 'scorecard_criteria';
  static override jsonAttributes = ['check_config'];

  id!: string;
  scorecard_id!: string;
  name!: string;
  description!: string | null;
  weight!: number;
  check_type!: string;
  check_config!: Record<string, unknown>;
  sort_order!: number;
}

/** An entity's last score and level on a scorecard, as the score follower last computed them. */
export class ScorecardScore extends TenantModel {
  static override tableName = 'scorecard_scores';
  static override idColumn = ['scorecard_id', 'entity_id'];
  scorecard_id!: string;
  entity_id!: string;
  entity_type!: string;
  score!: number;
  level!: string | null;
}
