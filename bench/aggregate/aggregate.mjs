// Aggregation benchmark: events (user, type, amount, timestamp) grouped by
// type and day with count, sum, mean, stddev and exact p50/p90/p99.
//   (a) heavylift's in-memory core on typed columns (heavylift_microbench)
//       vs DuckDB (@duckdb/node-api) vs JavaScript over an array of objects
//   (b) end to end from PostgreSQL: heavylift reading the table vs Node
//       reading it with node-postgres and aggregating in JavaScript;
//       and from FerretDB: heavylift reading the collection vs Node reading
//       it with Mongoose (lean) and aggregating in JavaScript
//   (c) BSON decoding with a projection, documents/s on one core, vs js-bson
// Sizes: BENCH_CORE_ROWS (default 10,000,000), BENCH_PG_ROWS (1,000,000),
// BENCH_MONGO_ROWS (1,000,000); BENCH_MONGO_PARTITIONS (1) cursors for FerretDB.
// Run: node bench/aggregate/aggregate.mjs (after make build and npm ci in bench/).
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { DuckDBInstance } from '@duckdb/node-api';
import { BSON, Double, Int32, ObjectId } from 'bson';
import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';
import pg from 'pg';

import { FerretServer } from '../../tests/e2e/lib/ferretdb.mjs';
import { PostgresServer } from '../../tests/e2e/lib/postgres.mjs';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = process.env.HEAVYLIFT_BUILD ?? path.join(REPO, 'build', 'release');
const CORE_ROWS = Number(process.env.BENCH_CORE_ROWS ?? 10_000_000);
const PG_ROWS = Number(process.env.BENCH_PG_ROWS ?? 1_000_000);
const MONGO_ROWS = Number(process.env.BENCH_MONGO_ROWS ?? 1_000_000);
// One cursor by default: with 2 cursors over 200,000 documents FerretDB 1.24 (SQLite) spent
// 39 s of CPU against 10 s with one, and the request took 4.6 times as long.
const MONGO_PARTITIONS = Number(process.env.BENCH_MONGO_PARTITIONS ?? 1);
// Mongoose comes from the e2e tests' dependencies, as FerretServer does.
const mongoose = createRequire(path.join(REPO, 'tests', 'e2e', 'package.json'))('mongoose');
const TYPES = ['view', 'click', 'purchase', 'refund'];
const DAY_MS = 86_400_000;
const START_MS = 1_700_000_000_000;

function quantile(sorted, q) {
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const fraction = position - lower;
  return fraction === 0 ? sorted[lower] : sorted[lower] + (sorted[lower + 1] - sorted[lower]) * fraction;
}

