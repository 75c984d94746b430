// Time buckets in IANA time zones and moving windows over them, checked
// against Intl.DateTimeFormat (ICU's own time zone data, independent of the
// daemon's) on events around the daylight-saving transitions of 2024.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { InvalidArgumentError } from 'heavylift';

import { useDaemon } from '../lib/helpers.mjs';
import { assertClose, EVENT_TYPES, eventToBson, SCHEMA_FILE, seededRandom } from '../lib/records.mjs';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// Around the spring and autumn transitions of Europe and the United States.
const RANGES = [
  [Date.UTC(2024, 2, 1), Date.UTC(2024, 3, 8)],
  [Date.UTC(2024, 9, 18), Date.UTC(2024, 10, 12)],
];
const EVENT_COUNT = process.env.HEAVYLIFT_E2E_SANITIZED ? 2_000 : 8_000;

function makeEvents(count) {
  const random = seededRandom(11);
  const events = [];
  for (let i = 0; i < count; i += 1) {
    const [start, end] = RANGES[i % 2];
    events.push({
      id: (0x66000000 + i).toString(16).padStart(8, '0') + i.toString(16).padStart(16, '0'),
      user: Math.floor(random() * 50).toString(16).padStart(24, '0'),
      type: EVENT_TYPES[Math.floor(random() * 2)],
      amount: Math.round(random() * 10000) / 100,
      quantity: 1 + Math.floor(random() * 9),
      at: start + Math.floor(random() * (end - start)),
    });
  }
  return events;
}


// The local calendar fields of `ms` in `timeZone`, by ICU.
function localParts(ms, timeZone) {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    weekday: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map(({ type, value }) => [type, value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    dayNumber: Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)) / DAY_MS,
    time: `${parts.hour}:${parts.minute}:${parts.second}`,
    weekday: parts.weekday,
    day: parts.day,
  };
}

const events = makeEvents(EVENT_COUNT);
const documents = events.map(eventToBson);

describe('aggregate: IANA time zones', () => {
  const running = useDaemon(['--schema-file', SCHEMA_FILE], { deadlineMs: 60_000 });

  for (const timeZone of ['Europe/Berlin', 'America/New_York']) {
    test(`day buckets in ${timeZone} start at local midnight and hold that local day`, async () => {
      const result = await running.client.aggregate.run({
        model: 'Event',
        source: { documents },
        groupBy: [{ field: 'at', bucket: 'day', timeZone }],
        aggregates: [{ kind: 'count', name: 'count' }],
      });
      const expected = new Map();
      for (const event of events) {
        const { date } = localParts(event.at, timeZone);
        expected.set(date, (expected.get(date) ?? 0) + 1);
      }
      assert.equal(result.groups.length, expected.size);
      const lengths = new Set();
      for (const [index, group] of result.groups.entries()) {
        const start = group.keys[0].getTime();
        const local = localParts(start, timeZone);
        assert.equal(local.time, '00:00:00', `bucket ${new Date(start).toISOString()} starts at local midnight`);
        assert.equal(group.count, expected.get(local.date), `records of ${local.date}`);
        const next = result.groups[index + 1]?.keys[0].getTime();
        if (next !== undefined && localParts(next, timeZone).dayNumber === local.dayNumber + 1) lengths.add((next - start) / HOUR_MS);
      }
      // The days that start and end daylight saving time are in the data.
      assert.deepEqual([...lengths].sort((a, b) => a - b), [23, 24, 25]);
    });
  }

  test('week buckets start on local Monday midnight, month buckets on the 1st', async () => {
    const timeZone = 'Europe/Berlin';
    for (const [bucket, check] of [
      ['week', (local) => assert.equal(local.weekday, 'Mon')],
      ['month', (local) => assert.equal(local.day, '01')],
    ]) {
      const result = await running.client.aggregate.run({
        model: 'Event',
        source: { documents },
        groupBy: [{ field: 'at', bucket, timeZone }],
        aggregates: [{ kind: 'count', name: 'count' }],
      });
      let total = 0;
      for (const group of result.groups) {
        const local = localParts(group.keys[0].getTime(), timeZone);
        assert.equal(local.time, '00:00:00');
        check(local);
        total += group.count;
      }
      assert.equal(total, events.length);
    }
  });

  test('an unknown zone name fails with INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(
      running.client.aggregate.run({
        model: 'Event',
        source: { documents },
        groupBy: [{ field: 'at', bucket: 'day', timeZone: 'Europe/Atlantis' }],
        aggregates: [{ kind: 'count' }],
      }),
      (error) => error instanceof InvalidArgumentError && error.protoField === 'group_by[0].bucket.time_zone' && /Europe\/Atlantis/.test(error.message),
    );
  });

  test('a 7-day moving sum, mean and stddev per type over Berlin days equals a JavaScript reference', async () => {
    const timeZone = 'Europe/Berlin';
    const result = await running.client.aggregate.run({
      model: 'Event',
      source: { documents },
      groupBy: ['type', { field: 'at', bucket: 'day', timeZone }],
      aggregates: [
        { kind: 'count', name: 'count' },
        { kind: 'sum', field: 'amount', name: 'sum' },
        { kind: 'mean', field: 'amount', name: 'mean' },
        { kind: 'stddev', field: 'amount', name: 'stddev' },
        { kind: 'max', field: 'amount', name: 'max' },
      ],
      moving: { buckets: 7 },
    });
    assert.ok(result.groups.length > 50);
    const dayNumbers = events.map((event) => localParts(event.at, timeZone).dayNumber);
    for (const group of result.groups) {
      const [type, day] = group.keys;
      const last = localParts(day.getTime(), timeZone).dayNumber;
      const amounts = events
        .filter((event, index) => event.type === type && dayNumbers[index] > last - 7 && dayNumbers[index] <= last)
        .map((event) => event.amount);
      const sum = amounts.reduce((total, value) => total + value, 0);
      const mean = sum / amounts.length;
      const stddev = Math.sqrt(amounts.reduce((total, value) => total + (value - mean) ** 2, 0) / (amounts.length - 1));
      assert.ok(group.moving, 'the group has moving values');
      assert.equal(group.moving.count, amounts.length);
      assert.equal(group.moving.values.count, amounts.length);
      assertClose(group.moving.values.sum, sum, 1e-9, 'moving sum');
      assertClose(group.moving.values.mean, mean, 1e-9, 'moving mean');
      assertClose(group.moving.values.stddev, stddev, 1e-9, 'moving stddev');
      assert.equal(group.moving.values.max, Math.max(...amounts));
      assert.deepEqual(Object.keys(group.values), ['count', 'sum', 'mean', 'stddev', 'max']);
    }
  });

  test('a moving window over an aggregate it cannot combine fails naming it', async () => {
    await assert.rejects(
      running.client.aggregate.run({
        model: 'Event',
        source: { documents },
        groupBy: [{ field: 'at', bucket: 'day', timeZone: 'Europe/Berlin' }],
        aggregates: [{ kind: 'sum', field: 'amount' }, { kind: 'quantiles', field: 'amount', quantiles: [0.5] }],
        moving: { buckets: 7 },
      }),
      (error) => error instanceof InvalidArgumentError && error.protoField === 'aggregates[1].kind',
    );
    await assert.rejects(
      running.client.aggregate.run({
        model: 'Event',
        source: { documents },
        groupBy: [{ field: 'at', bucket: 'day' }],
        aggregates: [{ kind: 'sum', field: 'amount' }],
        moving: { buckets: 5000 },
      }),
      (error) => error instanceof InvalidArgumentError && error.protoField === 'moving.buckets' && /5000/.test(error.message),
    );
  });
});
