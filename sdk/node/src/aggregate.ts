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
import { checkKnownKeys, checkOptionsObject, invalidParameter, optionNames } from './validate';

/** A MongoDB collection, read through a mongodb:// URI (MongoDB or FerretDB). */
export interface AggregateSourceMongo {
  uri: string;
  database: string;
  /** Defaults to the model's collection. */
  collection?: string;
  /** A query filter, as an object (serialized to relaxed Extended JSON by the caller) or a JSON string. */
  filter?: string | Record<string, unknown>;
  /** Parallel cursors over ranges of _id; default 1. */
  partitions?: number;
}

/** A PostgreSQL table made from the schema's CREATE TABLE. */
export interface AggregateSourcePostgres {
  conninfo: string;
  table?: string;
}

/** The record source: exactly one of mongo, postgres or documents. */
export type AggregateSource =
  | {
      /** A MongoDB collection, read through a mongodb:// URI (MongoDB or FerretDB). */
      mongo: AggregateSourceMongo;
    }
  | {
      /** A PostgreSQL table made from the schema's CREATE TABLE. */
      postgres: AggregateSourcePostgres;
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

/**
 * A group key: a field path, or a date field bucketed in a time zone: "UTC" (the default), an
 * offset such as "+05:30", or an IANA name such as "Europe/Berlin" (with its daylight-saving rules).
 */
export type GroupBy = string | { field: string; bucket: TimeBucketUnit; timeZone?: string };

/**
 * A moving window over the buckets of one bucketed groupBy key, for example a 7-day moving mean
 * over day buckets. Combines count, sum, mean, min, max, stddev and histogram aggregates.
 */
export interface MovingWindowOptions {
  /** Buckets in the window, the group's own included: 2..1000. */
  buckets: number;
  /** Index in groupBy of the bucketed key; defaults to the last groupBy entry with a bucket. */
  key?: number;
}

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
  /** Adds, to every group, the aggregates over the moving window that ends at its bucket. */
  moving?: MovingWindowOptions;
}

/** Options of `client.aggregate.decode`. */
export type DecodeOptions = Pick<AggregateOptions, 'model' | 'source' | 'onViolation'> & {
  /** At most this many records. Default: the daemon's limit. */
  limit?: number;
};

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
  /**
   * With `moving`: the records and the aggregates (by the same names) of the window that ends at
   * this group's bucket. Absent without `moving` and for a group whose bucketed key is null.
   */
  moving?: { count: number; values: Record<string, AggregateValue> };
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

// Keys of each object that the aggregate and decode requests are built from.
const AGGREGATE_OPTION_NAMES = optionNames<AggregateOptions>({
  model: true,
  source: true,
  groupBy: true,
  aggregates: true,
  onViolation: true,
  maxGroups: true,
  moving: true,
});
const MOVING_NAMES = optionNames<MovingWindowOptions>({ buckets: true, key: true });
const DECODE_OPTION_NAMES = optionNames<DecodeOptions>({ model: true, source: true, onViolation: true, limit: true });
const AGGREGATE_FIELD_NAMES = optionNames<AggregateField>({
  kind: true,
  field: true,
  field2: true,
  quantiles: true,
  bounds: true,
  k: true,
  name: true,
});
const GROUP_BY_NAMES = ['field', 'bucket', 'timeZone'];
// AggregateSource is a union, whose keyof holds only the keys common to its members.
const SOURCE_NAMES = ['mongo', 'postgres', 'documents'];
const MONGO_SOURCE_NAMES = ['uri', 'database', 'collection', 'filter', 'partitions'];
const POSTGRES_SOURCE_NAMES = ['conninfo', 'table'];

function buildSource(model: unknown, value: unknown): RecordSource {
  if (typeof model !== 'string' || model === '') throw invalidParameter('model', 'a model name', model);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidParameter('source', 'an object with mongo, postgres or documents', value);
  }
  checkKnownKeys(value, 'source', SOURCE_NAMES);
  const source = value as Partial<Record<'mongo' | 'postgres' | 'documents', unknown>>;
  const given = SOURCE_NAMES.filter((name) => source[name as keyof typeof source] !== undefined);
  if (given.length > 1) {
    throw invalidParameter('source', 'exactly one of source.mongo, source.postgres and source.documents', value);
  }
  if (source.mongo !== undefined) {
    const mongo = checkOptionsObject(source.mongo as AggregateSourceMongo, 'source.mongo');
    checkKnownKeys(mongo, 'source.mongo', MONGO_SOURCE_NAMES);
    const { uri, database, collection = '', filter, partitions = 1 } = mongo as AggregateSourceMongo;
    let filterJson = '';
    if (typeof filter === 'string') filterJson = filter;
    else if (filter !== undefined) filterJson = JSON.stringify(filter);
    return { model, source: { $case: 'mongo', mongo: { uri, database, collection, filterJson, partitions } } };
  }
  if (source.postgres !== undefined) {
    const postgres = checkOptionsObject(source.postgres as AggregateSourcePostgres, 'source.postgres');
    checkKnownKeys(postgres, 'source.postgres', POSTGRES_SOURCE_NAMES);
    const { conninfo, table = '' } = postgres as AggregateSourcePostgres;
    return { model, source: { $case: 'postgres', postgres: { conninfo, table } } };
  }
  if (Array.isArray(source.documents)) {
    return { model, source: { $case: 'inline', inline: { documents: source.documents.map((d: Uint8Array) => Buffer.from(d)) } } };
  }
  throw invalidParameter('source', 'an object with mongo, postgres or documents', value);
}

