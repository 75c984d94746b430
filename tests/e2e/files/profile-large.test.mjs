// A large CSV profile against a reference computed while the file is written: the expected
// profile comes from the values the generator writes, not from a second CSV parser. The file has a byte order mark, CRLF line ends,
// quoted fields with commas, doubled quotes and line breaks, empty values and short rows. It
// is profiled by path and by a streamed upload, and both profiles must match the reference.
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, mkdtempSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { useDaemon } from '../lib/helpers.mjs';

const MiB = 1 << 20;
const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';
// 1 GiB on the release daemon; HEAVYLIFT_E2E_PROFILE_BYTES overrides.
const PROFILE_BYTES = Number(process.env.HEAVYLIFT_E2E_PROFILE_BYTES ?? (SANITIZED ? 48 * MiB : 1024 * MiB));
// Every this many rows, one leaves out its last field.
const SHORT_ROW_EVERY = 100_003;
// The HyperLogLog estimate has about 0.8 % standard error, so 4 % is five standard errors.
const DISTINCT_TOLERANCE = 0.04;

const CITIES = [
  ...Array.from({ length: 36 }, (_, index) => `city${index}`),
  'Rio, BR',
  'Say "Hi"',
  'Zürich',
  'São Paulo, BR',
];

// Formats one field as a CSV writer would: quoted when it contains a comma, a quote or a line
// break, with quotes doubled.
function csvField(value) {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

// The expected profile of one column, collected from the values written.
class ExpectedColumn {
  constructor(name) {
    this.name = name;
    this.count = 0;
    this.nullCount = 0;
    this.min = undefined;
    this.max = undefined;
    this.sum = 0;
    this.numeric = 0;
    this.distinct = new Set();
    this.counts = new Map();
  }

  // Adds a non-numeric value. JavaScript compares strings by UTF-16 code units, which orders
  // text without surrogate pairs (all of it here) the same as its UTF-8 bytes.
  addText(text, { countValues = false } = {}) {
    this.count += 1;
    if (text === '') {
      this.nullCount += 1;
      return;
    }
    if (this.min === undefined || text < this.min) this.min = text;
    if (this.max === undefined || text > this.max) this.max = text;
    this.distinct.add(text);
    if (countValues) this.counts.set(text, (this.counts.get(text) ?? 0) + 1);
  }

  // Adds a numeric value, or null when `value` is undefined. The caller counts distinct
  // numbers, by the small integers they are made from.
  addNumber(value) {
    this.count += 1;
    if (value === undefined) {
      this.nullCount += 1;
      return;
    }
    this.min = this.min === undefined ? value : Math.min(this.min, value);
    this.max = this.max === undefined ? value : Math.max(this.max, value);
    this.sum += value;
    this.numeric += 1;
  }

  addMissing() {
    this.nullCount += 1;
  }
}

// Writes about `total` bytes of CSV to `file` and returns the expected profile: rows, the
// expected columns, and the line and id of each short row.
async function writeCsv(file, total) {
  const columns = {
    id: new ExpectedColumn('id'),
    amount: new ExpectedColumn('amount'),
    city: new ExpectedColumn('city'),
    day: new ExpectedColumn('day'),
    active: new ExpectedColumn('active'),
    comment: new ExpectedColumn('comment'),
  };
  const shortRows = [];
  // An amount is (cents - 1_000_000) / 100 for cents in 0..2_000_000.
  const amountSeen = new Uint8Array(2_000_001);
  let amountDistinct = 0;
  const out = createWriteStream(file);
  let written = 0;
  let rows = 0;
  // Line 1 is the header. A row starts on `line` and adds its own line breaks.
  let line = 2;
  let state = 7;
  let batch = '\uFEFFid,amount,city,day,active,comment\r\n';
  while (written < total) {
    for (let i = 0; i < 5000; i += 1) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      rows += 1;
      const id = rows;
      const cents = (state >>> 3) % 2_000_001;
      const amount = state % 101 === 0 ? undefined : (cents - 1_000_000) / 100;
      const city = CITIES[(state >>> 5) % CITIES.length];
      const day = `2024-${String(((state >>> 7) % 12) + 1).padStart(2, '0')}-${String(((state >>> 11) % 28) + 1).padStart(2, '0')}`;
      const active = ['true', 'false', 'TRUE'][(state >>> 13) % 3];
      const kind = (state >>> 17) % 5;
      const comment =
        kind === 0
          ? ''
          : kind === 1
            ? `line one\nline ${(state >>> 19) % 100}`
            : kind === 2
              ? `quote "${(state >>> 19) % 50}" here`
              : `note ${(state >>> 19) % 1000}`;
      const short = rows % SHORT_ROW_EVERY === 0;

      columns.id.addNumber(id);
      columns.amount.addNumber(amount);
      if (amount !== undefined && amountSeen[cents] === 0) {
        amountSeen[cents] = 1;
        amountDistinct += 1;
      }
      columns.city.addText(city, { countValues: true });
      columns.day.addText(day);
      columns.active.addText(active, { countValues: true });
      const fields = [String(id), amount === undefined ? '' : String(amount), csvField(city), day, active];
      if (short) {
        columns.comment.addMissing();
        shortRows.push({ line, id });
      } else {
        columns.comment.addText(comment);
        fields.push(csvField(comment));
      }
      const record = `${fields.join(',')}\r\n`;
      // Only a written comment of kind 1 has a line break.
      line += !short && kind === 1 ? 2 : 1;
      batch += record;
    }
    written += Buffer.byteLength(batch);
    if (!out.write(batch)) await new Promise((resolve) => out.once('drain', resolve));
    batch = '';
  }
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
  return { rows, columns, shortRows, amountDistinct };
}

