// Benchmarks heavylift's BullMQ worker against a Node BullMQ Worker doing the
// same work on the same local Redis: no-op jobs and thumbnails (sharp on the
// Node side), jobs/s with a backlog and latency at a steady add rate. Also a
// Redis-only ceiling (the same Lua scripts called in a tight loop, no work)
// and the time until an in-flight job resumes after kill -9 and a restart.
// Usage: node bullmq/bench.mjs [--noop-jobs=5000 --thumbnail-jobs=200 ...]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import { Queue, QueueEvents, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { pack } from 'msgpackr';
import sharp from 'sharp';
import { startDaemon } from 'heavylift/testing';

import { formatRatio, formatTable } from '../lib/report.mjs';
import { quantile } from '../lib/run.mjs';
import { RedisServer } from '../../tests/e2e/lib/redis.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..', '..');
const PHOTO_ROOT = '/usr/share/backgrounds/mate';
const PHOTO = 'nature/Dune.jpg';

function readOptions() {
  const { values } = parseArgs({
    options: {
      'noop-jobs': { type: 'string', default: process.env.BENCH_BULLMQ_NOOP_JOBS ?? '5000' },
      'thumbnail-jobs': { type: 'string', default: process.env.BENCH_BULLMQ_THUMBNAIL_JOBS ?? '200' },
      concurrency: { type: 'string', default: process.env.BENCH_BULLMQ_CONCURRENCY ?? '16' },
      'latency-rate': { type: 'string', default: process.env.BENCH_BULLMQ_LATENCY_RATE ?? '100' },
      'latency-seconds': { type: 'string', default: process.env.BENCH_BULLMQ_LATENCY_SECONDS ?? '5' },
    },
  });
  return {
    noopJobs: Number(values['noop-jobs']),
    thumbnailJobs: Number(values['thumbnail-jobs']),
    concurrency: Number(values.concurrency),
    latencyRate: Number(values['latency-rate']),
    latencySeconds: Number(values['latency-seconds']),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let queueCounter = 0;
function newQueueName(label) {
  queueCounter += 1;
  return `bench-${label}-${queueCounter}`;
}

async function waitForCompleted(queue, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while ((await queue.getCompletedCount()) < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} completed jobs in ${queue.name}`);
    if ((await queue.getFailedCount()) > 0) {
      const [failed] = await queue.getFailed(0, 0);
      throw new Error(`a job failed in ${queue.name}: ${failed?.failedReason}`);
    }
    await sleep(25);
  }
}

/** Jobs/s over a backlog: `count` jobs added first, then the worker drains them. */
async function measureThroughput(connection, label, startWorker, job, count) {
  const queue = new Queue(newQueueName(label), { connection });
  for (let start = 0; start < count; start += 1000) {
    const size = Math.min(1000, count - start);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: job.name, data: job.data })));
  }
  const started = Date.now();
  const stop = await startWorker(queue.name);
  await waitForCompleted(queue, count, 600_000);
  const completed = await queue.getJobs(['completed'], 0, -1);
  await stop();
  const firstStart = Math.min(...completed.map((j) => j.processedOn));
  const lastFinish = Math.max(...completed.map((j) => j.finishedOn));
  await queue.obliterate({ force: true });
  await queue.close();
  return { jobsPerSecond: count / ((lastFinish - firstStart) / 1000), wallSeconds: (Date.now() - started) / 1000 };
}

/** Add-to-completed and add-to-start latency with jobs added one by one at `rate` per second. */
async function measureLatency(connection, label, startWorker, job, rate, seconds) {
  const queue = new Queue(newQueueName(label), { connection });
  const stop = await startWorker(queue.name);
  await sleep(500);
  const total = Math.round(rate * seconds);
  const begin = Date.now();
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    await queue.add(job.name, job.data);
  }
  await waitForCompleted(queue, total, 120_000);
  const completed = await queue.getJobs(['completed'], 0, -1);
  await stop();
  await queue.obliterate({ force: true });
  await queue.close();
  const toCompleted = completed.map((j) => j.finishedOn - j.timestamp);
  const toStart = completed.map((j) => j.processedOn - j.timestamp);
  return { p50: quantile(toCompleted, 0.5), p99: quantile(toCompleted, 0.99), startP99: quantile(toStart, 0.99) };
}

function heavyliftWorker(redis, concurrency) {
  return async (queueName) => {
    const daemon = await startDaemon({
      args: [
        '--testing-tasks', 'true', '--blob-root', PHOTO_ROOT,
        '--bullmq-redis-url', redis.url, '--bullmq-queue', queueName, '--bullmq-concurrency', String(concurrency),
      ],
    });
    return async () => {
      const exit = await daemon.stop();
      if (exit.code !== 0) throw new Error(`heavylift exited with ${JSON.stringify(exit)}:\n${daemon.logs()}`);
    };
  };
}

function nodeWorker(connection, concurrency, processor) {
  return async (queueName) => {
    const worker = new Worker(queueName, processor, { connection, concurrency });
    await worker.waitUntilReady();
    return () => worker.close();
  };
}

// The Node side of the same tasks.
const nodeEcho = async (job) => ({ payload: job.data.payload });
async function nodeThumbnail(job) {
  const file = path.join(PHOTO_ROOT, job.data.input.path);
  const { data, info } = await sharp(file).rotate().resize({ width: job.data.widths[0] }).jpeg({ quality: 80 }).toBuffer({ resolveWithObject: true });
  return { thumbnails: [{ width: info.width, height: info.height, format: 'IMAGE_FORMAT_JPEG', data: data.toString('base64') }] };
}

/**
 * The Redis-only ceiling: `concurrency` loops that each take a job with
 * moveToActive and finish it with moveToFinished (fetching the next job in
 * the same call, as bullmq does on a busy queue), doing no work in between.
 */
async function measureCeiling(connection, count, concurrency) {
  const require = createRequire(path.join(REPO_ROOT, 'sdk', 'node', 'package.json'));
  const scriptsDir = path.join(path.dirname(require.resolve('bullmq/package.json')), 'dist', 'cjs', 'scripts');
  const table = JSON.parse(await readFile(path.join(REPO_ROOT, 'server', 'src', 'jobs', 'redis_bullmq', 'bullmq_scripts.json'), 'utf8'));
  const load = (name, keys) => require(path.join(scriptsDir, `${name}-${keys}.js`))[name].content;

  const queue = new Queue(newQueueName('ceiling'), { connection });
  for (let start = 0; start < count; start += 1000) {
    const size = Math.min(1000, count - start);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: 'testing.echo', data: { payload: '' } })));
  }
  const prefix = `bull:${queue.name}:`;
  const keysFor = (name, jobId, target) => table.scripts[name].keys.map(([role]) =>
    role === 'job' ? prefix + jobId : role === 'finished' ? prefix + target : role === 'metrics' ? `${prefix}metrics:${target}` : prefix + role);
  const clients = Array.from({ length: concurrency }, () => new IORedis(connection));
  for (const client of clients) {
    client.defineCommand('moveToActive', { numberOfKeys: table.scripts.moveToActive.keys.length, lua: load('moveToActive', 11) });
    client.defineCommand('moveToFinished', { numberOfKeys: table.scripts.moveToFinished.keys.length, lua: load('moveToFinished', 14) });
  }

  let done = 0;
  const started = Date.now();
  await Promise.all(clients.map(async (client, index) => {
    const token = `ceiling-${index}`;
    let next = await client.moveToActive(...keysFor('moveToActive', '', ''), prefix, Date.now(), pack({ token, lockDuration: 30000, name: 'ceiling' }));
    while (next && next[0]) {
      const jobId = next[1];
      next = await client.moveToFinished(...keysFor('moveToFinished', jobId, 'completed'), jobId, Date.now(), 'returnvalue',
        '{"payload":""}', 'completed', '1', prefix,
        pack({ token, name: 'ceiling', keepJobs: { count: -1 }, lockDuration: 30000, attempts: 1, maxMetricsSize: '', fpof: false, idof: false, rdof: false }));
      done += 1;
    }
  }));
  const seconds = (Date.now() - started) / 1000;
  for (const client of clients) client.disconnect();
  await queue.obliterate({ force: true });
  await queue.close();
  if (done !== count) throw new Error(`the ceiling loop finished ${done} of ${count} jobs`);
  return { jobsPerSecond: count / seconds };
}

/** Time from restarting a kill -9'd worker until its in-flight job is active again. */
async function measureKillResume(redis, connection) {
  const queueName = newQueueName('kill');
  const journalDir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-bench-journal-'));
  const args = ['--testing-tasks', 'true', '--bullmq-redis-url', redis.url, '--bullmq-queue', queueName,
    '--bullmq-journal-path', path.join(journalDir, 'journal')];
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  const actives = [];
  events.on('active', ({ jobId }) => actives.push({ jobId, at: Date.now() }));
  const first = await startDaemon({ args });
  const job = await queue.add('testing.sleep', { durationMs: 2000 });
  while (!actives.some((a) => a.jobId === job.id)) await sleep(5);
  first.process.kill('SIGKILL');
  await first.stop();
  const restarted = Date.now();
  const second = await startDaemon({ args });
  while (actives.filter((a) => a.jobId === job.id).length < 2) await sleep(5);
  const resumeMs = actives.filter((a) => a.jobId === job.id)[1].at - restarted;
  await job.waitUntilFinished(events, 30_000);
  await second.stop();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await rm(journalDir, { recursive: true, force: true });
  return resumeMs;
}

async function main() {
  const options = readOptions();
  const redis = await RedisServer.start({ args: ['--appendonly', 'no'] });
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  const cores = os.cpus().length;
  console.log(`bullmq benchmark: ${cores} cores, load average ${os.loadavg()[0].toFixed(2)}, ` +
              `${options.noopJobs} no-op jobs, ${options.thumbnailJobs} thumbnails, concurrency ${options.concurrency} for no-op jobs and ${cores} for thumbnails`);
  try {
    const noop = { name: 'testing.echo', data: { payload: '' } };
    const thumbnail = { name: 'image.thumbnail', data: { input: { path: PHOTO }, widths: [320], quality: 80 } };

    const rows = [];
    const heavyNoop = await measureThroughput(connection, 'h-noop', heavyliftWorker(redis, options.concurrency), noop, options.noopJobs);
    const nodeNoop = await measureThroughput(connection, 'n-noop', nodeWorker(connection, options.concurrency, nodeEcho), noop, options.noopJobs);
    const ceiling = await measureCeiling(connection, options.noopJobs, options.concurrency);
    const heavyNoopLatency = await measureLatency(connection, 'h-noop-lat', heavyliftWorker(redis, options.concurrency), noop, options.latencyRate, options.latencySeconds);
    const nodeNoopLatency = await measureLatency(connection, 'n-noop-lat', nodeWorker(connection, options.concurrency, nodeEcho), noop, options.latencyRate, options.latencySeconds);
    rows.push({ workload: 'no-op', side: 'heavylift', ...heavyNoop, ...heavyNoopLatency });
    rows.push({ workload: '', side: 'node bullmq', ...nodeNoop, ...nodeNoopLatency });
    rows.push({ workload: '', side: 'redis ceiling', ...ceiling });

    const heavyThumb = await measureThroughput(connection, 'h-thumb', heavyliftWorker(redis, cores), thumbnail, options.thumbnailJobs);
    const nodeThumb = await measureThroughput(connection, 'n-thumb', nodeWorker(connection, cores, nodeThumbnail), thumbnail, options.thumbnailJobs);
    const thumbRate = Math.max(1, Math.round(heavyThumb.jobsPerSecond / 2));
    const heavyThumbLatency = await measureLatency(connection, 'h-thumb-lat', heavyliftWorker(redis, cores), thumbnail, thumbRate, options.latencySeconds);
    const nodeThumbLatency = await measureLatency(connection, 'n-thumb-lat', nodeWorker(connection, cores, nodeThumbnail), thumbnail, thumbRate, options.latencySeconds);
    rows.push({ workload: 'thumbnail 320 q80', side: 'heavylift', ...heavyThumb, ...heavyThumbLatency });
    rows.push({ workload: '', side: 'node bullmq + sharp', ...nodeThumb, ...nodeThumbLatency });

    const resumeMs = await measureKillResume(redis, connection);

    console.log(formatTable([
      { header: 'workload', value: (r) => r.workload },
      { header: 'side', value: (r) => r.side },
      { header: 'jobs/s', value: (r) => r.jobsPerSecond, digits: 1 },
      { header: 'p50 add->done ms', value: (r) => r.p50 ?? '', digits: 1 },
      { header: 'p99 add->done ms', value: (r) => r.p99 ?? '', digits: 1 },
      { header: 'p99 add->start ms', value: (r) => r.startP99 ?? '', digits: 1 },
    ], rows));
    console.log(`latency phases: no-op jobs added one by one at ${options.latencyRate}/s, thumbnails at ${thumbRate}/s, for ${options.latencySeconds} s each`);
    console.log(`no-op jobs/s: heavylift / node ${formatRatio(heavyNoop.jobsPerSecond, nodeNoop.jobsPerSecond)}, ` +
                `heavylift / ceiling ${formatRatio(heavyNoop.jobsPerSecond, ceiling.jobsPerSecond)}`);
    console.log(`thumbnail jobs/s: heavylift / node ${formatRatio(heavyThumb.jobsPerSecond, nodeThumb.jobsPerSecond)}`);
    console.log(`kill -9 and restart: the in-flight job was active again ${resumeMs} ms after the restart began (daemon start included)`);
  } finally {
    await redis.stop();
  }
}

await main();
