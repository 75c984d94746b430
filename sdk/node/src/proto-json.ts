// Checks a request written as proto3 JSON against its message descriptor and
// returns the canonical proto3 JSON that the queue workers parse. Each mistake
// is an InvalidArgumentError naming the field path (`request.items[2].sku`),
// what the field takes and what it received, before the job is sent.
import { createFileRegistry, fromBinary, ScalarType, type DescEnum, type DescField, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

import { status } from '@grpc/grpc-js';

import { InvalidArgumentError } from './errors';
import { invalidParameter } from './validate';

/** Full name of the message whose JSON also takes `{ redisKey }` in BullMQ jobs. */
export const BLOB_REF_MESSAGE = 'heavylift.v1.BlobRef';

/** A value that stands for a BlobRef in a job, as `{ "redisKey": key }`. */
export interface RedisKeyReference {
  readonly redisKey: string;
}

const registries = new Map<string, FileRegistry>();

/** Returns the registry of a base64 FileDescriptorSet, parsed once per set. */
export function registryOf(descriptorSetBase64: string): FileRegistry {
  let registry = registries.get(descriptorSetBase64);
  if (registry === undefined) {
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, 'base64')));
    registries.set(descriptorSetBase64, registry);
  }
  return registry;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const INT32_RANGE: [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const UINT32_RANGE: [bigint, bigint] = [0n, 2n ** 32n - 1n];
const INT64_RANGE: [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const UINT64_RANGE: [bigint, bigint] = [0n, 2n ** 64n - 1n];
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Date);
}

function integer(value: unknown, path: string, typeName: string, [min, max]: [bigint, bigint], asString: boolean): Json {
  let big: bigint | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else if (typeof value === 'bigint') big = value;
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) big = BigInt(value);
  if (big === undefined || big < min || big > max) {
    throw invalidParameter(path, `${typeName} (integer in ${min}..${max})`, value);
  }
  if (asString) return big.toString();
  return Number(big);
}

function scalar(type: ScalarType, value: unknown, path: string): Json {
  switch (type) {
    case ScalarType.STRING:
      if (typeof value !== 'string') throw invalidParameter(path, 'string', value);
      return value;
    case ScalarType.BOOL:
      if (typeof value !== 'boolean') throw invalidParameter(path, 'boolean', value);
      return value;
    case ScalarType.BYTES:
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      if (typeof value === 'string' && BASE64.test(value)) return value;
      throw invalidParameter(path, 'bytes (a Buffer, a Uint8Array or a base64 string)', value);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return value;
      if (typeof value === 'number') return String(value);
      throw invalidParameter(path, `${type === ScalarType.FLOAT ? 'float' : 'double'} (a number)`, value);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return integer(value, path, 'int32', INT32_RANGE, false);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return integer(value, path, 'uint32', UINT32_RANGE, false);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return integer(value, path, 'int64', INT64_RANGE, true);
    default:
      return integer(value, path, 'uint64', UINT64_RANGE, true);
  }
}

function enumValue(desc: DescEnum, value: unknown, path: string): Json {
  if (typeof value === 'number') {
    const known = desc.values.find((v) => v.number === value);
    if (known !== undefined) return known.name;
  } else if (typeof value === 'string') {
    const known =
      desc.values.find((v) => v.name === value) ??
      (desc.sharedPrefix === undefined
        ? undefined
        : desc.values.find((v) => v.name.slice(desc.sharedPrefix!.length).toLowerCase() === value.toLowerCase()));
    if (known !== undefined) return known.name;
  }
  const names = desc.values.map((v) => (desc.sharedPrefix === undefined ? v.name : v.name.slice(desc.sharedPrefix.length).toLowerCase()));
  throw invalidParameter(path, `${desc.typeName}: one of ${names.map((name) => `'${name}'`).join(', ')} (or its full name or number)`, value);
}

function wellKnown(desc: DescMessage, value: unknown, path: string): Json | undefined {
  const name = desc.typeName;
  if (!name.startsWith('google.protobuf.')) return undefined;
  if (name.endsWith('Value') && name !== 'google.protobuf.Value' && name !== 'google.protobuf.ListValue') {
    const inner = desc.fields[0];
    return inner?.fieldKind === 'scalar' ? scalar(inner.scalar, value, path) : undefined;
  }
  switch (name) {
    case 'google.protobuf.Timestamp':
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
      if (typeof value === 'string') return value;
      throw invalidParameter(path, 'timestamp (a Date or an RFC 3339 string)', value);
    case 'google.protobuf.Duration':
    case 'google.protobuf.FieldMask':
      if (typeof value !== 'string') throw invalidParameter(path, `${name} as a string`, value);
      return value;
    case 'google.protobuf.Struct':
    case 'google.protobuf.Value':
    case 'google.protobuf.ListValue':
    case 'google.protobuf.Any':
    case 'google.protobuf.Empty':
      return JSON.parse(JSON.stringify(value)) as Json;
    default:
      return undefined;
  }
}

