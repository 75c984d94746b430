// Shared pieces of the aggregate tests: the generated schema files, seeded
// event data, and comparison of canonical Extended JSON with doubles compared
// by value (so NaN equals NaN and -0 differs from 0).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';

import { BSON, Double, Int32, ObjectId } from 'bson';

import { REPO_ROOT } from './helpers.mjs';

const require = createRequire(import.meta.url);

export const SCHEMA_DIR = path.join(REPO_ROOT, 'schema');
export const SCHEMA_FILE = path.join(SCHEMA_DIR, 'gen', 'schema.json');
export const TABLES_SQL = path.join(SCHEMA_DIR, 'gen', 'tables.sql');

// Columns of the Specimen model's PostgreSQL tables, in the order of an inserted row's values.
const SPECIMEN_COLUMNS = ['_id', 'label', 'kind', 'ref', 'born', 'price', 'small', 'big', 'ratio', 'score', 'active',
  'tags', 'readings', 'address_city', 'address_zip', 'counters', 'createdat', 'updatedat', '__v'];

/** Returns an INSERT of one row of every Specimen column into `table`, with $1.. placeholders. */
export function specimenInsert(table) {
  const columns = SPECIMEN_COLUMNS.map((name) => `"${name}"`).join(', ');
  const placeholders = SPECIMEN_COLUMNS.map((_, index) => `$${index + 1}`).join(', ');
  return `INSERT INTO ${table} (${columns}) VALUES (${placeholders})`;
}

/** Defines the generated Mongoose models on `mongoose` and returns them by name. */
export function defineModels(mongoose) {
  return require(path.join(SCHEMA_DIR, 'gen', 'models.cjs')).defineModels(mongoose);
}

/** A small deterministic random generator (mulberry32), so failures repeat. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const EVENT_TYPES = ['view', 'click', 'purchase', 'refund'];

/**
 * `count` events as plain objects: user (24 hex digits), type, amount,
 * quantity and at (epoch ms, spread over 40 days around 1970 and 2024).
 */
export function makeEvents(count, seed = 1) {
  const random = seededRandom(seed);
  const events = [];
  const base = Date.UTC(2024, 1, 20);
  for (let i = 0; i < count; i += 1) {
    const userNumber = Math.floor(random() * 500);
    events.push({
      id: (0x65000000 + i).toString(16).padStart(8, '0') + i.toString(16).padStart(16, '0'),
      user: userNumber.toString(16).padStart(24, '0'),
      type: EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)],
      amount: Math.round(random() * 100000) / 100,
      quantity: 1 + Math.floor(random() * 9),
      at: (i % 10 === 0 ? Date.UTC(1969, 11, 25) : base) + Math.floor(random() * 40 * 86400000),
    });
  }
  return events;
}

/** Replaces every {$numberDouble: text} in a parsed canonical Extended JSON value with a tagged number. */
function normalizeDoubles(value) {
  if (Array.isArray(value)) return value.map(normalizeDoubles);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$numberDouble') {
      const number = Number(value.$numberDouble);
      return { double: Number.isNaN(number) ? 'NaN' : Object.is(number, -0) ? '-0' : number };
    }
    return Object.fromEntries(keys.map((key) => [key, normalizeDoubles(value[key])]));
  }
  return value;
}

/** Asserts that two canonical Extended JSON texts hold the same typed values. */
export function assertSameRecord(actualJson, expectedJson, message) {
  assert.deepStrictEqual(normalizeDoubles(JSON.parse(actualJson)), normalizeDoubles(JSON.parse(expectedJson)), message);
}

/** Sorts numbers ascending and returns the quantile with linear interpolation (numpy's default). */
export function quantile(sorted, q) {
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const fraction = position - lower;
  if (fraction === 0 || lower + 1 >= sorted.length) return sorted[lower];
  return sorted[lower] + (sorted[lower + 1] - sorted[lower]) * fraction;
}

/** Asserts `actual` is within a relative `tolerance` of `expected`. */
export function assertClose(actual, expected, tolerance, message) {
  const scale = Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance * scale, `${message}: got ${actual}, expected ${expected}`);
}

/** Encodes an event of makeEvents as the BSON document the Node driver would write. */
export function eventToBson(event) {
  return BSON.serialize({
    _id: new ObjectId(event.id),
    user: new ObjectId(event.user),
    type: event.type,
    amount: new Double(event.amount),
    quantity: new Int32(event.quantity),
    at: new Date(event.at),
  });
}
