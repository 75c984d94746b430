// Aggregation over records of the shared schema: request building, result
// shaping, and the export of Mongoose models' JSON Schemas for
// `heavylift schema check`.
import {
  type AggregateRequest,
  type AggregateResponse,
  AggregateSpec_Kind,
  type DecodeRequest,
  type DecodeResponse,
  type KeyValue,
  type RecordSource,
  TimeBucket_Unit,
  ViolationPolicy,
} from './gen/heavylift/v1/aggregate';
import { invalidParameter } from './validate';

/** The record source: exactly one of mongo, postgres or documents. */
export type AggregateSource =
  | {
      /** A MongoDB collection, read through a mongodb:// URI (MongoDB or FerretDB). */
      mongo: {
        uri: string;
        database: string;
        /** Defaults to the model's collection. */
        collection?: string;
        /** A query filter, as an object (serialized to relaxed Extended JSON by the caller) or a JSON string. */
        filter?: string | Record<string, unknown>;
        /** Parallel cursors over ranges of _id; default 1. */
        partitions?: number;
      };
    }
  | {
      /** A PostgreSQL table made from the schema's CREATE TABLE. */
      postgres: { conninfo: string; table?: string };
    }
  | {
      /** BSON documents, for example from the mongodb driver's BSON.serialize. */
      documents: Uint8Array[];
    };

export const AGGREGATE_KINDS = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'stddev',
  'distinctCount',
  'quantiles',
  'histogram',
  'topK',
  'correlation',
] as const;
export type AggregateKind = (typeof AGGREGATE_KINDS)[number];

export const TIME_BUCKET_UNITS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type TimeBucketUnit = (typeof TIME_BUCKET_UNITS)[number];

/** One aggregate to compute per group. */
export interface AggregateField {
  kind: AggregateKind;
  /** Dotted path of the field; omit for a count of records. */
  field?: string;
  /** Second field of a correlation. */
  field2?: string;
  /** Quantiles in [0, 1], for `quantiles`. */
  quantiles?: number[];
  /** Ascending upper bounds, for `histogram`. */
  bounds?: number[];
  /** How many values, for `topK`. */
  k?: number;
  /** Key of the value in each group's `values`; defaults to "kind(field)". */
  name?: string;
}

/** A group key: a field path, or a date field bucketed in a fixed-offset time zone. */
export type GroupBy = string | { field: string; bucket: TimeBucketUnit; timeZone?: string };

export interface AggregateOptions {
  /** The schema model the records belong to, for example "Event". */
  model: string;
  source: AggregateSource;
  groupBy?: GroupBy[];
  aggregates: AggregateField[];
  /** Policy for a record that breaks the schema: skip it (default) or fail the call. */
  onViolation?: 'continue' | 'stop';
  /** At most this many groups; the daemon's aggregate.max_groups by default. */
  maxGroups?: number;
}

/** A record that broke the schema. */
export interface SchemaViolation {
  collection: string;
  id: string;
  field: string;
  expected: string;
  found: string;
}

export type AggregateValue = number | number[] | Array<{ value: string; count: number }>;

export interface AggregateGroup {
  /** Key values in groupBy order: strings, numbers, booleans, Dates (dates and buckets), or null. */
  keys: Array<string | number | boolean | Date | null>;
  count: number;
  /** Values by aggregate name: a number, quantiles / histogram counts as arrays, top-k entries. */
  values: Record<string, AggregateValue>;
}

export interface AggregateResult {
  groups: AggregateGroup[];
  recordsRead: number;
  recordsRejected: number;
  violations: SchemaViolation[];
}

export interface DecodeResult {
  /** Canonical Extended JSON of each valid record (parse with EJSON.parse from the bson package). */
  records: string[];
  recordsRead: number;
  recordsRejected: number;
  violations: SchemaViolation[];
}

const KIND_VALUES: Record<AggregateKind, AggregateSpec_Kind> = {
  count: AggregateSpec_Kind.KIND_COUNT,
  sum: AggregateSpec_Kind.KIND_SUM,
  mean: AggregateSpec_Kind.KIND_MEAN,
  min: AggregateSpec_Kind.KIND_MIN,
  max: AggregateSpec_Kind.KIND_MAX,
  stddev: AggregateSpec_Kind.KIND_STDDEV,
  distinctCount: AggregateSpec_Kind.KIND_DISTINCT_COUNT,
  quantiles: AggregateSpec_Kind.KIND_QUANTILES,
  histogram: AggregateSpec_Kind.KIND_HISTOGRAM,
  topK: AggregateSpec_Kind.KIND_TOP_K,
  correlation: AggregateSpec_Kind.KIND_CORRELATION,
};

const UNIT_VALUES: Record<TimeBucketUnit, TimeBucket_Unit> = {
  minute: TimeBucket_Unit.UNIT_MINUTE,
  hour: TimeBucket_Unit.UNIT_HOUR,
  day: TimeBucket_Unit.UNIT_DAY,
  week: TimeBucket_Unit.UNIT_WEEK,
  month: TimeBucket_Unit.UNIT_MONTH,
};