// The JavaScript way: one pass into a Map of arrays, then sort per group.
function aggregateInJs(rows) {
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.type}|${Math.floor(row.at / DAY_MS)}`;
    let amounts = groups.get(key);
    if (!amounts) groups.set(key, (amounts = []));
    amounts.push(row.amount);
  }
  const out = [];
  for (const [key, amounts] of groups) {
    amounts.sort((a, b) => a - b);
    const n = amounts.length;
    let sum = 0;
    for (const value of amounts) sum += value;
    const mean = sum / n;
    let squares = 0;
    for (const value of amounts) squares += (value - mean) ** 2;
    out.push({ key, n, sum, mean, stddev: Math.sqrt(squares / (n - 1)), p: [0.5, 0.9, 0.99].map((q) => quantile(amounts, q)) });
  }
  return out;
}

function makeRows(count) {
  const rows = new Array(count);
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < count; i += 1) {
    rows[i] = { user: i % 5000, type: TYPES[Math.floor(random() * 4)], amount: Math.floor(random() * 1e6) / 100, at: START_MS + Math.floor(random() * 30 * DAY_MS) };
  }
  return rows;
}

// Wall time and this process's CPU time (every thread) of `fn`. The machine
// is shared, so CPU time is the steadier number.
async function timed(fn) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const value = await fn();
  const used = process.cpuUsage(cpu);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpuSeconds: (used.user + used.system) / 1e6, value };
}

// CPU seconds (user + system) the process `pid` has used so far.
async function processCpuSeconds(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// Resets the peak RSS (VmHWM) of the process `pid` to its current RSS, by
// writing 5 to /proc/PID/clear_refs, and returns that RSS in KiB. The peak read
// after a request minus this value is the memory the request used.
async function startPeakRss(pid) {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))[1]);
}

// The peak RSS (VmHWM) of the process `pid` in KiB.
async function peakRssKb(pid) {
  return Number(/VmHWM:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))[1]);
}

async function microbench(filter, env = {}) {
  const { stdout } = await run(path.join(BUILD, 'heavylift_microbench'), [`--benchmark_filter=${filter}`, '--benchmark_format=json'], {
    env: { ...process.env, ...env },
    maxBuffer: 1 << 24,
  });
  const result = JSON.parse(stdout).benchmarks[0];
  return { wallSeconds: result.real_time / 1000, cpuSeconds: result.cpu_time / 1000, itemsPerSecond: result.items_per_second };
}

const results = {};
const line = (text) => console.log(text);

// --- (a) the in-memory core ---------------------------------------------------------
line(`(a) ${CORE_ROWS.toLocaleString()} rows, group by type and day: count, sum, mean, stddev, p50/p90/p99`);
const core = await microbench('BM_AggregateCore', { HEAVYLIFT_BENCH_ROWS: String(CORE_ROWS) });
line(`  heavylift core   wall ${core.wallSeconds.toFixed(3)} s   cpu ${core.cpuSeconds.toFixed(3)} s   (single thread)`);

const duck = await DuckDBInstance.create(':memory:');
const connection = await duck.connect();
await connection.run(`CREATE TABLE events AS SELECT (i % 5000)::INTEGER AS "user", ['view','click','purchase','refund'][1 + (random() * 4)::INTEGER % 4] AS type,
  floor(random() * 1e6) / 100 AS amount, to_timestamp(${START_MS / 1000} + random() * 30 * 86400) AS "at" FROM range(${CORE_ROWS}) t(i)`);
const duckQuery = `SELECT type, date_trunc('day', "at") AS day, count(*), sum(amount), avg(amount), stddev_samp(amount),
  quantile_cont(amount, [0.5, 0.9, 0.99]) FROM events GROUP BY ALL`;
const duckRun = await timed(() => connection.runAndReadAll(duckQuery));
line(`  DuckDB           wall ${duckRun.seconds.toFixed(3)} s   cpu ${duckRun.cpuSeconds.toFixed(3)} s   (${os.cpus().length} threads)`);
connection.closeSync?.();

const rows = makeRows(CORE_ROWS);
const jsRun = await timed(() => aggregateInJs(rows));
line(`  JavaScript       wall ${jsRun.seconds.toFixed(3)} s   cpu ${jsRun.cpuSeconds.toFixed(3)} s   (${jsRun.value.length} groups)`);
line(`  ratio (wall): heavylift ${(duckRun.seconds / core.wallSeconds).toFixed(2)}x DuckDB, ${(jsRun.seconds / core.wallSeconds).toFixed(1)}x JavaScript`);
line(`  ratio (cpu):  heavylift ${(duckRun.cpuSeconds / core.cpuSeconds).toFixed(2)}x DuckDB, ${(jsRun.cpuSeconds / core.cpuSeconds).toFixed(1)}x JavaScript`);
results.core = { rows: CORE_ROWS, heavylift: core, duckdb: { wallSeconds: duckRun.seconds, cpuSeconds: duckRun.cpuSeconds },
  javascript: { wallSeconds: jsRun.seconds, cpuSeconds: jsRun.cpuSeconds } };
rows.length = 0;

// --- (b) end to end ---------------------------------------------------------------------
line(`\n(b) end to end, ${PG_ROWS.toLocaleString()} rows from PostgreSQL 15`);
const daemon = await startDaemon({ bin: path.join(BUILD, 'heavylift'), args: ['--schema-file', path.join(REPO, 'schema', 'gen', 'schema.json')] });
const client = createClient({ address: daemon.grpcAddress, deadlineMs: 600_000 });
const postgres = await PostgresServer.start();
try {
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  await db.query(await readFile(path.join(REPO, 'schema', 'gen', 'tables.sql'), 'utf8'));
  await db.query(`INSERT INTO events SELECT lpad(to_hex(i), 24, '0'), lpad(to_hex(i % 5000), 24, '0'),
    (ARRAY['view','click','purchase','refund'])[1 + i % 4], floor(random() * 1e6) / 100, 1 + i % 9,
    to_timestamp(${START_MS / 1000} + random() * 30 * 86400) FROM generate_series(1, ${PG_ROWS}) i`);
  const request = {
    model: 'Event',
    source: { postgres: { conninfo: postgres.url } },
    groupBy: ['type', { field: 'at', bucket: 'day' }],
    aggregates: [{ kind: 'count' }, { kind: 'sum', field: 'amount' }, { kind: 'mean', field: 'amount' },
      { kind: 'stddev', field: 'amount' }, { kind: 'quantiles', field: 'amount', quantiles: [0.5, 0.9, 0.99] }],
  };
  const daemonRssBeforeKb = await startPeakRss(daemon.process.pid);
  const daemonCpuBefore = await processCpuSeconds(daemon.process.pid);
  const heavy = await timed(() => client.aggregate.run(request));
  const daemonCpu = (await processCpuSeconds(daemon.process.pid)) - daemonCpuBefore;
  const daemonPeakKb = await peakRssKb(daemon.process.pid);
  const bytesPerRow = ((daemonPeakKb - daemonRssBeforeKb) * 1024) / PG_ROWS;
  line(`  heavylift   wall ${heavy.seconds.toFixed(3)} s   ${(PG_ROWS / heavy.seconds / 1e6).toFixed(2)}M rows/s   daemon cpu ${daemonCpu.toFixed(2)} s   daemon peak RSS ${(daemonPeakKb / 1024).toFixed(0)} MiB (${bytesPerRow.toFixed(1)} bytes per row above the ${(daemonRssBeforeKb / 1024).toFixed(0)} MiB before the request)`);

  const rssBefore = process.memoryUsage().rss;
  const node = await timed(async () => {
    const { rows: fetched } = await db.query('SELECT "type", amount, (extract(epoch from "at") * 1000)::float8 AS at FROM events');
    return aggregateInJs(fetched);
  });
  const nodeRss = process.memoryUsage().rss - rssBefore;
  line(`  Node (pg)   wall ${node.seconds.toFixed(3)} s   ${(PG_ROWS / node.seconds / 1e6).toFixed(2)}M rows/s   node cpu ${node.cpuSeconds.toFixed(2)} s   RSS growth ${(nodeRss / 2 ** 20).toFixed(0)} MiB`);
  line(`  ratio (wall): heavylift ${(node.seconds / heavy.seconds).toFixed(1)}x Node; (cpu, daemon vs Node process): ${(node.cpuSeconds / daemonCpu).toFixed(1)}x`);
  results.postgres = { rows: PG_ROWS, heavyliftSeconds: heavy.seconds, daemonCpuSeconds: daemonCpu, nodeCpuSeconds: node.cpuSeconds, daemonPeakRssKb: daemonPeakKb, daemonRssBeforeKb, daemonBytesPerRow: bytesPerRow, nodeSeconds: node.seconds, nodeRssGrowthBytes: nodeRss };
  await db.end();
} finally {
  await postgres.stop();
}

line(`\n(b) end to end, ${MONGO_ROWS.toLocaleString()} documents from FerretDB (SQLite backend)`);
const ferret = await FerretServer.start();
try {
  const connection = await mongoose.createConnection(ferret.url, { dbName: 'bench' }).asPromise();
  const Event = connection.model('Event', new mongoose.Schema({ user: mongoose.Schema.Types.ObjectId, type: String,
    amount: Number, quantity: Number, at: Date }, { versionKey: false }), 'events');
  const loadStart = process.hrtime.bigint();
  for (let start = 0; start < MONGO_ROWS; start += 10_000) {
    const batch = [];
    for (let i = start; i < Math.min(MONGO_ROWS, start + 10_000); i += 1) {
      batch.push({ user: new mongoose.Types.ObjectId(), type: TYPES[i % 4], amount: new mongoose.mongo.Double((i % 100_000) / 100 + 0.5),
        quantity: i % 9, at: new Date(START_MS + ((i * 7919) % (30 * DAY_MS))) });
    }
    await Event.collection.insertMany(batch, { ordered: false });
  }
  line(`  loaded in ${(Number(process.hrtime.bigint() - loadStart) / 1e9).toFixed(1)} s`);
  const request = {
    model: 'Event',
    source: { mongo: { uri: ferret.url, database: 'bench', partitions: MONGO_PARTITIONS } },
    groupBy: ['type', { field: 'at', bucket: 'day' }],
    aggregates: [{ kind: 'count' }, { kind: 'sum', field: 'amount' }, { kind: 'mean', field: 'amount' },
      { kind: 'stddev', field: 'amount' }, { kind: 'quantiles', field: 'amount', quantiles: [0.5, 0.9, 0.99] }],
  };
  const daemonRssBeforeKb = await startPeakRss(daemon.process.pid);
  const daemonCpuBefore = await processCpuSeconds(daemon.process.pid);
  const ferretCpuBefore = await processCpuSeconds(ferret.process.pid);
  const heavy = await timed(() => client.aggregate.run(request));
  const daemonCpu = (await processCpuSeconds(daemon.process.pid)) - daemonCpuBefore;
  const heavyFerretCpu = (await processCpuSeconds(ferret.process.pid)) - ferretCpuBefore;
  const daemonPeakKb = await peakRssKb(daemon.process.pid);
  const bytesPerRow = ((daemonPeakKb - daemonRssBeforeKb) * 1024) / MONGO_ROWS;
  line(`  heavylift   wall ${heavy.seconds.toFixed(3)} s   ${(MONGO_ROWS / heavy.seconds / 1e6).toFixed(2)}M documents/s   daemon cpu ${daemonCpu.toFixed(2)} s   FerretDB cpu ${heavyFerretCpu.toFixed(2)} s   (${heavy.value.recordsRead} read)`);
  line(`              daemon peak RSS ${(daemonPeakKb / 1024).toFixed(0)} MiB (${bytesPerRow.toFixed(1)} bytes per document above the ${(daemonRssBeforeKb / 1024).toFixed(0)} MiB before the request)`);
  const nodeFerretBefore = await processCpuSeconds(ferret.process.pid);
  const node = await timed(async () => {
    const fetched = await Event.find({}, { type: 1, amount: 1, at: 1, _id: 0 }).lean();
    return aggregateInJs(fetched.map((row) => ({ type: row.type, amount: row.amount, at: row.at.getTime() })));
  });
  const nodeFerretCpu = (await processCpuSeconds(ferret.process.pid)) - nodeFerretBefore;
  line(`  Node (Mongoose lean)   wall ${node.seconds.toFixed(3)} s   node cpu ${node.cpuSeconds.toFixed(2)} s   FerretDB cpu ${nodeFerretCpu.toFixed(2)} s`);
  line(`  ratio (wall): heavylift ${(node.seconds / heavy.seconds).toFixed(1)}x Node; (cpu, daemon vs Node process): ${(node.cpuSeconds / daemonCpu).toFixed(1)}x`);
  results.ferretdb = { rows: MONGO_ROWS, heavyliftSeconds: heavy.seconds, daemonCpuSeconds: daemonCpu, ferretCpuForHeavylift: heavyFerretCpu,
    daemonPeakRssKb: daemonPeakKb, daemonRssBeforeKb, daemonBytesPerRow: bytesPerRow,
    nodeSeconds: node.seconds, nodeCpuSeconds: node.cpuSeconds, ferretCpuForNode: nodeFerretCpu };
  await connection.close();
} finally {
  await ferret.stop();
}
client.close();
await daemon.stop();

// --- (c) BSON decoding ------------------------------------------------------------------
line('\n(c) BSON decode of event documents keeping type, amount and at, one core');
const tree = await microbench('BM_BsonDecodeProjected');
const decode = await microbench('BM_BsonDecodeColumns');
const treeDocsPerCore = 100_000 / tree.cpuSeconds;
const docsPerCore = 100_000 / decode.cpuSeconds;
const documents = [];
for (let i = 0; i < 100_000; i += 1) {
  documents.push(BSON.serialize({ _id: new ObjectId(), user: new ObjectId(), type: TYPES[i % 4], amount: new Double(i / 100), quantity: new Int32(i % 10), at: new Date(START_MS + i) }));
}
const jsDecode = await timed(() => {
  let total = 0;
  for (const bytes of documents) total += BSON.deserialize(bytes).amount;
  return total;
});
const jsDocsPerSecond = documents.length / jsDecode.cpuSeconds;
line(`  heavylift   ${(docsPerCore / 1e6).toFixed(2)}M documents/s per core (cpu time; into typed columns)`);
line(`  heavylift   ${(treeDocsPerCore / 1e6).toFixed(2)}M documents/s per core (cpu time; into a value tree, as aggregate.decode does)`);
line(`  js-bson     ${(jsDocsPerSecond / 1e6).toFixed(2)}M documents/s per core (cpu time; BSON.deserialize of whole documents, cpu ${jsDecode.cpuSeconds.toFixed(3)} s, wall ${jsDecode.seconds.toFixed(3)} s)`);
line(`  ratio: ${(docsPerCore / jsDocsPerSecond).toFixed(1)}x`);
results.decode = { heavyliftDocsPerCoreSecond: docsPerCore, treeDocsPerCoreSecond: treeDocsPerCore, jsBsonDocsPerSecond: jsDocsPerSecond };

console.log(`\n${JSON.stringify(results)}`);
