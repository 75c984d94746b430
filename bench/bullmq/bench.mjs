// Benchmarks heavylift's BullMQ worker against a Node BullMQ Worker doing the
// same work on the same local Redis: no-op jobs and thumbnails (sharp on the
// Node side), jobs/s with a backlog and latency at a steady add rate. Also a
// Redis-only ceiling (the same Lua scripts called in a tight loop, no work)
// and the time until an in-flight job resumes after kill -9 and a restart.
// Each throughput is the median of --rounds runs per side, the sides taking
// turns to go first, so a burst of load from other processes does not fall
// on one side only. The last lines check each target and print PASS or MISS.
// Usage: node bullmq/bench.mjs [--noop-jobs=5000 --thumbnail-jobs=200 --rounds=5
//        --workloads=noop,thumbnail,kill ...]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import { Queue, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';
import { pack } from 'msgpackr';
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
      // heavylift's --bullmq-concurrency for thumbnails, default the cores as on
      // the Node side. Jobs above the executor threads wait in its queue, so a
      // slot is refilled without waiting for Redis. No more images run at once.
      'heavylift-thumbnail-concurrency': { type: 'string', default: process.env.BENCH_BULLMQ_HEAVYLIFT_THUMBNAIL_CONCURRENCY ?? '0' },
      rounds: { type: 'string', default: process.env.BENCH_BULLMQ_ROUNDS ?? '5' },
      workloads: { type: 'string', default: process.env.BENCH_BULLMQ_WORKLOADS ?? 'noop,thumbnail,kill' },
    },
  });
  const workloads = new Set(values.workloads.split(',').map((w) => w.trim()).filter(Boolean));
  for (const workload of workloads) {
    if (!['noop', 'thumbnail', 'kill'].includes(workload)) {
      throw new Error(`--workloads takes noop, thumbnail and kill, separated by commas; got ${JSON.stringify(workload)}`);
    }
  }
  return {
    noopJobs: Number(values['noop-jobs']),
    thumbnailJobs: Number(values['thumbnail-jobs']),
    concurrency: Number(values.concurrency),
    latencyRate: Number(values['latency-rate']),
    latencySeconds: Number(values['latency-seconds']),
    rounds: Math.max(1, Number(values.rounds)),
    heavyliftThumbnailConcurrency: Number(values['heavylift-thumbnail-concurrency']),
    workloads,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time (user + system) of process `pid` so far, in seconds, from /proc (Linux clock ticks of 10 ms). */
function processCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU time of all threads of process `pid` so far, in microseconds, from
 * each thread's /proc schedstat (nanoseconds, unlike the 10 ms ticks of stat).
 */
function processCpuMicros(pid) {
  let nanos = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return nanos / 1000;
}

let queueCounter = 0;
function newQueueName(label) {
  queueCounter += 1;
  return `bench-${label}-${queueCounter}`;
}

/**
 * Waits until `count` jobs of `queue` completed. `onFirst(completed)` runs
 * once, at the first poll that finds at least `firstAt` completed jobs.
 */
async function waitForCompleted(queue, count, timeoutMs, onFirst = () => {}, firstAt = 1) {
  const deadline = Date.now() + timeoutMs;
  let first = true;
  for (;;) {
    const completed = await queue.getCompletedCount();
    if (completed >= count) break;
    if (first && completed >= firstAt) {
      first = false;
      onFirst(completed);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} completed jobs in ${queue.name}`);
    if ((await queue.getFailedCount()) > 0) {
      const [failed] = await queue.getFailed(0, 0);
      throw new Error(`a job failed in ${queue.name}: ${failed?.failedReason}`);
    }
    await sleep(25);
  }
}

/**
 * Jobs/s over a backlog: `count` jobs added first, then the worker drains
 * them. The worker's CPU time per job counts from the first poll that finds
 * a tenth of the jobs completed, so that its start-up and warm-up (Node's
 * JIT compiler) are left out.
 */
async function measureThroughput(connection, redisPid, label, startWorker, job, count) {
  const queue = new Queue(newQueueName(label), { connection });
  for (let start = 0; start < count; start += 1000) {
    const size = Math.min(1000, count - start);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: job.name, data: job.data })));
  }
  const started = Date.now();
  const { stop, pid } = await startWorker(queue.name);
  const redisCpuStart = processCpuSeconds(redisPid);
  let workerCpuStart = 0;
  let completedAtStart = 0;
  await waitForCompleted(queue, count, 600_000, (completed) => {
    workerCpuStart = processCpuMicros(pid);
    completedAtStart = completed;
  }, Math.ceil(count / 10));
  const workerCpuMicros = processCpuMicros(pid) - workerCpuStart;
  const redisCpuSeconds = processCpuSeconds(redisPid) - redisCpuStart;
  const completed = await queue.getJobs(['completed'], 0, -1);
  await stop();
  const firstStart = Math.min(...completed.map((j) => j.processedOn));
  const lastFinish = Math.max(...completed.map((j) => j.finishedOn));
  await queue.obliterate({ force: true });
  await queue.close();
  return {
    jobsPerSecond: count / ((lastFinish - firstStart) / 1000),
    wallSeconds: (Date.now() - started) / 1000,
    redisCpuMicrosPerJob: (redisCpuSeconds * 1e6) / count,
    workerCpuMicrosPerJob: completedAtStart > 0 && completedAtStart < count ? workerCpuMicros / (count - completedAtStart) : NaN,
  };
}

/** Add-to-completed and add-to-start latency with jobs added one by one at `rate` per second. */
async function measureLatency(connection, label, startWorker, job, rate, seconds) {
  const queue = new Queue(newQueueName(label), { connection });
  const { stop } = await startWorker(queue.name);
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

/**
 * Runs `measure(first)` and `measure(second)` `rounds` times, the two taking
 * turns to go first, and returns the run with the median jobs/s of each.
 */
async function pairedRounds(rounds, first, second) {
  const runs = [[], []];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const side of order) runs[side].push(await [first, second][side]());
  }
  const median = (list) => [...list].sort((a, b) => a.jobsPerSecond - b.jobsPerSecond)[Math.floor((list.length - 1) / 2)];
  const medianOf = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  return runs.map((list) => ({
    ...median(list),
    all: list.map((r) => r.jobsPerSecond),
    workerCpuMicrosPerJob: medianOf(list.map((r) => r.workerCpuMicrosPerJob)),
    allWorkerCpu: list.map((r) => r.workerCpuMicrosPerJob),
  }));
}

function heavyliftWorker(redis, concurrency) {
  return async (queueName) => {
    const daemon = await startDaemon({
      args: [
        '--testing-tasks', 'true', '--blob-root', PHOTO_ROOT,
        '--bullmq-redis-url', redis.url, '--bullmq-queue', queueName, '--bullmq-concurrency', String(concurrency),
      ],
    });
    const stop = async () => {
      const exit = await daemon.stop();
      if (exit.code !== 0) throw new Error(`heavylift exited with ${JSON.stringify(exit)}:\n${daemon.logs()}`);
    };
    return { stop, pid: daemon.process.pid };
  };
}

/** Starts a Node BullMQ Worker in its own process (node-worker.mjs) with the `echo` or `thumbnail` processor. */
function nodeWorker(redis, concurrency, processor) {
  return async (queueName) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'node-worker.mjs'), queueName, String(redis.port),
      String(concurrency), processor, PHOTO_ROOT], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
        if (output.includes('ready')) resolve();
      });
      exited.then((exit) => reject(new Error(`the Node worker exited before it was ready: ${JSON.stringify(exit)}`)));
    });
    const stop = async () => {
      child.kill('SIGTERM');
      const exit = await exited;
      if (exit.code !== 0) throw new Error(`the Node worker exited with ${JSON.stringify(exit)}`);
    };
    return { stop, pid: child.pid };
  };
}

/**
 * The Redis-only ceiling: `concurrency` loops that each take a job with
 * moveToActive and finish it with moveToFinished (fetching the next job in
 * the same call, as bullmq does on a busy queue), doing no work in between.
 */
async function measureCeiling(connection, redisPid, count, concurrency) {
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
  const redisCpuStart = processCpuSeconds(redisPid);
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
  const redisCpuSeconds = processCpuSeconds(redisPid) - redisCpuStart;
  for (const client of clients) client.disconnect();
  await queue.obliterate({ force: true });
  await queue.close();
  if (done !== count) throw new Error(`the ceiling loop finished ${done} of ${count} jobs`);
  return { jobsPerSecond: count / seconds, redisCpuMicrosPerJob: (redisCpuSeconds * 1e6) / count };
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
              `${options.noopJobs} no-op jobs, ${options.thumbnailJobs} thumbnails, concurrency ${options.concurrency} for no-op jobs and ${cores} for thumbnails, ` +
              `median of ${options.rounds} rounds per side`);
  try {
    const noop = { name: 'testing.echo', data: { payload: '' } };
    const thumbnail = { name: 'image.thumbnail', data: { input: { path: PHOTO }, widths: [320], quality: 80 } };
    const rows = [];
    const notes = [];
    const targets = [];
    const target = (name, measured, ok) => targets.push({ name, measured, ok });

    if (options.workloads.has('noop')) {
      const [heavyNoop, nodeNoop] = await pairedRounds(options.rounds,
        () => measureThroughput(connection, redis.process.pid, 'h-noop', heavyliftWorker(redis, options.concurrency), noop, options.noopJobs),
        () => measureThroughput(connection, redis.process.pid, 'n-noop', nodeWorker(redis, options.concurrency, 'echo'), noop, options.noopJobs));
      const ceilings = [];
      for (let round = 0; round < options.rounds; round++) {
        ceilings.push(await measureCeiling(connection, redis.process.pid, options.noopJobs, options.concurrency));
      }
      const ceiling = ceilings.sort((a, b) => a.jobsPerSecond - b.jobsPerSecond)[Math.floor((ceilings.length - 1) / 2)];
      ceiling.all = ceilings.map((c) => c.jobsPerSecond);
      // Both sides at once, so that a burst of load falls on both.
      const [heavyNoopLatency, nodeNoopLatency] = await Promise.all([
        measureLatency(connection, 'h-noop-lat', heavyliftWorker(redis, options.concurrency), noop, options.latencyRate, options.latencySeconds),
        measureLatency(connection, 'n-noop-lat', nodeWorker(redis, options.concurrency, 'echo'), noop, options.latencyRate, options.latencySeconds),
      ]);
      rows.push({ workload: 'no-op', side: 'heavylift', ...heavyNoop, ...heavyNoopLatency });
      rows.push({ workload: '', side: 'node bullmq', ...nodeNoop, ...nodeNoopLatency });
      rows.push({ workload: '', side: 'redis ceiling', ...ceiling });
      const redisMicros = Math.min(...ceilings.map((c) => c.redisCpuMicrosPerJob));
      notes.push(`no-op latency: jobs added one by one at ${options.latencyRate}/s to each side at once for ${options.latencySeconds} s`);
      notes.push(`redis ceiling: ${options.concurrency} Node clients calling the two scripts; redis-server used ${redisMicros.toFixed(0)} us ` +
                 `of CPU per job (least of the rounds), so one busy Redis core allows about ${(1e6 / redisMicros).toFixed(0)} jobs/s ` +
                 `(heavylift reaches ${formatRatio(heavyNoop.jobsPerSecond, 1e6 / redisMicros)} of that)`);
      notes.push(`worker CPU time per no-op job (median of the rounds): heavylift ${heavyNoop.workerCpuMicrosPerJob.toFixed(1)} us, ` +
                 `node ${nodeNoop.workerCpuMicrosPerJob.toFixed(1)} us (heavylift / node ${formatRatio(heavyNoop.workerCpuMicrosPerJob, nodeNoop.workerCpuMicrosPerJob)})`);
      target('no-op jobs/s, heavylift / node >= 1.50x', formatRatio(heavyNoop.jobsPerSecond, nodeNoop.jobsPerSecond),
        heavyNoop.jobsPerSecond >= 1.5 * nodeNoop.jobsPerSecond);
      target('no-op jobs/s, heavylift / redis ceiling >= 0.80x', formatRatio(heavyNoop.jobsPerSecond, ceiling.jobsPerSecond),
        heavyNoop.jobsPerSecond >= 0.8 * ceiling.jobsPerSecond);
      target('no-op add->start p99 <= 5 ms', `${heavyNoopLatency.startP99} ms (node ${nodeNoopLatency.startP99} ms)`,
        heavyNoopLatency.startP99 <= 5);
    }

    if (options.workloads.has('thumbnail')) {
      const heavyThumbConcurrency = options.heavyliftThumbnailConcurrency || cores;
      const [heavyThumb, nodeThumb] = await pairedRounds(options.rounds,
        () => measureThroughput(connection, redis.process.pid, 'h-thumb', heavyliftWorker(redis, heavyThumbConcurrency), thumbnail, options.thumbnailJobs),
        () => measureThroughput(connection, redis.process.pid, 'n-thumb', nodeWorker(redis, cores, 'thumbnail'), thumbnail, options.thumbnailJobs));
      const thumbRate = Math.max(1, Math.round(Math.min(heavyThumb.jobsPerSecond, nodeThumb.jobsPerSecond) / 2));
      const heavyThumbLatency = await measureLatency(connection, 'h-thumb-lat', heavyliftWorker(redis, heavyThumbConcurrency), thumbnail, thumbRate, options.latencySeconds);
      const nodeThumbLatency = await measureLatency(connection, 'n-thumb-lat', nodeWorker(redis, cores, 'thumbnail'), thumbnail, thumbRate, options.latencySeconds);
      rows.push({ workload: 'thumbnail 320 q80', side: 'heavylift', ...heavyThumb, ...heavyThumbLatency });
      rows.push({ workload: '', side: 'node bullmq + sharp', ...nodeThumb, ...nodeThumbLatency });
      notes.push(`thumbnails: heavylift --bullmq-concurrency ${heavyThumbConcurrency} with ${cores} executor threads, Node Worker concurrency ${cores}`);
      notes.push(`thumbnail latency: jobs added one by one at ${thumbRate}/s (half the slower side's jobs/s) for ${options.latencySeconds} s, one side after the other`);
      target('thumbnail jobs/s, heavylift / node + sharp >= 1.50x', formatRatio(heavyThumb.jobsPerSecond, nodeThumb.jobsPerSecond),
        heavyThumb.jobsPerSecond >= 1.5 * nodeThumb.jobsPerSecond);
    }

    if (options.workloads.has('kill')) {
      const resumeMs = await measureKillResume(redis, connection);
      notes.push('kill -9 and restart: time from the restart until the in-flight job is active again, daemon start included');
      target('kill -9 resume <= 1000 ms', `${resumeMs} ms`, resumeMs <= 1000);
    }

    console.log(formatTable([
      { header: 'workload', value: (r) => r.workload },
      { header: 'side', value: (r) => r.side },
      { header: 'jobs/s', value: (r) => r.jobsPerSecond, digits: 1 },
      { header: 'rounds jobs/s', value: (r) => (r.all ?? []).map((v) => v.toFixed(0)).join(' ') },
      { header: 'redis us/job', value: (r) => r.redisCpuMicrosPerJob ?? '', digits: 0 },
      { header: 'worker us/job', value: (r) => r.workerCpuMicrosPerJob ?? '', digits: 1 },
      { header: 'p50 add->done ms', value: (r) => r.p50 ?? '', digits: 1 },
      { header: 'p99 add->done ms', value: (r) => r.p99 ?? '', digits: 1 },
      { header: 'p99 add->start ms', value: (r) => r.startP99 ?? '', digits: 1 },
    ], rows));
    for (const note of notes) console.log(note);
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(formatTable([
      { header: 'target', value: (t) => t.name },
      { header: 'measured', value: (t) => t.measured },
      { header: 'result', value: (t) => (t.ok ? 'PASS' : 'MISS') },
    ], targets));
  } finally {
    await redis.stop();
  }
}

await main();
