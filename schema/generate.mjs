#!/usr/bin/env node
// Generates everything derived from the record schemas in schema/models/*.json:
//   gen/schema.json      the descriptor heavylift loads (--schema-file): per-field
//                        allowed BSON types and the PostgreSQL column of each field
//   gen/models.cjs       defineModels(mongoose): the Mongoose models
//   gen/types.ts         TypeScript record types and zod validators
//   gen/validators.json  one MongoDB $jsonSchema collection validator per model
//   gen/tables.sql       PostgreSQL CREATE TABLE statements with constraints
// Usage: node schema/generate.mjs [--check]. With --check nothing is
// written; the exit code is 1 when a generated file differs from what the
// models produce (a stale or hand-edited file), naming the file.
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const schemaDir = path.dirname(fileURLToPath(import.meta.url));
const genDir = path.join(schemaDir, 'gen');

// Each schema type: the BSON types heavylift accepts, the type Mongoose's
// toJSONSchema({ useBsonType: true }) states, the Mongoose type expression,
// the TypeScript type, the zod validator and the PostgreSQL column type.
// Mongoose writes a Number as int32 when it is an integer in int32 range
// (and not -0) and as a double otherwise, so both are accepted.
const SCALARS = {
  ObjectId: { bson: ['objectId'], mongoose: 'objectId', model: 'Schema.Types.ObjectId', ts: 'Types.ObjectId', zod: 'z.instanceof(Types.ObjectId)', pg: 'char(24)' },
  String: { bson: ['string'], mongoose: 'string', model: 'String', ts: 'string', zod: 'z.string()', pg: 'text' },
  Date: { bson: ['date'], mongoose: 'date', model: 'Date', ts: 'Date', zod: 'z.date()', pg: 'timestamptz(3)' },
  Decimal128: { bson: ['decimal'], mongoose: 'decimal', model: 'Schema.Types.Decimal128', ts: 'Types.Decimal128', zod: 'z.instanceof(Types.Decimal128)', pg: 'numeric' },
  Int32: { bson: ['int'], mongoose: 'int', model: 'Schema.Types.Int32', ts: 'number', zod: 'z.number().int().min(-2147483648).max(2147483647)', pg: 'integer' },
  BigInt: { bson: ['long'], mongoose: 'long', model: 'BigInt', ts: 'bigint', zod: 'z.bigint().min(-(2n ** 63n)).max(2n ** 63n - 1n)', pg: 'bigint' },
  Double: { bson: ['double'], mongoose: 'double', model: 'Schema.Types.Double', ts: 'number', zod: 'z.number()', pg: 'double precision' },
  Number: { bson: ['int', 'double'], mongoose: 'number', model: 'Number', ts: 'number', zod: 'z.number()', pg: 'double precision' },
  Boolean: { bson: ['bool'], mongoose: 'bool', model: 'Boolean', ts: 'boolean', zod: 'z.boolean()', pg: 'boolean' },
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function fail(message) {
  throw new Error(`schema: ${message}`);
}

function loadModels() {
  const dir = path.join(schemaDir, 'models');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const model = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      for (const key of ['name', 'collection', 'table']) {
        if (typeof model[key] !== 'string' || !IDENTIFIER.test(model[key])) fail(`${file}: ${key} must be an identifier, got ${JSON.stringify(model[key])}`);
      }
      return model;
    });
}

// Normalizes one field of the source into the descriptor's field tree.
function describeField(name, spec, where) {
  const field = { name, type: spec.type, required: spec.required === true };
  if (SCALARS[spec.type]) {
    field.bson = SCALARS[spec.type].bson;
    if (spec.enum) {
      if (spec.type !== 'String' || !Array.isArray(spec.enum)) fail(`${where}.${name}: enum is only allowed on String fields`);
      field.enum = spec.enum;
    }
  } else if (spec.type === 'Array' || spec.type === 'Map') {
    if (!spec.of || !SCALARS[spec.of.type]) fail(`${where}.${name}: ${spec.type} needs "of" with a scalar type`);
    field.bson = [spec.type === 'Array' ? 'array' : 'object'];
    field.of = describeField('', spec.of, `${where}.${name}`);
    delete field.of.name;
  } else if (spec.type === 'Object') {
    field.bson = ['object'];
    field.fields = Object.entries(spec.fields ?? {}).map(([child, childSpec]) => describeField(child, childSpec, `${where}.${name}`));
  } else {
    fail(`${where}.${name}: unknown type ${JSON.stringify(spec.type)}`);
  }
  return field;
}

