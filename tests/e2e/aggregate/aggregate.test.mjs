// AggregateService results against a plain JavaScript reference computed
// here on the same events, read from js-bson documents and from a
// PostgreSQL table; schema violations under both policies; limits.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { BSON, Double, Int32, ObjectId } from 'bson';
import { FailedPreconditionError, InvalidArgumentError, ResourceExhaustedError } from 'heavylift';
import pg from 'pg';

import { useDaemon } from '../lib/helpers.mjs';
import { PostgresServer } from '../lib/postgres.mjs';
import { assertClose, eventToBson, makeEvents, quantile, SCHEMA_FILE, TABLES_SQL } from '../lib/records.mjs';

const EVENT_COUNT = process.env.HEAVYLIFT_E2E_SANITIZED ? 4_000 : 20_000;
const DAY_MS = 86_400_000;
const QUANTILES = [0.5, 0.9, 0.99];
const BOUNDS = [10, 100, 500];

const AGGREGATES = [
  { kind: 'count', name: 'count' },
  { kind: 'sum', field: 'amount', name: 'sum' },
  { kind: 'mean', field: 'amount', name: 'mean' },
  { kind: 'min', field: 'amount', name: 'min' },
  { kind: 'max', field: 'amount', name: 'max' },
  { kind: 'stddev', field: 'amount', name: 'stddev' },
  { kind: 'quantiles', field: 'amount', quantiles: QUANTILES, name: 'q' },
  { kind: 'histogram', field: 'amount', bounds: BOUNDS, name: 'histogram' },
  { kind: 'distinctCount', field: 'user', name: 'users' },
  { kind: 'topK', field: 'quantity', k: 3, name: 'top' },
  { kind: 'correlation', field: 'amount', field2: 'quantity', name: 'r' },
];