function fieldValue(field: DescField, kind: 'scalar' | 'enum' | 'message', value: unknown, path: string): Json {
  if (kind === 'scalar') return scalar(field.scalar!, value, path);
  if (kind === 'enum') return enumValue(field.enum!, value, path);
  return message(field.message!, value, path);
}

function mapKey(type: ScalarType, key: string, path: string): string {
  if (type === ScalarType.STRING) return key;
  if (type === ScalarType.BOOL) {
    if (key !== 'true' && key !== 'false') throw invalidParameter(path, 'map key true or false', key);
    return key;
  }
  return String(scalar(type, key, path));
}

function message(desc: DescMessage, value: unknown, path: string): Json {
  const known = wellKnown(desc, value, path);
  if (known !== undefined) return known;
  if (desc.typeName === BLOB_REF_MESSAGE && isPlainObject(value) && 'redisKey' in value) {
    const { redisKey, ...rest } = value;
    if (typeof redisKey !== 'string' || redisKey.length === 0 || Object.keys(rest).length > 0) {
      throw invalidParameter(path, 'BlobRef as { data }, { path } or { redisKey } alone, with a non-empty key', value);
    }
    return { redisKey };
  }
  if (!isPlainObject(value)) throw invalidParameter(path, `${desc.typeName} object`, value);

  const out: { [key: string]: Json } = {};
  const oneofSet = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    const fieldPath = `${path}.${key}`;
    if (field === undefined) {
      const jsonNames = desc.fields.map((f) => f.jsonName);
      // A BlobRef in a job also takes { redisKey }, handled above.
      if (desc.typeName === BLOB_REF_MESSAGE) jsonNames.push('redisKey');
      const names = jsonNames.join(', ');
      throw new InvalidArgumentError(`${fieldPath} is not a field of ${desc.typeName} (its fields: ${names})`, {
        code: status.INVALID_ARGUMENT,
        field: fieldPath,
        bound: `a field of ${desc.typeName}`,
        reason: 'UNKNOWN_FIELD',
      });
    }
    if (item === undefined || item === null) continue;
    if (field.oneof !== undefined) {
      const other = oneofSet.get(field.oneof.name);
      if (other !== undefined) {
        const members = field.oneof.fields.map((f) => f.jsonName).join(', ');
        throw invalidParameter(fieldPath, `only one of ${members} (${other} is set too)`, item);
      }
      oneofSet.set(field.oneof.name, field.jsonName);
    }
    if (field.fieldKind === 'list') {
      if (!Array.isArray(item)) throw invalidParameter(fieldPath, `array of ${kindName(field, field.listKind)}`, item);
      out[field.jsonName] = item.map((element, index) => fieldValue(field, field.listKind, element, `${fieldPath}[${index}]`));
    } else if (field.fieldKind === 'map') {
      if (!isPlainObject(item)) throw invalidParameter(fieldPath, `object (map of ${kindName(field, field.mapKind)})`, item);
      const entries: { [key: string]: Json } = {};
      for (const [entryKey, entryValue] of Object.entries(item)) {
        const entryPath = `${fieldPath}[${JSON.stringify(entryKey)}]`;
        entries[mapKey(field.mapKey, entryKey, entryPath)] = fieldValue(field, field.mapKind, entryValue, entryPath);
      }
      out[field.jsonName] = entries;
    } else {
      out[field.jsonName] = fieldValue(field, field.fieldKind, item, fieldPath);
    }
  }
  return out;
}

function kindName(field: DescField, kind: 'scalar' | 'enum' | 'message'): string {
  if (kind === 'enum') return field.enum!.typeName;
  if (kind === 'message') return field.message!.typeName;
  return ScalarType[field.scalar!]!.toLowerCase();
}

/**
 * Returns `request` as the canonical proto3 JSON of `desc`: lowerCamelCase names, bytes
 * as base64, 64-bit integers as strings, enum values by name. Takes the proto3 JSON forms
 * (either field name spelling, enum names or numbers, base64 strings) and Buffers,
 * bigints, Dates and lower-case enum suffixes (`'webp'`), and `{ redisKey }` for a
 * heavylift.v1.BlobRef. Throws an InvalidArgumentError at the first unknown field or
 * wrong type, naming its path under `field`.
 */
export function toProtoJson(desc: DescMessage, request: unknown, field = 'request'): { [key: string]: Json } {
  return message(desc, request, field) as { [key: string]: Json };
}