// The fields every document of the model has besides the declared ones.
function implicitFields(model) {
  const fields = [{ name: '_id', type: 'ObjectId', required: true, bson: ['objectId'] }];
  if (model.timestamps) {
    fields.push({ name: 'createdAt', type: 'Date', required: false, bson: ['date'] });
    fields.push({ name: 'updatedAt', type: 'Date', required: false, bson: ['date'] });
  }
  if (model.versionKey) fields.push({ name: '__v', type: 'Number', required: false, bson: ['int', 'double'] });
  return fields;
}

// PostgreSQL columns: nested objects are flattened with "_" between names,
// arrays of scalars become PostgreSQL arrays, maps become jsonb holding the
// map as canonical Extended JSON (so every BSON type survives).
function assignColumns(fields, prefix, parentRequired) {
  for (const field of fields) {
    const column = prefix + field.name.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();
    const notNull = parentRequired && field.required;
    if (field.type === 'Object') {
      assignColumns(field.fields, `${column}_`, notNull);
      continue;
    }
    let pgType;
    if (field.type === 'Array') pgType = `${SCALARS[field.of.type].pg}[]`;
    else if (field.type === 'Map') pgType = 'jsonb';
    else pgType = SCALARS[field.type].pg;
    field.column = { name: column, type: pgType, notNull };
  }
}

function describeModel(model) {
  const declared = Object.entries(model.fields).map(([name, spec]) => describeField(name, spec, model.name));
  const fields = [...implicitFields(model).slice(0, 1), ...declared, ...implicitFields(model).slice(1)];
  assignColumns(fields, '', true);
  return { name: model.name, collection: model.collection, table: model.table, timestamps: !!model.timestamps, versionKey: !!model.versionKey, fields };
}

// --- Mongoose models ---------------------------------------------------------
function mongooseType(field) {
  const required = field.required ? ', required: true' : '';
  if (field.type === 'Object') {
    const inner = field.fields.map((child) => `${JSON.stringify(child.name)}: ${mongooseType(child)}`).join(', ');
    return `new Schema({ ${inner} }, { _id: false })`;
  }
  if (field.type === 'Array') return `{ type: [${SCALARS[field.of.type].model}]${required} }`;
  if (field.type === 'Map') return `{ type: Map, of: ${SCALARS[field.of.type].model}${required} }`;
  const enumText = field.enum ? `, enum: ${JSON.stringify(field.enum)}` : '';
  return `{ type: ${SCALARS[field.type].model}${required}${enumText} }`;
}

function generateModels(models) {
  const lines = [
    '// Generated by schema/generate.mjs from schema/models/*.json. Do not edit.',
    "'use strict';",
    '',
    '// Defines every record model on `mongoose` (8.10 or later) and returns them by name.',
    '// A model that is already defined on that connection is returned as it is.',
    'function defineModels(mongoose) {',
    '  const { Schema } = mongoose;',
    '  const models = {};',
  ];
  for (const model of models) {
    const declared = model.fields.filter((field) => !['_id', 'createdAt', 'updatedAt', '__v'].includes(field.name));
    lines.push(`  models.${model.name} = mongoose.models.${model.name} ?? mongoose.model(${JSON.stringify(model.name)}, new Schema({`);
    for (const field of declared) lines.push(`    ${JSON.stringify(field.name)}: ${mongooseType(field)},`);
    lines.push(`  }, { collection: ${JSON.stringify(model.collection)}, timestamps: ${model.timestamps}, versionKey: ${model.versionKey ? "'__v'" : 'false'} }));`);
  }
  lines.push('  return models;', '}', '', 'module.exports = { defineModels };', '');
  return lines.join('\n');
}

// --- TypeScript types and zod validators --------------------------------------
function tsType(field) {
  if (field.type === 'Object') return `{ ${field.fields.map((child) => `${child.name}${child.required ? '' : '?'}: ${tsType(child)}${child.required ? '' : ' | null'}`).join('; ')} }`;
  if (field.type === 'Array') return `${tsType(field.of)}[]`;
  if (field.type === 'Map') return `Map<string, ${tsType(field.of)}>`;
  if (field.enum) return field.enum.map((value) => JSON.stringify(value)).join(' | ');
  return SCALARS[field.type].ts;
}