// The reference: the same aggregates computed with plain JavaScript,
// keyed by "type|dayStart" for a day bucket at `offsetMs` east of UTC.
function reference(events, offsetMs) {
  const groups = new Map();
  for (const event of events) {
    const day = Math.floor((event.at + offsetMs) / DAY_MS) * DAY_MS - offsetMs;
    const key = `${event.type}|${day}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(event);
  }
  const out = new Map();
  for (const [key, members] of groups) {
    const amounts = members.map((event) => event.amount).sort((a, b) => a - b);
    const quantities = members.map((event) => event.quantity);
    const n = amounts.length;
    const sum = amounts.reduce((total, value) => total + value, 0);
    const mean = sum / n;
    const variance = amounts.reduce((total, value) => total + (value - mean) ** 2, 0) / (n - 1);
    const meanQuantity = quantities.reduce((total, value) => total + value, 0) / n;
    let covariance = 0;
    let quantityVariance = 0;
    members.forEach((event) => {
      covariance += (event.amount - mean) * (event.quantity - meanQuantity);
      quantityVariance += (event.quantity - meanQuantity) ** 2;
    });
    const histogram = new Array(BOUNDS.length + 1).fill(0);
    for (const amount of amounts) {
      const index = BOUNDS.findIndex((bound) => amount <= bound);
      histogram[index === -1 ? BOUNDS.length : index] += 1;
    }
    const counts = new Map();
    for (const quantity of quantities) counts.set(String(quantity), (counts.get(String(quantity)) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3)
      .map(([value, count]) => ({ value, count }));
    out.set(key, {
      count: n, sum, mean, min: amounts[0], max: amounts[n - 1],
      stddev: n > 1 ? Math.sqrt(variance) : NaN,
      q: QUANTILES.map((q) => quantile(amounts, q)),
      histogram,
      users: new Set(members.map((event) => event.user)).size,
      top,
      r: n > 1 ? covariance / Math.sqrt(variance * (n - 1) * quantityVariance) : NaN,
    });
  }
  return out;
}

function assertMatchesReference(result, expected) {
  assert.equal(result.groups.length, expected.size, 'number of groups');
  const distinctError = { estimated: 0, exact: 0 };
  for (const group of result.groups) {
    const [type, day] = group.keys;
    assert.ok(day instanceof Date, 'the day key is a Date');
    const key = `${type}|${day.getTime()}`;
    const want = expected.get(key);
    assert.ok(want, `unexpected group ${key}`);
    const got = group.values;
    assert.equal(group.count, want.count, `${key} count`);
    assert.equal(got.count, want.count, `${key} count aggregate`);
    assertClose(got.sum, want.sum, 1e-9, `${key} sum`);
    assertClose(got.mean, want.mean, 1e-9, `${key} mean`);
    assert.equal(got.min, want.min, `${key} min`);
    assert.equal(got.max, want.max, `${key} max`);
    if (Number.isNaN(want.stddev)) assert.ok(Number.isNaN(got.stddev), `${key} stddev of one value`);
    else assertClose(got.stddev, want.stddev, 1e-9, `${key} stddev`);
    got.q.forEach((value, index) => assertClose(value, want.q[index], 1e-12, `${key} quantile ${QUANTILES[index]}`));
    assert.deepEqual(got.histogram, want.histogram, `${key} histogram`);
    // HyperLogLog: at these small counts the error comes from register
    // collisions, which make the estimate low by a few values at most.
    assert.ok(Math.abs(got.users - want.users) <= Math.max(4, want.users * 0.05), `${key} distinct users ${got.users} vs ${want.users}`);
    distinctError.estimated += got.users;
    distinctError.exact += want.users;
    assert.deepEqual(got.top, want.top, `${key} top-k`);
    if (!Number.isNaN(want.r)) assertClose(got.r, want.r, 1e-9, `${key} correlation`);
  }
  // Summed over every group, the distinct counts are within 2% of exact.
  assertClose(distinctError.estimated, distinctError.exact, 0.02, 'total of distinct counts');
}

describe('aggregate: results equal a JavaScript reference', () => {
  const events = makeEvents(EVENT_COUNT, 7);
  const documents = events.map(eventToBson);
  let postgres;
  let client;
  before(async () => {
    postgres = await PostgresServer.start();
    client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await client.query(await readFile(TABLES_SQL, 'utf8'));
    // One multi-row INSERT per 1000 events.
    for (let start = 0; start < events.length; start += 1000) {
      const chunk = events.slice(start, start + 1000);
      const values = [];
      const rows = chunk.map((event, index) => {
        values.push(event.id, event.user, event.type, event.amount, event.quantity, new Date(event.at));
        const base = index * 6;
        return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6})`;
      });
      await client.query(`INSERT INTO events ("_id", "user", "type", amount, quantity, "at") VALUES ${rows.join(', ')}`, values);
    }
  });
  after(async () => {
    await client?.end();
    await postgres?.stop();
  });
  const running = useDaemon(['--schema-file', SCHEMA_FILE], { deadlineMs: 60_000 });

  test('inline BSON grouped by type and UTC day', async () => {
    const result = await running.client.aggregate.run({
      model: 'Event',
      source: { documents },
      groupBy: ['type', { field: 'at', bucket: 'day' }],
      aggregates: AGGREGATES,
    });
    assert.equal(result.recordsRead, events.length);
    assert.equal(result.recordsRejected, 0);
    assertMatchesReference(result, reference(events, 0));
  });

  test('PostgreSQL grouped by type and day at +05:30', async () => {
    const result = await running.client.aggregate.run({
      model: 'Event',
      source: { postgres: { conninfo: postgres.url } },
      groupBy: ['type', { field: 'at', bucket: 'day', timeZone: '+05:30' }],
      aggregates: AGGREGATES,
    });
    assert.equal(result.recordsRead, events.length);
    assertMatchesReference(result, reference(events, 5.5 * 3_600_000));
  });

  test('groups come in ascending key order', async () => {
    const result = await running.client.aggregate.run({
      model: 'Event', source: { documents }, groupBy: ['type'], aggregates: [{ kind: 'count' }],
    });
    assert.deepEqual(result.groups.map((group) => group.keys[0]), ['click', 'purchase', 'refund', 'view']);
  });

  test('result-size limit fails with RESOURCE_EXHAUSTED', async () => {
    await assert.rejects(
      running.client.aggregate.run({ model: 'Event', source: { documents }, groupBy: ['user'], aggregates: [{ kind: 'count' }], maxGroups: 10 }),
      (error) => {
        assert.ok(error instanceof ResourceExhaustedError, `${error.name}: ${error.message}`);
        assert.equal(error.protoField, 'max_groups');
        assert.equal(error.bound, '<= 10 groups');
        return true;
      },
    );
  });

  test('unknown field fails with INVALID_ARGUMENT naming it', async () => {
    await assert.rejects(
      running.client.aggregate.run({ model: 'Event', source: { documents }, aggregates: [{ kind: 'sum', field: 'amout' }] }),
      (error) => {
        assert.ok(error instanceof InvalidArgumentError, `${error.name}: ${error.message}`);
        assert.equal(error.protoField, 'aggregates[0].field');
        assert.match(error.message, /amout/);
        return true;
      },
    );
  });
});