function assertDistinct(actual, exact, name) {
  const error = Math.abs(actual - exact) / exact;
  assert.ok(error <= DISTINCT_TOLERANCE, `${name}: distinct estimate ${actual}, exact ${exact}`);
}

// Checks that the reported top values are the exact most frequent values, most frequent
// first and ties by value, as the column has fewer distinct values than counters.
function assertTopValues(actual, counts, name) {
  const expected = [...counts]
    .sort(([a, countA], [b, countB]) => countB - countA || Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .slice(0, actual.length)
    .map(([value, count]) => ({ value, count }));
  assert.ok(actual.length > 0, `${name}: no top values`);
  assert.deepEqual(actual, expected, `${name}: top values`);
}

function assertProfile(profile, expected, bytes) {
  const { columns } = expected;
  assert.equal(profile.bytes, bytes);
  assert.equal(profile.delimiter, ',');
  assert.equal(profile.rows, expected.rows);
  assert.deepEqual(
    profile.columns.map((column) => column.name),
    ['id', 'amount', 'city', 'day', 'active', 'comment'],
  );
  const byName = Object.fromEntries(profile.columns.map((column) => [column.name, column]));

  assert.equal(profile.badRowCount, expected.shortRows.length);
  assert.ok(profile.badRows.length > 0);
  profile.badRows.forEach((row, index) => {
    const short = expected.shortRows[index];
    assert.equal(row.line, short.line, `bad row ${index}: line`);
    assert.equal(row.reason, 'expected 6 fields, got 5');
    assert.ok(row.excerpt.startsWith(`${short.id},`), `bad row ${index}: excerpt ${JSON.stringify(row.excerpt)}`);
  });

  for (const name of Object.keys(columns)) {
    const actual = byName[name];
    const reference = columns[name];
    assert.equal(actual.count, reference.count, `${name}: count`);
    assert.equal(actual.nullCount, reference.nullCount, `${name}: nullCount`);
  }

  const id = byName.id;
  assert.equal(id.type, 'integer');
  assert.equal(id.min, '1');
  assert.equal(id.max, String(expected.rows));
  assert.equal(id.mean, (expected.rows + 1) / 2);
  assertDistinct(id.distinctEstimate, expected.rows, 'id');

  const amount = byName.amount;
  assert.equal(amount.type, 'number');
  assert.equal(amount.min, String(columns.amount.min));
  assert.equal(amount.max, String(columns.amount.max));
  const mean = columns.amount.sum / columns.amount.numeric;
  assert.ok(Math.abs(amount.mean - mean) <= 1e-9 * Math.max(1, Math.abs(mean)), `amount: mean ${amount.mean}, expected ${mean}`);
  assertDistinct(amount.distinctEstimate, expected.amountDistinct, 'amount');

  for (const [name, type] of [
    ['city', 'string'],
    ['day', 'timestamp'],
    ['active', 'boolean'],
    ['comment', 'string'],
  ]) {
    const actual = byName[name];
    const reference = columns[name];
    assert.equal(actual.type, type, `${name}: type`);
    assert.equal(actual.min, reference.min, `${name}: min`);
    assert.equal(actual.max, reference.max, `${name}: max`);
    assert.equal(actual.mean, undefined, `${name}: mean`);
    assertDistinct(actual.distinctEstimate, reference.distinct.size, name);
  }
  assertTopValues(byName.city.topValues, columns.city.counts, 'city');
  assertTopValues(byName.active.topValues, columns.active.counts, 'active');
}

describe('files large CSV profile', () => {
  const blobRoot = mkdtempSync(path.join(os.tmpdir(), 'heavylift-profile-e2e-'));
  const running = useDaemon(() => ['--blob-root', blobRoot, '--files-max-input-bytes', String(4 * 1024 * MiB)], {
    deadlineMs: 600_000,
  });
  after(async () => {
    await rm(blobRoot, { recursive: true, force: true });
  });

  test(`profile of ${PROFILE_BYTES / MiB} MiB CSV equals the reference`, async () => {
    const file = path.join(blobRoot, 'large.csv');
    const expected = await writeCsv(file, PROFILE_BYTES);
    const { size } = await stat(file);
    assert.ok(expected.shortRows.length > 0, 'the file has short rows');

    const byPath = await running.client.files.profileCsv({ path: 'large.csv' });
    assertProfile(byPath, expected, size);

    const uploaded = await running.client.files.upload(createReadStream(file), { profileCsv: true });
    assert.equal(uploaded.bytes, size);
    assert.deepEqual(uploaded.profile, byPath);
  });
});
