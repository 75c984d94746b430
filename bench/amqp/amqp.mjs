// Benchmarks heavylift's AMQP worker against an amqplib consumer in Node doing
// the same work, both fed by the same amqplib request/reply client on a real
// rabbitmq-server: a no-op (testing.echo against a Node echo) and a JPEG
// thumbnail (image.thumbnail against sharp). Prints messages/s, p50 and p99
// of each side and the ratios. The two sides take turns in several rounds,
// so load from other processes on a shared machine falls on both alike.
// Usage: node bench/amqp/amqp.mjs (variables: BENCH_AMQP_NOOP_OPS,
// BENCH_AMQP_THUMBNAIL_OPS, BENCH_AMQP_NOOP_CONCURRENCY,
// BENCH_AMQP_THUMBNAIL_CONCURRENCY, BENCH_AMQP_PREFETCH, BENCH_AMQP_ROUNDS,
// BENCH_AMQP_EXECUTOR_THREADS, HEAVYLIFT_BIN).
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import amqplib from 'amqplib';
import { amqp } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

import { RabbitMqServer } from '../../tests/e2e/lib/rabbitmq.mjs';
import { formatRatio, formatTable } from '../lib/report.mjs';
import { quantile, runClosedLoop } from '../lib/run.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..', '..');
const env = process.env;
const NOOP_OPS = Number(env.BENCH_AMQP_NOOP_OPS ?? 20000);
const THUMBNAIL_OPS = Number(env.BENCH_AMQP_THUMBNAIL_OPS ?? 200);
const NOOP_CONCURRENCY = Number(env.BENCH_AMQP_NOOP_CONCURRENCY ?? 64);
const THUMBNAIL_CONCURRENCY = Number(env.BENCH_AMQP_THUMBNAIL_CONCURRENCY ?? 8);
const PREFETCH = Number(env.BENCH_AMQP_PREFETCH ?? 32);
const ROUNDS = Number(env.BENCH_AMQP_ROUNDS ?? 4);
// The daemon's executor threads. Unset, the daemon uses its default (one per core).
const EXECUTOR_THREADS = env.BENCH_AMQP_EXECUTOR_THREADS;
const PHOTOS_DIR = env.BENCH_PHOTOS ?? '/usr/share/backgrounds/mate';
const PHOTOS = ['nature/Dune.jpg', 'nature/Aqua.jpg', 'nature/Storm.jpg', 'nature/Wood.jpg'];
const WIDTH = 320;
const QUALITY = 80;
const MAX_SECONDS = 60;

// Request/reply over one confirm channel: each call publishes with a fresh
// correlation id and resolves when the reply with that id arrives.
async function makeRpc(connection, queue) {
  const channel = await connection.createConfirmChannel();
  const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
  const pending = new Map();
  await channel.consume(
    replyQueue,
    (message) => {
      const resolve = pending.get(message.properties.correlationId);
      pending.delete(message.properties.correlationId);
      resolve?.(message);
    },
    { noAck: true },
  );
  return (body, headers, contentType) =>
    new Promise((resolve, reject) => {
      const correlationId = randomUUID();
      pending.set(correlationId, (message) => {
        if (message.properties.headers['x-heavylift-status'] !== 'completed') {
          reject(new Error(`failed: ${message.properties.headers['x-heavylift-error']}`));
        } else {
          resolve(message.content);
        }
      });
      channel.sendToQueue(queue, body, { persistent: true, replyTo: replyQueue, correlationId, headers, contentType });
    });
}

// Totals of one side over its rounds: throughput from the summed time, and
// latency quantiles over every call of every round.
function newTotals(side) {
  return { side, ok: 0, failed: 0, seconds: 0, latenciesMs: [], firstErrors: [] };
}

async function runRound(totals, call, concurrency, ops) {
  const timed = async (i) => {
    const startMs = performance.now();
    await call(i);
    totals.latenciesMs.push(performance.now() - startMs);
  };
  const result = await runClosedLoop({ operation: timed, concurrency, maxOps: ops, maxSeconds: MAX_SECONDS });
  totals.ok += result.ok;
  totals.failed += result.failed;
  totals.seconds += result.elapsedSeconds;
  totals.firstErrors.push(...result.firstErrors.slice(0, 3 - totals.firstErrors.length));
}

function summarize(totals) {
  return {
    side: totals.side,
    ok: totals.ok,
    failed: totals.failed,
    perSecond: totals.ok / totals.seconds,
    p50: quantile(totals.latenciesMs, 0.5),
    p99: quantile(totals.latenciesMs, 0.99),
    firstErrors: totals.firstErrors,
  };
}

async function measure(title, heavyliftCall, nodeCall, ops, concurrency) {
  process.stdout.write(`${title}: warming up... `);
  for (let i = 0; i < 8; i += 1) {
    await heavyliftCall(i);
    await nodeCall(i);
  }
  const heavylift = newTotals('heavylift');
  const node = newTotals('amqplib + Node');
  const sides = [
    [heavylift, heavyliftCall],
    [node, nodeCall],
  ];
  for (let round = 0; round < ROUNDS; round += 1) {
    process.stdout.write(`round ${round + 1}/${ROUNDS}... `);
    // Alternate which side goes first, so neither always follows the other.
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const [totals, call] of order) await runRound(totals, call, concurrency, Math.ceil(ops / ROUNDS));
  }
  process.stdout.write('done\n');
  return { title, heavylift: summarize(heavylift), node: summarize(node) };
}

