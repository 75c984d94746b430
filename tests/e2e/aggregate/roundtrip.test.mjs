// Round trips of every schema type: Node writes a record (Mongoose or js-bson
// documents, PostgreSQL rows), heavylift decodes it with the schema and
// returns canonical Extended JSON rebuilt from its typed values, and the test
// compares that with what Node wrote.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { BSON, Decimal128, Double, EJSON, Int32, Long, ObjectId } from 'bson';
import mongoose from 'mongoose';
import pg from 'pg';

import { useDaemon } from '../lib/helpers.mjs';
import { PostgresServer } from '../lib/postgres.mjs';
import { assertSameRecord, defineModels, SCHEMA_FILE, specimenInsert, TABLES_SQL } from '../lib/records.mjs';

const { Specimen } = defineModels(mongoose);

// Canonical Extended JSON of a BSON document as Node's driver reads it back.
function canonical(bytes) {
  return EJSON.stringify(BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false }), { relaxed: false });
}

// Specimens built through the Mongoose model, as Mongoose would write them.
function mongooseSpecimens() {
  const first = new Specimen({
    label: 'héllo wörld ✓ 𝄞',
    kind: 'plain',
    ref: new mongoose.Types.ObjectId('0123456789abcdef01234567'),
    born: new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 123)),
    price: mongoose.Types.Decimal128.fromString('-1234567890.123456789012345678901234'),
    small: -2147483648,
    big: 2n ** 62n + 1n,
    ratio: 0.1,
    score: 42,
    active: true,
    tags: ['a', '', 'c d'],
    readings: [1, 2.5, -3],
    address: { city: 'Lyon', zip: '69001' },
    counters: new Map([['views', 10], ['ratio', 0.25]]),
    createdAt: new Date(Date.UTC(2024, 0, 1)),
    updatedAt: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
  });
  first.__v = 3;
  // Optional fields left unset stay missing; `ref: null` is stored as null.
  const second = new Specimen({ label: 'minimal', kind: 'edge', ref: null, score: 2 ** 31 });
  for (const document of [first, second]) {
    const error = document.validateSync();
    assert.equal(error, undefined, `the Mongoose model rejects its own specimen: ${error}`);
  }
  return [first, second].map((document) => BSON.serialize(document.toBSON()));
}

// Values Mongoose cannot write (NaN, infinities, -0 numbers, map keys with
// "." or "$", int64 beyond 2^53 at the edges), written with js-bson directly.
function rawSpecimens() {
  return [
    {
      _id: new ObjectId(),
      label: 'doubles',
      kind: 'edge',
      ratio: new Double(-0),
      score: new Double(Number.NaN),
      readings: [new Double(Infinity), new Double(-Infinity), new Double(5e-324), new Int32(7), null],
      big: Long.fromString('-9223372036854775808'),
      price: Decimal128.fromString('NaN'),
      counters: { 'a.b': new Int32(1), $c: new Double(2.5), '': new Double(-0) },
      __v: new Int32(0),
    },
    {
      _id: new ObjectId('ffffffffffffffffffffffff'),
      label: 'edges',
      kind: 'edge',
      born: new Date(-62135596800000), // 0001-01-01T00:00:00Z
      big: Long.fromString('9223372036854775807'),
      price: Decimal128.fromString('1E+6144'),
      small: new Int32(2147483647),
      score: new Double(1.7976931348623157e308),
      active: false,
      address: { city: '' },
      counters: {},
      tags: [],
    },
  ].map((document) => BSON.serialize(document));
}

describe('aggregate: BSON round trip', () => {
  const running = useDaemon(['--schema-file', SCHEMA_FILE]);

  test('Mongoose-written specimens round-trip', async () => {
    const documents = mongooseSpecimens();
    const result = await running.client.aggregate.decode({ model: 'Specimen', source: { documents } });
    assert.equal(result.recordsRead, 2);
    assert.equal(result.recordsRejected, 0, JSON.stringify(result.violations));
    assert.equal(result.records.length, 2);
    documents.forEach((bytes, index) => assertSameRecord(result.records[index], canonical(bytes), `specimen ${index}`));
    // The BSON types the decoder kept, spelled out.
    const first = JSON.parse(result.records[0]);
    assert.deepEqual(first.big, { $numberLong: '4611686018427387905' });
    assert.deepEqual(first.small, { $numberInt: '-2147483648' });
    assert.deepEqual(first.born, { $date: { $numberLong: '-14182939877' } });
    assert.deepEqual(first.__v, { $numberInt: '3' });
    const second = JSON.parse(result.records[1]);
    assert.equal(second.ref, null);
    assert.equal('born' in second, false);
    // 2^31 does not fit int32, so Mongoose's driver wrote a double.
    assert.deepEqual(second.score, { $numberDouble: '2147483648.0' });
  });

  test('js-bson documents with NaN, infinities and special keys round-trip', async () => {
    const documents = rawSpecimens();
    const result = await running.client.aggregate.decode({ model: 'Specimen', source: { documents } });
    assert.equal(result.recordsRejected, 0, JSON.stringify(result.violations));
    documents.forEach((bytes, index) => assertSameRecord(result.records[index], canonical(bytes), `raw specimen ${index}`));
    const first = JSON.parse(result.records[0]);
    assert.deepEqual(first.ratio, { $numberDouble: '-0.0' });
    assert.deepEqual(first.score, { $numberDouble: 'NaN' });
    assert.deepEqual(Object.keys(first.counters), ['a.b', '$c', '']);
  });
});

