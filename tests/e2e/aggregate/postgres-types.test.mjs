// Tests of binary COPY beyond the round trip. Columns of other types than
// schema/gen/tables.sql creates are read as the schema's fields. Values
// that break the schema are reported by both aggregate calls, and a column
// type no field can read fails the call.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Decimal128, Double, EJSON, Int32, Long, ObjectId } from 'bson';
import { FailedPreconditionError } from 'heavylift';
import pg from 'pg';

import { useDaemon } from '../lib/helpers.mjs';
import { PostgresServer } from '../lib/postgres.mjs';
import { assertSameRecord, SCHEMA_FILE, specimenInsert } from '../lib/records.mjs';

// The Specimen columns with another type each, where the field can read one.
const OTHER_TYPES_TABLE = `CREATE TABLE specimens_other (
  "_id" text NOT NULL PRIMARY KEY, "label" varchar(40) NOT NULL, "kind" text NOT NULL, "ref" char(24),
  "born" timestamp, "price" bigint, "small" smallint, "big" numeric, "ratio" real, "score" integer,
  "active" boolean, "tags" varchar[], "readings" numeric[], "address_city" text, "address_zip" uuid,
  "counters" json, "createdat" date, "updatedat" timestamptz(6), "__v" bigint)`;

describe('aggregate: PostgreSQL column types read through binary COPY', () => {
  let postgres;
  let client;
  before(async () => {
    postgres = await PostgresServer.start();
    client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await client.query("SET TIME ZONE 'UTC'");
    await client.query(OTHER_TYPES_TABLE);
    await client.query('CREATE TABLE specimens_text_ratio (LIKE specimens_other)');
    await client.query('ALTER TABLE specimens_text_ratio ALTER COLUMN ratio TYPE text');
  });
  after(async () => {
    await client?.end();
    await postgres?.stop();
  });
  const running = useDaemon(['--schema-file', SCHEMA_FILE]);
  const source = (table) => ({ postgres: { conninfo: postgres.url, table } });

  test('other column types read as their fields', async () => {
    const id = new ObjectId('65f0a1b2c3d4e5f601234567');
    await client.query(specimenInsert('specimens_other'), [
      id.toHexString(), 'wider types', 'edge', null, '1969-07-20 20:17:40.123', '-1234', -5, '9223372036854775807', 0.1, 7,
      true, ['a', null], ['1.5', '2', null], 'Lyon', '12345678-9abc-def0-0123-456789abcdef',
      EJSON.stringify({ views: new Int32(10) }, { relaxed: false }), '2024-01-02', '2024-01-02 03:04:05.0065+00', 3,
    ]);
    const result = await running.client.aggregate.decode({ model: 'Specimen', source: source('specimens_other') });
    assert.equal(result.recordsRejected, 0, JSON.stringify(result.violations));
    assert.equal(result.records.length, 1);
    const expected = {
      _id: id, label: 'wider types', kind: 'edge', born: new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 123)),
      price: Decimal128.fromString('-1234'), small: new Int32(-5), big: Long.fromString('9223372036854775807'),
      // A real is read as its shortest decimal text, 0.1, not as the float widened to a double.
      ratio: new Double(0.1), score: new Int32(7), active: true, tags: ['a', null],
      readings: [new Double(1.5), new Int32(2), null],
      address: { city: 'Lyon', zip: '12345678-9abc-def0-0123-456789abcdef' }, counters: { views: new Int32(10) },
      createdAt: new Date(Date.UTC(2024, 0, 2)),
      // 6.5 ms rounds half away from zero to 7 ms.
      updatedAt: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 7)),
      __v: new Int32(3),
    };
    assertSameRecord(result.records[0], EJSON.stringify(expected, { relaxed: false }), 'specimens_other row');
  });

  test('values that break the schema are reported by decode and run', async () => {
    const rows = [
      ['65f0a1b2c3d4e5f6000000a1', 'infinite', 'edge', 'infinity', null, null],
      ['65f0a1b2c3d4e5f6000000a2', 'fraction', 'edge', null, '1.5', null],
      ['65f0a1b2c3d4e5f6000000a3', 'matrix', 'edge', null, null, '{{1,2},{3,4}}'],
      ['65f0a1b2c3d4e5f6000000a4', 'fine', 'plain', null, '12', null],
    ];
    for (const row of rows) {
      await client.query('INSERT INTO specimens_other ("_id", label, kind, born, big, readings) VALUES ($1, $2, $3, $4, $5, $6)', row);
    }
    const decoded = await running.client.aggregate.decode({ model: 'Specimen', source: source('specimens_other') });
    assert.equal(decoded.recordsRejected, 3);
    assert.deepEqual(decoded.violations, [
      { collection: 'specimens', id: rows[0][0], field: 'born', expected: 'date', found: 'text "infinity"' },
      { collection: 'specimens', id: rows[1][0], field: 'big', expected: 'int64', found: 'text "1.5"' },
      { collection: 'specimens', id: rows[2][0], field: 'readings', expected: 'array', found: 'an array of 2 dimensions' },
    ]);

    // aggregate.run reads only _id, kind and big, straight into columns.
    const result = await running.client.aggregate.run({
      model: 'Specimen', source: source('specimens_other'), groupBy: ['kind'],
      aggregates: [{ kind: 'count' }, { kind: 'sum', field: 'big', name: 'big' }],
    });
    assert.equal(result.recordsRead, 5);
    assert.equal(result.recordsRejected, 1);
    assert.deepEqual(result.violations, [
      { collection: 'specimens', id: rows[1][0], field: 'big', expected: 'int64', found: 'text "1.5"' },
    ]);
    assert.deepEqual(result.groups.map((group) => [group.keys[0], group.count]), [['edge', 3], ['plain', 1]]);
  });

  test('a column type no field reads fails before any row', async () => {
    await assert.rejects(
      running.client.aggregate.decode({ model: 'Specimen', source: source('specimens_text_ratio') }),
      (error) => {
        assert.ok(error instanceof FailedPreconditionError, `${error.name}: ${error.message}`);
        assert.match(error.message, /PostgreSQL column "ratio" is text, but field ratio of model Specimen is a Double/);
        return true;
      },
    );
  });
});
