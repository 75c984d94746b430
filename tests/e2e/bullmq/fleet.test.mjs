// heavylift workers sharing a BullMQ queue: with a Node BullMQ Worker, with
// a second heavylift process, and idle. Also the start-up checks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'bullmq';
import IORedis from 'ioredis';

import { DAEMON_BIN, readMetrics, sumSamples } from '../lib/helpers.mjs';
import { connectionOf, openQueue, RedisServer, removeDir, SANITIZED, startWorker, uniqueQueueName, waitFor } from './lib.mjs';

// 10,000 jobs with BULLMQ_E2E_JOBS=10000; the suite's default still spreads
// jobs over both processes.
const MANY_JOBS = Number(process.env.BULLMQ_E2E_JOBS ?? (SANITIZED ? 500 : 2000));

async function stopDaemon(daemon) {
  if (!daemon) return undefined;
  const exit = await daemon.stop();
  await removeDir(daemon.journalDir);
  return exit;
}

/** Runs the daemon binary with `args` and resolves with its exit code and output. */
function runDaemon(args) {
  return new Promise((resolve) => {
    const child = spawn(DAEMON_BIN, ['--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', ...args]);
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

describe('bullmq worker fleet', () => {
  let redis;

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.stop();
  });

  it('shares a queue with a Node BullMQ Worker', async () => {
    const queueName = uniqueQueueName('mixed');
    const daemon = await startWorker(redis, queueName, ['--bullmq-concurrency', '2']);
    const q = await openQueue(redis, queueName);
    const node = new Worker(queueName, async (job) => {
      // The same contract as heavylift's testing.echo.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { payload: job.data.payload };
    }, { connection: connectionOf(redis), concurrency: 2, name: 'node-worker' });
    try {
      await node.waitUntilReady();
      // heavylift finishes an echo job in microseconds and takes the next in
      // the same call, so the jobs come in small batches: each batch wakes
      // both workers.
      const count = 200;
      const batch = 10;
      const jobs = [];
      for (let start = 0; start < count; start += batch) {
        jobs.push(...await q.queue.addBulk(Array.from({ length: batch }, (_, k) => ({
          name: 'testing.echo', data: { payload: Buffer.from(`job ${start + k}`).toString('base64') },
        }))));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await waitFor(async () => (await q.queue.getCompletedCount()) === count, 60_000, `${count} completed jobs`, 200);

      const byWorker = new Map();
      for (const [i, added] of jobs.entries()) {
        const job = await q.queue.getJob(added.id);
        assert.equal(await job.getState(), 'completed');
        assert.equal(Buffer.from(job.returnvalue.payload, 'base64').toString(), `job ${i}`);
        assert.equal(job.attemptsStarted, 1);
        byWorker.set(job.processedBy, (byWorker.get(job.processedBy) ?? 0) + 1);
      }
      assert.equal(await q.queue.getFailedCount(), 0);
      const heavylift = [...byWorker].filter(([name]) => name?.startsWith('heavylift-')).reduce((n, [, c]) => n + c, 0);
      assert.ok(heavylift > 0, `heavylift took no job: ${JSON.stringify([...byWorker])}`);
      assert.ok((byWorker.get('node-worker') ?? 0) > 0, `the Node worker took no job: ${JSON.stringify([...byWorker])}`);
      const workers = await q.queue.getWorkers();
      assert.ok(workers.some((w) => w.rawname.endsWith(':w:node-worker')));
      assert.ok(workers.some((w) => w.rawname.includes(':w:heavylift-')));
    } finally {
      await node.close();
      await q.close();
      assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it(`completes ${MANY_JOBS} jobs over two processes, none twice`, async () => {
    const queueName = uniqueQueueName('many');
    const daemons = [await startWorker(redis, queueName), await startWorker(redis, queueName)];
    const q = await openQueue(redis, queueName);
    try {
      const batch = 1000;
      for (let start = 0; start < MANY_JOBS; start += batch) {
        const size = Math.min(batch, MANY_JOBS - start);
        await q.queue.addBulk(Array.from({ length: size }, (_, i) => ({
          name: 'testing.echo', data: { payload: '' }, opts: { jobId: `m${start + i}` },
        })));
      }
      await waitFor(async () => (await q.queue.getCompletedCount()) === MANY_JOBS, 240_000,
        `${MANY_JOBS} completed jobs`, 250);

      const probe = new IORedis(connectionOf(redis));
      const completedIds = await probe.zrange(`bull:${queueName}:completed`, 0, -1);
      probe.disconnect();
      assert.equal(new Set(completedIds).size, MANY_JOBS);
      // A process counts a job once Redis has replied to its moveToFinished, whose script has
      // already added the job to the completed set, so the counters may trail that set.
      const completedBy = (metrics) =>
        sumSamples(metrics, 'heavylift_bullmq_jobs_total', { task: 'testing.echo', outcome: 'completed' });
      let metricsByDaemon = [];
      await waitFor(async () => {
        metricsByDaemon = await Promise.all(daemons.map((daemon) => readMetrics(daemon.httpAddress)));
        return metricsByDaemon.reduce((total, metrics) => total + completedBy(metrics), 0) >= MANY_JOBS;
      }, 20_000, `the two processes to count ${MANY_JOBS} completed jobs`);
      let finishedByWorkers = 0;
      for (const metrics of metricsByDaemon) {
        const done = completedBy(metrics);
        assert.ok(done > 0, 'one process completed no job');
        finishedByWorkers += done;
        assert.equal(sumSamples(metrics, 'heavylift_bullmq_restarted_jobs_total'), 0);
      }
      // Each job ran to completion exactly once over both processes.
      assert.equal(finishedByWorkers, MANY_JOBS);
    } finally {
      await q.close();
      for (const daemon of daemons) assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it('sends about one command per second when idle', async () => {
    const queueName = uniqueQueueName('idle');
    const daemon = await startWorker(redis, queueName);
    const probe = new IORedis(connectionOf(redis));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await probe.config('RESETSTAT');
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      // Commands sent by clients; the calls a script makes inside Redis are
      // counted under their own names and left out.
      const stats = await probe.info('commandstats');
      let sent = 0;
      for (const name of ['evalsha', 'eval', 'bzpopmin', 'script', 'hget', 'ping']) {
        const match = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(stats);
        if (match) sent += Number(match[1]);
      }
      assert.ok(sent >= 1, `no command seen from the idle worker:\n${stats}`);
      assert.ok(sent <= 10, `an idle worker sent ${sent} commands in 10 s:\n${stats}`);
    } finally {
      probe.disconnect();
      assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it('refuses a queue written by another bullmq major version', async () => {
    const queueName = uniqueQueueName('major');
    const probe = new IORedis(connectionOf(redis));
    try {
      await probe.hset(`bull:${queueName}:meta`, 'version', 'bullmq:5.1.0');
      const { code, output } = await runDaemon(['--bullmq-redis-url', redis.url, '--bullmq-queue', queueName]);
      assert.equal(code, 1);
      assert.match(output, /written by bullmq:5\.1\.0, but this worker speaks bullmq 6\./);
    } finally {
      probe.disconnect();
    }
  });

  it('refuses an unreachable Redis and warns about eviction', async () => {
    const unreachable = await runDaemon(['--bullmq-redis-url', 'redis://127.0.0.1:1']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.output, /cannot connect to Redis at 127\.0\.0\.1:1/);

    const evicting = await RedisServer.start({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const daemon = await startWorker(evicting, uniqueQueueName('evict'));
      assert.match(daemon.logs(), /event=bullmq\.eviction_policy policy=allkeys-lru/);
      assert.equal((await stopDaemon(daemon)).code, 0);
    } finally {
      await evicting.stop();
    }
  });
});