// Rows of the specimens table: [column values in INSERT order, expected canonical record].
function specimenRows() {
  const id = new ObjectId('65f0a1b2c3d4e5f601234567');
  const ref = new ObjectId('0123456789abcdef01234567');
  const born = new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 123));
  return [
    {
      values: [id.toHexString(), 'Zürich ✓', 'plain', ref.toHexString(), born, '-1234567890.123456789012345678901234',
        -2147483648, '9223372036854775807', '-0', '42', true, ['x', 'y z', null], ['NaN', 'Infinity', '-Infinity', '1.5', '2'],
        'Lyon', null, EJSON.stringify({ 'a.b': new Int32(1), $c: new Double(2.5) }, { relaxed: false }),
        new Date(Date.UTC(2024, 0, 1)), null, 7],
      expected: {
        _id: id, label: 'Zürich ✓', kind: 'plain', ref, born,
        price: Decimal128.fromString('-1234567890.123456789012345678901234'), small: new Int32(-2147483648),
        big: Long.fromString('9223372036854775807'), ratio: new Double(-0), score: new Int32(42), active: true,
        tags: ['x', 'y z', null], readings: [new Double(NaN), new Double(Infinity), new Double(-Infinity), new Double(1.5), new Int32(2)],
        address: { city: 'Lyon' }, counters: { 'a.b': new Int32(1), $c: new Double(2.5) },
        createdAt: new Date(Date.UTC(2024, 0, 1)), __v: new Int32(7),
      },
    },
    {
      values: [new ObjectId('65f0a1b2c3d4e5f601234568').toHexString(), 'minimal', 'edge', null, new Date(-1), 'NaN',
        null, '-9223372036854775808', '5e-324', '-0', false, [], null, null, null, null, null, null, null],
      expected: {
        _id: new ObjectId('65f0a1b2c3d4e5f601234568'), label: 'minimal', kind: 'edge', born: new Date(-1),
        price: Decimal128.fromString('NaN'), big: Long.fromString('-9223372036854775808'), ratio: new Double(5e-324),
        score: new Double(-0), active: false, tags: [],
      },
    },
  ];
}


describe('aggregate: PostgreSQL round trip', () => {
  let postgres;
  let client;
  before(async () => {
    postgres = await PostgresServer.start();
    client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await client.query(await readFile(TABLES_SQL, 'utf8'));
  });
  after(async () => {
    await client?.end();
    await postgres?.stop();
  });
  const running = useDaemon(['--schema-file', SCHEMA_FILE]);

  test('rows written by node-postgres round-trip', async () => {
    const rows = specimenRows();
    for (const row of rows) await client.query(specimenInsert('specimens'), row.values);

    const result = await running.client.aggregate.decode({ model: 'Specimen', source: { postgres: { conninfo: postgres.url } } });
    assert.equal(result.recordsRejected, 0, JSON.stringify(result.violations));
    assert.equal(result.records.length, rows.length);
    rows.forEach((row, index) => {
      assertSameRecord(result.records[index], EJSON.stringify(row.expected, { relaxed: false }), `row ${index}`);
    });
  });

  test('a numeric beyond Decimal128 is reported, not rounded', async () => {
    await client.query(`INSERT INTO specimens ("_id", label, kind, price) VALUES ('65f0a1b2c3d4e5f6012345ff', 'wide', 'broken', 1.2345678901234567890123456789012345678)`);
    const result = await running.client.aggregate.decode({ model: 'Specimen', source: { postgres: { conninfo: postgres.url } } });
    assert.equal(result.recordsRejected, 1);
    assert.deepEqual(result.violations, [{
      collection: 'specimens', id: '65f0a1b2c3d4e5f6012345ff', field: 'price', expected: 'decimal128',
      found: 'text "1.2345678901234567890123456789012345678"',
    }]);
  });
});
