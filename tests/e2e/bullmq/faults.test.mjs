// Fault tests of the BullMQ worker against a real redis-server: long
// CPU-bound jobs under a short lock, Redis outages and restarts, kill -9 of
// the worker, and a SIGTERM drain. No job may be lost or completed twice.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { readMetrics, readMetricsUntil, sumSamples } from '../lib/helpers.mjs';
import { openQueue, RedisServer, removeDir, SANITIZED, startWorker, uniqueQueueName, waitFor } from './lib.mjs';

// Resolves once the worker's journal lists `jobId` as started.
async function waitForJournalEntry(journalDir, jobId, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(path.join(journalDir, 'journal'), 'utf8').catch(() => '');
    if (text.split('\n').some((line) => line.startsWith(`+ ${jobId} `))) return;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not appear in the journal within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects QueueEvents of `names` into arrays, keyed by event name. */
function record(events, names) {
  const seen = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) events.on(name, (event) => seen[name].push(event));
  return seen;
}

/**
 * Waits until job `id` is active with `starts` attempts started. Polls the job
 * hash instead of QueueEvents, whose first read may miss events of the
 * first moments.
 */
async function waitForStarts(queue, id, starts, intervalMs = 50) {
  await waitFor(async () => {
    const job = await queue.getJob(id);
    return job?.attemptsStarted === starts && (await job.getState()) === 'active';
  }, 20_000, `job ${id} to be active with ${starts} attempts started`, intervalMs);
}

async function stopDaemon(daemon) {
  if (!daemon) return undefined;
  const exit = await daemon.stop();
  await removeDir(daemon.journalDir);
  return exit;
}

