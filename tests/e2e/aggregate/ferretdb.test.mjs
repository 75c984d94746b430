// Mongoose writes to FerretDB (the MongoDB wire protocol over SQLite);
// heavylift reads the collection with libmongoc, with the filter and the
// projection on the server and parallel cursors over _id ranges.
// FerretDB 1.24 has no Decimal128, NaN or infinities, so those types are
// covered with js-bson documents in roundtrip.test.mjs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { BSON, EJSON } from 'bson';
import mongoose from 'mongoose';

import { useDaemon } from '../lib/helpers.mjs';
import { FerretServer } from '../lib/ferretdb.mjs';
import { assertSameRecord, defineModels, makeEvents, SCHEMA_FILE } from '../lib/records.mjs';

const EVENT_COUNT = process.env.HEAVYLIFT_E2E_SANITIZED ? 1_000 : 5_000;

// FerretDB may fail to start (for example a build without its version
// file); the suite then skips with the reason instead of failing.
let ferret;
let startFailure;
try {
  ferret = await FerretServer.start();
} catch (error) {
  startFailure = error.message.split('\n').slice(0, 2).join(' ');
  console.log(`# ferretdb tests skipped: FerretDB did not start: ${startFailure}`);
}

describe('aggregate: FerretDB via Mongoose', { skip: startFailure && `FerretDB did not start: ${startFailure}` }, () => {
  // A Mongoose instance of its own, since the generated models register on
  // the instance they are given.
  const local = new mongoose.Mongoose();
  const { Event, Specimen } = defineModels(local);
  const events = makeEvents(EVENT_COUNT, 11);
  before(async () => {
    await local.connect(ferret.url, { dbName: 'heavylift_test' });
    await Event.insertMany(events.map((event) => ({
      _id: event.id, user: event.user, type: event.type, amount: event.amount, quantity: event.quantity, at: new Date(event.at),
    })));
  });
  after(async () => {
    await local.disconnect();
    await ferret?.stop();
  });
  const running = useDaemon(['--schema-file', SCHEMA_FILE], { deadlineMs: 60_000 });

  test('specimens saved by Mongoose round-trip', async () => {
    const saved = await Specimen.create({
      label: 'ferret ✓', kind: 'plain', ref: new mongoose.Types.ObjectId(), born: new Date(-1234567),
      small: -5, big: 2n ** 60n + 7n, ratio: 2.5, score: 3, active: true, tags: ['a', 'b'], readings: [1, 1.5],
      address: { city: 'Oslo' }, counters: new Map([['k', 1]]),
    });
    const raw = await local.connection.db.collection('specimens').findOne({ _id: saved._id }, { raw: true });
    const expected = EJSON.stringify(BSON.deserialize(raw, { promoteValues: false, promoteLongs: false }), { relaxed: false });
    const result = await running.client.aggregate.decode({
      model: 'Specimen', source: { mongo: { uri: ferret.url, database: 'heavylift_test' } },
    });
    assert.equal(result.recordsRejected, 0, JSON.stringify(result.violations));
    assertSameRecord(result.records[0], expected, 'specimen read back through FerretDB');
  });

  test('filtered aggregation with parallel cursors equals JavaScript', async () => {
    const result = await running.client.aggregate.run({
      model: 'Event',
      source: { mongo: { uri: ferret.url, database: 'heavylift_test', filter: { type: { $in: ['click', 'view'] } }, partitions: 3 } },
      groupBy: ['type'],
      aggregates: [{ kind: 'count', name: 'count' }, { kind: 'sum', field: 'quantity', name: 'quantity' }],
    });
    for (const type of ['click', 'view']) {
      const members = events.filter((event) => event.type === type);
      const group = result.groups.find((candidate) => candidate.keys[0] === type);
      assert.ok(group, `group ${type}`);
      assert.equal(group.count, members.length, `${type} count`);
      assert.equal(group.values.quantity, members.reduce((total, event) => total + event.quantity, 0), `${type} quantity`);
    }
    assert.equal(result.groups.length, 2);
  });
});