const loadAtStart = os.loadavg()[0];
const broker = await RabbitMqServer.start();
let daemon;
let worker;
let connection;
try {
  daemon = await startDaemon({
    bin: env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift'),
    args: [
      '--amqp-url', broker.url,
      '--amqp-queue', 'bench.heavylift',
      '--amqp-concurrency', String(PREFETCH),
      ...(EXECUTOR_THREADS ? ['--executor-threads', EXECUTOR_THREADS] : []),
      '--executor-queue-capacity', String(PREFETCH * 2),
      '--testing-tasks', 'true',
      '--blob-root', PHOTOS_DIR,
    ],
    timeoutMs: 30_000,
  });
  worker = new Worker(path.join(BENCH_DIR, 'node-consumer.mjs'), {
    workerData: { url: broker.url, queue: 'bench.node', prefetch: PREFETCH },
  });
  await once(worker, 'message');

  connection = await amqplib.connect(broker.url);
  const setup = await connection.createChannel();
  await amqp.assertTaskQueues(setup, { queue: 'bench.heavylift' });
  const heavyliftRpc = await makeRpc(connection, 'bench.heavylift');
  const nodeRpc = await makeRpc(connection, 'bench.node');

  const payload = Buffer.alloc(64, 'x');
  const echoHeaders = { 'x-heavylift-task': 'testing.echo' };
  const echoRequest = amqp.encodeTaskRequest('testing.echo', { payload });
  const noop = await measure(
    'no-op',
    () => heavyliftRpc(echoRequest, echoHeaders, 'application/x-protobuf'),
    () => nodeRpc(payload, echoHeaders, 'application/octet-stream'),
    NOOP_OPS,
    NOOP_CONCURRENCY,
  );

  const thumbnailHeaders = { 'x-heavylift-task': 'image.thumbnail' };
  const thumbnail = await measure(
    `thumbnail ${WIDTH}px`,
    (i) =>
      heavyliftRpc(
        amqp.encodeTaskRequest('image.thumbnail', {
          input: { source: { $case: 'path', path: PHOTOS[i % PHOTOS.length] } },
          widths: [WIDTH],
          quality: QUALITY,
        }),
        thumbnailHeaders,
        'application/x-protobuf',
      ),
    (i) =>
      nodeRpc(
        Buffer.from(JSON.stringify({ path: path.join(PHOTOS_DIR, PHOTOS[i % PHOTOS.length]), width: WIDTH, quality: QUALITY })),
        thumbnailHeaders,
        'application/json',
      ),
    THUMBNAIL_OPS,
    THUMBNAIL_CONCURRENCY,
  );

  const rows = [noop, thumbnail].flatMap((pair) => [
    { title: pair.title, ...pair.heavylift },
    { title: '', ...pair.node },
  ]);
  console.log(
    formatTable(
      [
        { header: 'workload', value: (row) => row.title },
        { header: 'consumer', value: (row) => row.side },
        { header: 'ok', value: (row) => row.ok, digits: 0 },
        { header: 'failed', value: (row) => row.failed, digits: 0 },
        { header: 'msg/s', value: (row) => row.perSecond, digits: 0 },
        { header: 'p50 ms', value: (row) => row.p50 },
        { header: 'p99 ms', value: (row) => row.p99 },
      ],
      rows,
    ),
  );
  for (const pair of [noop, thumbnail]) {
    console.log(
      `${pair.title}: heavylift/Node throughput ${formatRatio(pair.heavylift.perSecond, pair.node.perSecond)}, ` +
        `Node/heavylift p99 ${formatRatio(pair.node.p99, pair.heavylift.p99)}`,
    );
  }
  for (const pair of [noop, thumbnail]) {
    for (const side of [pair.heavylift, pair.node]) {
      if (side.failed > 0) console.log(`${pair.title} ${side.side} errors: ${JSON.stringify(side.firstErrors)}`);
    }
  }
  console.log(
    `machine: ${os.cpus().length} CPUs, load average ${loadAtStart.toFixed(2)} at the start and ` +
      `${os.loadavg()[0].toFixed(2)} at the end; ${ROUNDS} rounds per side, ${EXECUTOR_THREADS ?? 'default'} executor threads, ` +
      `prefetch ${PREFETCH} on both sides`,
  );
  process.exitCode = noop.heavylift.failed + noop.node.failed + thumbnail.heavylift.failed + thumbnail.node.failed > 0 ? 1 : 0;
} finally {
  await connection?.close().catch(() => {});
  if (worker) {
    worker.postMessage('close');
    await once(worker, 'message').catch(() => {});
    await worker.terminate();
  }
  await daemon?.stop();
  await broker.stop();
}
