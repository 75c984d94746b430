// Shared by generate.mjs and heavylift-gen.mjs: reads a FileDescriptorSet
// from protoc and writes TypeScript types for the proto3 JSON of messages,
// the shape that job helpers take as a request (createJobs().enqueue).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { createFileRegistry, fromBinary, ScalarType } = require('@bufbuild/protobuf');
const { FileDescriptorSetSchema } = require('@bufbuild/protobuf/wkt');

/** Full name of the message whose JSON also takes `{ redisKey }` in BullMQ jobs. */
export const BLOB_REF = 'heavylift.v1.BlobRef';

/**
 * Runs protoc on `files` and returns the serialized FileDescriptorSet with
 * imports included. Throws with protoc's exit status on failure.
 */
export function describeProtos(protoc, protoPaths, files) {
  const dir = mkdtempSync(join(tmpdir(), 'heavylift-gen-'));
  try {
    const out = join(dir, 'set.binpb');
    const result = spawnSync(protoc, [`--descriptor_set_out=${out}`, '--include_imports',
      ...protoPaths.map((path) => `--proto_path=${path}`), ...files], { stdio: 'inherit' });
    if (result.error) throw new Error(`failed to run ${protoc}: ${result.error.message}; install protoc or set PROTOC`);
    if (result.status !== 0) throw new Error(`${protoc} exited with status ${result.status}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds a registry of every message and enum in a serialized FileDescriptorSet. */
export function registryOf(descriptorSet) {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
}

/** The TypeScript name of the JSON type of `desc`: `catalog.v1.Search.Item` -> `Search_ItemJson`. */
export function jsonTypeName(desc) {
  const local = desc.file.proto.package ? desc.typeName.slice(desc.file.proto.package.length + 1) : desc.typeName;
  return `${local.replaceAll('.', '_')}Json`;
}

const WRAPPERS = {
  'google.protobuf.DoubleValue': 'number | string',
  'google.protobuf.FloatValue': 'number | string',
  'google.protobuf.Int64Value': 'number | string | bigint',
  'google.protobuf.UInt64Value': 'number | string | bigint',
  'google.protobuf.Int32Value': 'number',
  'google.protobuf.UInt32Value': 'number',
  'google.protobuf.BoolValue': 'boolean',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'Uint8Array | string',
};
const WELL_KNOWN = {
  ...WRAPPERS,
  'google.protobuf.Timestamp': 'string | Date',
  'google.protobuf.Duration': 'string',
  'google.protobuf.FieldMask': 'string',
  'google.protobuf.Struct': '{ [key: string]: unknown }',
  'google.protobuf.Value': 'unknown',
  'google.protobuf.ListValue': 'unknown[]',
  'google.protobuf.Any': '{ "@type": string; [key: string]: unknown }',
  'google.protobuf.Empty': 'Record<string, never>',
};

function scalarType(scalar) {
  switch (scalar) {
    case ScalarType.STRING: return 'string';
    case ScalarType.BOOL: return 'boolean';
    case ScalarType.BYTES: return 'Uint8Array | string';
    case ScalarType.INT64: case ScalarType.UINT64: case ScalarType.SINT64:
    case ScalarType.FIXED64: case ScalarType.SFIXED64:
      return 'number | string | bigint';
    case ScalarType.DOUBLE: case ScalarType.FLOAT:
      return "number | 'NaN' | 'Infinity' | '-Infinity'";
    default: return 'number';
  }
}

function enumType(desc) {
  const names = desc.values.flatMap((value) => {
    const short = desc.sharedPrefix ? value.name.slice(desc.sharedPrefix.length).toLowerCase() : undefined;
    return short ? [value.name, short] : [value.name];
  });
  return [...new Set(names)].map((name) => `'${name}'`).concat('number').join(' | ');
}

/**
 * Returns TypeScript declarations of the proto3 JSON types of `roots` (message descriptors)
 * and of every message they reach, each exported as `<Name>Json`. Every field is optional,
 * as in proto3 JSON; enums take the value name, its lower-case suffix or the number; bytes
 * a Uint8Array or base64; a heavylift.v1.BlobRef also `{ redisKey }`.
 */
export function jsonTypeDeclarations(roots) {
  const pending = [...roots];
  const seen = new Map();
  while (pending.length > 0) {
    const desc = pending.shift();
    if (seen.has(desc.typeName) || WELL_KNOWN[desc.typeName]) continue;
    seen.set(desc.typeName, desc);
    for (const field of desc.fields) {
      const message = field.fieldKind === 'message' ? field.message
        : field.fieldKind === 'list' && field.listKind === 'message' ? field.message
          : field.fieldKind === 'map' && field.mapKind === 'message' ? field.message : undefined;
      if (message) pending.push(message);
    }
  }
  const valueType = (kind, field) => {
    if (kind === 'scalar') return scalarType(field.scalar);
    if (kind === 'enum') return enumType(field.enum);
    const known = WELL_KNOWN[field.message.typeName];
    if (known) return known;
    const name = jsonTypeName(field.message);
    return field.message.typeName === BLOB_REF ? `${name} | { readonly redisKey: string }` : name;
  };
  const blocks = [];
  for (const desc of seen.values()) {
    const lines = [`/** The proto3 JSON of \`${desc.typeName}\`. */`, `export interface ${jsonTypeName(desc)} {`];
    for (const field of desc.fields) {
      let type;
      if (field.fieldKind === 'list') type = `ReadonlyArray<${valueType(field.listKind, field)}>`;
      else if (field.fieldKind === 'map') type = `{ readonly [key: string]: ${valueType(field.mapKind, field)} }`;
      else type = valueType(field.fieldKind, field);
      lines.push(`  ${field.jsonName}?: ${type};`);
    }
    lines.push('}');
    blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n');
}