function policyOf(onViolation: unknown): ViolationPolicy {
  if (onViolation === undefined || onViolation === 'continue') return ViolationPolicy.VIOLATION_POLICY_CONTINUE;
  if (onViolation === 'stop') return ViolationPolicy.VIOLATION_POLICY_STOP;
  throw invalidParameter('onViolation', "'continue' or 'stop'", onViolation);
}

function buildGroupBy(value: unknown, index: number): AggregateRequest['groupBy'][number] {
  if (typeof value === 'string') return { field: value, bucket: undefined };
  const field = `groupBy[${index}]`;
  const key = checkOptionsObject(value as Exclude<GroupBy, string>, field);
  checkKnownKeys(key, field, GROUP_BY_NAMES);
  const unit = UNIT_VALUES[key.bucket as TimeBucketUnit];
  if (unit === undefined) throw invalidParameter(`${field}.bucket`, TIME_BUCKET_UNITS.join(', '), key.bucket);
  return { field: key.field ?? '', bucket: { unit, timeZone: key.timeZone ?? 'UTC' } };
}

export function buildAggregateSpec(value: unknown, index: number): AggregateRequest['aggregates'][number] {
  const field = `aggregates[${index}]`;
  const spec = checkOptionsObject(value as AggregateField, field);
  checkKnownKeys(spec, field, AGGREGATE_FIELD_NAMES);
  const kind = KIND_VALUES[spec.kind as AggregateKind];
  if (kind === undefined) throw invalidParameter(`${field}.kind`, AGGREGATE_KINDS.join(', '), spec.kind);
  return {
    kind,
    field: spec.field ?? '',
    field2: spec.field2 ?? '',
    quantiles: spec.quantiles ?? [],
    histogramBounds: spec.bounds ?? [],
    k: spec.k ?? 0,
    name: spec.name ?? '',
  };
}

/** Builds the AggregateRequest message; throws InvalidArgumentError for a malformed option. */
export function buildAggregateRequest(options: AggregateOptions): AggregateRequest {
  const checked = checkOptionsObject(options, 'options');
  checkKnownKeys(checked, 'options', AGGREGATE_OPTION_NAMES);
  const groupByList: unknown = checked.groupBy ?? [];
  if (!Array.isArray(groupByList)) throw invalidParameter('groupBy', 'an array', groupByList);
  const groupBy = groupByList.map(buildGroupBy);
  if (!Array.isArray(checked.aggregates) || checked.aggregates.length === 0) {
    throw invalidParameter('aggregates', 'a non-empty array', checked.aggregates);
  }
  const aggregates = checked.aggregates.map(buildAggregateSpec);
  return {
    source: buildSource(checked.model, checked.source),
    groupBy,
    aggregates,
    policy: policyOf(checked.onViolation),
    maxGroups: checked.maxGroups ?? 0,
    moving: buildMoving(checked.moving, groupBy),
  };
}

function buildMoving(value: unknown, groupBy: AggregateRequest['groupBy']): AggregateRequest['moving'] {
  if (value === undefined) return undefined;
  const moving = checkOptionsObject(value as MovingWindowOptions, 'moving');
  checkKnownKeys(moving, 'moving', MOVING_NAMES);
  if (!Number.isInteger(moving.buckets)) throw invalidParameter('moving.buckets', 'an integer in 2..1000', moving.buckets);
  let key = moving.key;
  if (key === undefined) {
    key = groupBy.map((entry) => entry.bucket !== undefined).lastIndexOf(true);
    if (key < 0) throw invalidParameter('moving.key', 'a groupBy entry with a bucket', undefined);
  } else if (!Number.isInteger(key) || key < 0) {
    throw invalidParameter('moving.key', 'the index of a groupBy entry with a bucket', key);
  }
  return { groupKey: key, buckets: moving.buckets as number };
}

/** Builds the DecodeRequest message for `decode`; throws InvalidArgumentError for a malformed option. */
export function buildDecodeRequest(options: DecodeOptions): DecodeRequest {
  const checked = checkOptionsObject(options, 'options');
  checkKnownKeys(checked, 'options', DECODE_OPTION_NAMES);
  return {
    source: buildSource(checked.model, checked.source),
    policy: policyOf(checked.onViolation),
    limit: checked.limit ?? 0,
  };
}

export function keyValue(key: KeyValue): string | number | boolean | Date | null {
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
/** Shapes a group's values by name, by the kinds of the requested aggregates. */
export function valuesByName(
  aggregates: AggregateRequest['aggregates'],
  list: AggregateResponse['groups'][number]['values'],
): Record<string, AggregateValue> {
  const values: Record<string, AggregateValue> = {};
  list.forEach((value, index) => {
    const kind = aggregates[index]?.kind;
    if (kind === AggregateSpec_Kind.KIND_QUANTILES) values[value.name] = value.quantiles;
    else if (kind === AggregateSpec_Kind.KIND_HISTOGRAM) values[value.name] = value.buckets;
    else if (kind === AggregateSpec_Kind.KIND_TOP_K) values[value.name] = value.top.map(({ value: v, count }) => ({ value: v, count }));
    else values[value.name] = value.number;
  });
  return values;
}

export function toAggregateResult(request: AggregateRequest, response: AggregateResponse): AggregateResult {
  const valuesOf = (list: AggregateResponse['groups'][number]['values']) => valuesByName(request.aggregates, list);
  const groups = response.groups.map((group) => {
    const out: AggregateGroup = { keys: group.keys.map(keyValue), count: group.count, values: valuesOf(group.values) };
    if (group.movingValues.length > 0) out.moving = { count: group.movingCount, values: valuesOf(group.movingValues) };
    return out;
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