describe('aggregate: records that break the schema', () => {
  const running = useDaemon(['--schema-file', SCHEMA_FILE]);
  const good = makeEvents(50, 3).map(eventToBson);
  const badId = new ObjectId('65f0a1b2c3d4e5f6000000bb');
  // Written as a raw driver would: amount as a string, quantity as a double.
  const bad = BSON.serialize({ _id: badId, user: new ObjectId(), type: 'view', amount: '12.5', quantity: new Double(2), at: new Date() });
  const badEnum = BSON.serialize({ _id: new ObjectId(), user: new ObjectId(), type: 'wave', amount: new Double(1), quantity: new Int32(1), at: new Date() });
  const documents = [...good.slice(0, 20), bad, ...good.slice(20), badEnum];

  test('continue policy skips, counts and reports them', async () => {
    const result = await running.client.aggregate.run({
      model: 'Event',
      source: { documents },
      groupBy: ['type'],
      aggregates: [{ kind: 'sum', field: 'amount', name: 'sum' }, { kind: 'sum', field: 'quantity', name: 'quantity' }],
    });
    assert.equal(result.recordsRead, 52);
    assert.equal(result.recordsRejected, 2);
    assert.equal(result.groups.reduce((total, group) => total + group.count, 0), 50);
    assert.deepEqual(result.violations.slice(0, 2), [
      { collection: 'events', id: badId.toHexString(), field: 'amount', expected: 'double', found: 'string "12.5"' },
      { collection: 'events', id: badId.toHexString(), field: 'quantity', expected: 'int32', found: 'double 2' },
    ]);
    assert.equal(result.violations.length, 3, JSON.stringify(result.violations));
    assert.equal(result.violations[2].field, 'type');
    assert.equal(result.violations[2].expected, 'one of view, click, purchase, refund');
  });

  test('stop policy fails with FAILED_PRECONDITION at the first one', async () => {
    await assert.rejects(
      running.client.aggregate.run({ model: 'Event', source: { documents }, onViolation: 'stop', aggregates: [{ kind: 'sum', field: 'amount' }] }),
      (error) => {
        assert.ok(error instanceof FailedPreconditionError, `${error.name}: ${error.message}`);
        assert.equal(error.protoField, 'amount');
        assert.match(error.message, new RegExp(`record ${badId.toHexString()} of events breaks the schema at field amount`));
        return true;
      },
    );
  });

  test('a corrupt document is reported, the daemon keeps serving', async () => {
    const corrupt = Buffer.from(good[0]);
    corrupt.writeInt32LE(9999, 0);
    const result = await running.client.aggregate.run({
      model: 'Event', source: { documents: [corrupt, good[1]] }, aggregates: [{ kind: 'count' }],
    });
    assert.equal(result.recordsRejected, 1);
    assert.equal(result.violations[0].expected, 'a well-formed BSON document');
    assert.equal(result.groups[0].count, 1);
  });
});