function zodType(field) {
  let base;
  if (field.type === 'Object') base = `z.object({ ${field.fields.map((child) => `${JSON.stringify(child.name)}: ${zodType(child)}`).join(', ')} })`;
  else if (field.type === 'Array') base = `z.array(${zodType({ ...field.of, required: true })})`;
  else if (field.type === 'Map') base = `z.map(z.string(), ${zodType({ ...field.of, required: true })})`;
  else if (field.enum) base = `z.enum(${JSON.stringify(field.enum)})`;
  else base = SCALARS[field.type].zod;
  return field.required ? base : `${base}.nullish()`;
}

function generateTypes(models) {
  const lines = [
    '// Generated by schema/generate.mjs from schema/models/*.json. Do not edit.',
    "import { Types } from 'mongoose';",
    "import { z } from 'zod';",
    '',
  ];
  for (const model of models) {
    lines.push(`/** A record of the ${model.collection} collection and the ${model.table} table. */`);
    lines.push(`export interface ${model.name} {`);
    for (const field of model.fields) lines.push(`  ${field.name}${field.required ? '' : '?'}: ${tsType(field)}${field.required ? '' : ' | null'};`);
    lines.push('}', '');
    lines.push(`/** Validates a ${model.name} as Mongoose returns it from lean() queries. */`);
    lines.push(`export const ${model.name}Record = z.object({`);
    for (const field of model.fields) lines.push(`  ${JSON.stringify(field.name)}: ${zodType(field)},`);
    lines.push('});', '');
  }
  return lines.join('\n');
}

// --- MongoDB $jsonSchema validators ---------------------------------------------
function jsonSchemaOf(field) {
  const schema = { bsonType: field.bson.length === 1 ? field.bson[0] : field.bson };
  if (field.enum) schema.enum = field.enum;
  if (field.type === 'Array') schema.items = jsonSchemaOf(field.of);
  if (field.type === 'Map') schema.additionalProperties = jsonSchemaOf(field.of);
  if (field.type === 'Object') {
    schema.properties = Object.fromEntries(field.fields.map((child) => [child.name, jsonSchemaOf(child)]));
    const required = field.fields.filter((child) => child.required).map((child) => child.name);
    if (required.length) schema.required = required;
  }
  // A field that is not required may be missing or null.
  if (!field.required) schema.bsonType = [...[schema.bsonType].flat(), 'null'];
  return schema;
}

function generateValidators(models) {
  const validators = {};
  for (const model of models) {
    validators[model.collection] = { $jsonSchema: jsonSchemaOf({ type: 'Object', required: true, bson: ['object'], fields: model.fields }) };
  }
  return `${JSON.stringify(validators, null, 2)}\n`;
}

// --- PostgreSQL tables --------------------------------------------------------------
function columnsOf(fields) {
  return fields.flatMap((field) => (field.type === 'Object' ? columnsOf(field.fields) : [field]));
}

function generateTables(models) {
  const lines = ['-- Generated by schema/generate.mjs from schema/models/*.json. Do not edit.', ''];
  for (const model of models) {
    const definitions = [];
    for (const field of columnsOf(model.fields)) {
      const { name, type, notNull } = field.column;
      const quoted = `"${name}"`;
      let text = `  ${quoted} ${type}${notNull ? ' NOT NULL' : ''}`;
      if (name === '_id') text += ' PRIMARY KEY';
      if (field.type === 'ObjectId') text += ` CHECK (${quoted} ~ '^[0-9a-f]{24}$')`;
      if (field.enum) text += ` CHECK (${quoted} IN (${field.enum.map((value) => `'${value.replace(/'/g, "''")}'`).join(', ')}))`;
      if (field.type === 'Map') text += ` CHECK (jsonb_typeof(${quoted}) = 'object')`;
      definitions.push(text);
    }
    lines.push(`CREATE TABLE IF NOT EXISTS "${model.table}" (`, definitions.join(',\n'), ');', '');
  }
  return lines.join('\n');
}

// --- Main ------------------------------------------------------------------------------
export function generate() {
  const models = loadModels().map(describeModel);
  return {
    'schema.json': `${JSON.stringify({ version: 1, models }, null, 2)}\n`,
    'models.cjs': generateModels(models),
    'types.ts': generateTypes(models),
    'validators.json': generateValidators(models),
    'tables.sql': generateTables(models),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const check = process.argv.includes('--check');
  const files = generate();
  let stale = 0;
  mkdirSync(genDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const target = path.join(genDir, name);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : null;
    if (current === text) continue;
    if (check) {
      console.error(`schema: ${path.relative(process.cwd(), target)} is stale; run node schema/generate.mjs`);
      stale += 1;
    } else {
      writeFileSync(target, text);
      console.log(`schema: wrote ${path.relative(process.cwd(), target)}`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