function buildSource(model: unknown, source: AggregateSource | undefined): RecordSource {
  if (typeof model !== 'string' || model === '') throw invalidParameter('model', 'a model name', model);
  if (source && 'mongo' in source) {
    const { uri, database, collection = '', filter, partitions = 1 } = source.mongo;
    let filterJson = '';
    if (typeof filter === 'string') filterJson = filter;
    else if (filter !== undefined) filterJson = JSON.stringify(filter);
    return { model, source: { $case: 'mongo', mongo: { uri, database, collection, filterJson, partitions } } };
  }
  if (source && 'postgres' in source) {
    const { conninfo, table = '' } = source.postgres;
    return { model, source: { $case: 'postgres', postgres: { conninfo, table } } };
  }
  if (source && 'documents' in source && Array.isArray(source.documents)) {
    return { model, source: { $case: 'inline', inline: { documents: source.documents.map((d) => Buffer.from(d)) } } };
  }
  throw invalidParameter('source', 'an object with mongo, postgres or documents', source);
}

function policyOf(onViolation: unknown): ViolationPolicy {
  if (onViolation === undefined || onViolation === 'continue') return ViolationPolicy.VIOLATION_POLICY_CONTINUE;
  if (onViolation === 'stop') return ViolationPolicy.VIOLATION_POLICY_STOP;
  throw invalidParameter('onViolation', "'continue' or 'stop'", onViolation);
}

/** Builds the AggregateRequest message; throws InvalidArgumentError for a malformed option. */
export function buildAggregateRequest(options: AggregateOptions): AggregateRequest {
  const groupBy = (options.groupBy ?? []).map((key, index) => {
    if (typeof key === 'string') return { field: key, bucket: undefined };
    const unit = UNIT_VALUES[key.bucket];
    if (unit === undefined) throw invalidParameter(`groupBy[${index}].bucket`, TIME_BUCKET_UNITS.join(', '), key.bucket);
    return { field: key.field, bucket: { unit, timeZone: key.timeZone ?? 'UTC' } };
  });
  if (!Array.isArray(options.aggregates) || options.aggregates.length === 0) {
    throw invalidParameter('aggregates', 'a non-empty array', options.aggregates);
  }
  const aggregates = options.aggregates.map((spec, index) => {
    const kind = KIND_VALUES[spec.kind];
    if (kind === undefined) throw invalidParameter(`aggregates[${index}].kind`, AGGREGATE_KINDS.join(', '), spec.kind);
    return {
      kind,
      field: spec.field ?? '',
      field2: spec.field2 ?? '',
      quantiles: spec.quantiles ?? [],
      histogramBounds: spec.bounds ?? [],
      k: spec.k ?? 0,
      name: spec.name ?? '',
    };
  });
  return {
    source: buildSource(options.model, options.source),
    groupBy,
    aggregates,
    policy: policyOf(options.onViolation),
    maxGroups: options.maxGroups ?? 0,
  };
}

/** Builds the DecodeRequest message for `decode`. */
export function buildDecodeRequest(options: Pick<AggregateOptions, 'model' | 'source' | 'onViolation'> & { limit?: number }): DecodeRequest {
  return {
    source: buildSource(options.model, options.source),
    policy: policyOf(options.onViolation),
    limit: options.limit ?? 0,
  };
}

function keyValue(key: KeyValue): string | number | boolean | Date | null {
  if (key.null || !key.value) return null;
  switch (key.value.$case) {
    case 'text':
      return key.value.text;
    case 'integer':
      return key.value.integer;
    case 'boolean':
      return key.value.boolean;
    case 'timeMs':
      return new Date(key.value.timeMs);
  }
}

function violationsOf(report: AggregateResponse['report']): SchemaViolation[] {
  return (report?.violations ?? []).map(({ collection, id, field, expected, found }) => ({ collection, id, field, expected, found }));
}

/** Shapes the AggregateResponse message into an AggregateResult. */
export function toAggregateResult(request: AggregateRequest, response: AggregateResponse): AggregateResult {
  const groups = response.groups.map((group) => {
    const values: Record<string, AggregateValue> = {};
    group.values.forEach((value, index) => {
      const kind = request.aggregates[index]?.kind;
      if (kind === AggregateSpec_Kind.KIND_QUANTILES) values[value.name] = value.quantiles;
      else if (kind === AggregateSpec_Kind.KIND_HISTOGRAM) values[value.name] = value.buckets;
      else if (kind === AggregateSpec_Kind.KIND_TOP_K) values[value.name] = value.top.map(({ value: v, count }) => ({ value: v, count }));
      else values[value.name] = value.number;
    });
    return { keys: group.keys.map(keyValue), count: group.count, values };
  });
  return {
    groups,
    recordsRead: response.recordsRead,
    recordsRejected: response.report?.recordsRejected ?? 0,
    violations: violationsOf(response.report),
  };
}

export function toDecodeResult(response: DecodeResponse): DecodeResult {
  return {
    records: response.records,
    recordsRead: response.recordsRead,
    recordsRejected: response.report?.recordsRejected ?? 0,
    violations: violationsOf(response.report),
  };
}

/** A Mongoose model as far as exportModelSchemas needs it. */
export interface ModelWithSchema {
  modelName: string;
  schema: { toJSONSchema(options: { useBsonType: boolean }): unknown };
}

/**
 * Returns the JSON Schemas of Mongoose (8.10 or later) models by model name, the input of
 * `heavylift schema check --models FILE`.
 *
 * @example
 * writeFileSync('models.json', JSON.stringify(exportModelSchemas(Object.values(mongoose.models))));
 */
export function exportModelSchemas(models: ModelWithSchema[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const model of models) out[model.modelName] = model.schema.toJSONSchema({ useBsonType: true });
  return out;
}