describe('bullmq worker faults', () => {
  let redis;

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.stop();
  });

  it('keeps locks of CPU-bound jobs longer than the lock', async () => {
    // Every core busy with 12 s jobs under a 3 s lock, renewed every 1.5 s;
    // the stalled check runs every second and would catch a lost lock.
    const queueName = uniqueQueueName('locks');
    const daemon = await startWorker(redis, queueName, [
      '--bullmq-concurrency', '2', '--bullmq-lock-duration-ms', '3000', '--bullmq-stalled-interval-ms', '1000',
    ]);
    const q = await openQueue(redis, queueName);
    try {
      const seen = record(q.events, ['completed', 'stalled']);
      const jobs = await Promise.all([0, 1].map(() => q.queue.add('testing.sleep', { durationMs: 12_000, busy: true })));
      await Promise.all(jobs.map((job) => job.waitUntilFinished(q.events, 40_000)));

      assert.deepEqual(seen.stalled, []);
      for (const job of jobs) {
        assert.equal(seen.completed.filter((e) => e.jobId === job.id).length, 1);
        const stored = await q.queue.getJob(job.id);
        assert.equal(stored.attemptsStarted, 1);
        assert.equal(stored.stalledCounter, 0);
      }
      const metrics = await readMetrics(daemon.httpAddress);
      assert.ok(sumSamples(metrics, 'heavylift_bullmq_lock_renewals_total', { result: 'ok' }) >= 10);
      assert.equal(sumSamples(metrics, 'heavylift_bullmq_lock_renewals_total', { result: 'lost' }), 0);
      assert.equal(sumSamples(metrics, 'heavylift_bullmq_stalled_jobs_total'), 0);
    } finally {
      await q.close();
      assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it('resumes by itself after an outage longer than the blocking timeout', async () => {
    const queueName = uniqueQueueName('outage');
    const daemon = await startWorker(redis, queueName, ['--bullmq-drain-delay-ms', '1000']);
    let q = await openQueue(redis, queueName);
    try {
      const before = await q.queue.add('testing.echo', { payload: '' });
      await before.waitUntilFinished(q.events, 10_000);
      await q.close();

      await redis.shutdown();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await redis.launch();

      q = await openQueue(redis, queueName);
      const afterOutage = await q.queue.add('testing.echo', { payload: Buffer.from('back').toString('base64') });
      const result = await afterOutage.waitUntilFinished(q.events, 20_000);
      assert.equal(Buffer.from(result.payload, 'base64').toString(), 'back');
      await daemon.waitForLog('event=bullmq.redis_reconnected', 1000);
      const metrics = await readMetrics(daemon.httpAddress);
      assert.ok(sumSamples(metrics, 'heavylift_bullmq_redis_reconnects_total') >= 1);
    } finally {
      await q.close();
      assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it('loses no job when Redis restarts mid-run', async () => {
    const queueName = uniqueQueueName('restart');
    const count = SANITIZED ? 100 : 300;
    const daemon = await startWorker(redis, queueName, ['--bullmq-drain-delay-ms', '1000']);
    let q = await openQueue(redis, queueName);
    try {
      const jobs = await q.queue.addBulk(
        Array.from({ length: count }, (_, i) => ({ name: 'testing.sleep', data: { durationMs: 10 }, opts: { jobId: `r${i}` } })));
      assert.equal(jobs.length, count);
      await waitFor(async () => (await q.queue.getCompletedCount()) >= 20, 20_000, 'the first completions');
      await q.close();

      await redis.restart();

      q = await openQueue(redis, queueName);
      await waitFor(async () => (await q.queue.getCompletedCount()) === count, 90_000,
        `${count} completed jobs`, 250);
      const counts = await q.queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
      assert.deepEqual(counts, { completed: count, failed: 0, wait: 0, active: 0, delayed: 0 });
    } finally {
      await q.close();
      assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it('resumes a job at once after kill -9 and restart', async () => {
    const queueName = uniqueQueueName('kill');
    const first = await startWorker(redis, queueName);
    const q = await openQueue(redis, queueName);
    let second;
    try {
      const seen = record(q.events, ['completed']);
      const job = await q.queue.add('testing.sleep', { durationMs: 3000 });
      await waitForStarts(q.queue, job.id, 1);
      // The worker writes the job to its journal just after Redis made it
      // active. A kill in between leaves the job to the stalled check, so
      // the kill waits for the journal line.
      await waitForJournalEntry(first.journalDir, job.id);

      first.process.kill('SIGKILL');
      await first.stop();
      const restartedAt = Date.now();
      second = await startWorker(redis, queueName, [], { journalDir: first.journalDir });
      await waitForStarts(q.queue, job.id, 2, 20);
      const resumeMs = Date.now() - restartedAt;

      const result = await job.waitUntilFinished(q.events, 20_000);
      assert.ok(result.elapsedMs >= 3000);
      // The journal hands the job back as the worker starts, instead of
      // after the 30 s lock a stalled check would wait for.
      assert.ok(resumeMs < (SANITIZED ? 5000 : 2000), `resumed ${resumeMs} ms after the restart`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(seen.completed.filter((e) => e.jobId === job.id).length, 1);
      const completedIds = await q.queue.getCompleted();
      assert.equal(completedIds.filter((j) => j.id === job.id).length, 1);
      const stored = await q.queue.getJob(job.id);
      assert.equal(stored.attemptsStarted, 2);
      const metrics = await readMetrics(second.httpAddress);
      assert.equal(sumSamples(metrics, 'heavylift_bullmq_restarted_jobs_total'), 1);
      console.log(`# kill -9: in-flight job resumed ${resumeMs} ms after the restart began (daemon start included)`);
    } finally {
      await q.close();
      await first.stop('SIGKILL');
      if (second) assert.equal((await stopDaemon(second)).code, 0);
    }
  });

  it('recovers a killed worker job by the stalled check', async () => {
    // Without the journal, the job waits for its lock to expire and for
    // another worker's stalled check, as with Node workers.
    const queueName = uniqueQueueName('stalled');
    const flags = ['--bullmq-lock-duration-ms', '2000', '--bullmq-stalled-interval-ms', '1000'];
    const first = await startWorker(redis, queueName, flags);
    const q = await openQueue(redis, queueName);
    let second;
    try {
      const seen = record(q.events, ['completed', 'stalled']);
      const job = await q.queue.add('testing.sleep', { durationMs: 1500 });
      await waitForStarts(q.queue, job.id, 1);
      first.process.kill('SIGKILL');
      await stopDaemon(first);

      second = await startWorker(redis, queueName, flags);
      await job.waitUntilFinished(q.events, 60_000);
      assert.equal(seen.stalled.filter((e) => e.jobId === job.id).length, 1);
      assert.equal(seen.completed.filter((e) => e.jobId === job.id).length, 1);
      const metrics = await readMetrics(second.httpAddress);
      assert.equal(sumSamples(metrics, 'heavylift_bullmq_stalled_jobs_total'), 1);
      assert.equal(sumSamples(metrics, 'heavylift_bullmq_restarted_jobs_total'), 1);
    } finally {
      await q.close();
      await first.stop('SIGKILL');
      if (second) assert.equal((await stopDaemon(second)).code, 0);
    }
  });

  it('hands jobs back while the executor is full', async () => {
    // Four jobs held at once, but one executor thread and one queue slot:
    // the rest get QUEUE_FULL and go back to wait instead of failing.
    const queueName = uniqueQueueName('full');
    const daemon = await startWorker(redis, queueName, [
      '--bullmq-concurrency', '4', '--executor-threads', '1', '--executor-queue-capacity', '1',
    ]);
    const q = await openQueue(redis, queueName);
    try {
      const jobs = await q.queue.addBulk(Array.from({ length: 6 }, () => ({ name: 'testing.sleep', data: { durationMs: 300 } })));
      await Promise.all(jobs.map((job) => job.waitUntilFinished(q.events, 30_000)));
      assert.equal(await q.queue.getFailedCount(), 0);
      // The worker counts a job once Redis has replied to its moveToFinished, whose script has
      // already sent the completed event.
      const completed = (samples) =>
        sumSamples(samples, 'heavylift_bullmq_jobs_total', { task: 'testing.sleep', outcome: 'completed' });
      const metrics = await readMetricsUntil(daemon.httpAddress, (samples) => completed(samples) >= 6);
      assert.equal(completed(metrics), 6);
      assert.ok(sumSamples(metrics, 'heavylift_bullmq_jobs_total', { task: 'testing.sleep', outcome: 'handed_back' }) >= 1);
    } finally {
      await q.close();
      assert.equal((await stopDaemon(daemon)).code, 0);
    }
  });

  it('hands active jobs back to wait on SIGTERM', async () => {
    const queueName = uniqueQueueName('drain');
    const daemon = await startWorker(redis, queueName, ['--shutdown-grace-ms', '300']);
    const q = await openQueue(redis, queueName);
    try {
      const job = await q.queue.add('testing.sleep', { durationMs: 20_000 });
      await waitForStarts(q.queue, job.id, 1);
      const exit = await stopDaemon(daemon);
      assert.equal(exit.code, 0);
      const stored = await q.queue.getJob(job.id);
      assert.equal(await stored.getState(), 'waiting');
      assert.equal(stored.failedReason, undefined);
    } finally {
      await q.close();
    }
  });
});
