// heavylift as a BullMQ worker, driven by bullmq's own Queue and QueueEvents:
// every task completes with its result, failures keep their gRPC code, and
// BullMQ's options (attempts, backoff, delay, priority, removeOnComplete)
// behave as with a Node worker.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { PHOTOS, readJpegSize, readMetrics, sumSamples } from '../lib/helpers.mjs';
import { connectionOf, openQueue, RedisServer, removeDir, startWorker, uniqueQueueName, waitFor } from './lib.mjs';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import IORedis from 'ioredis';

describe('bullmq worker tasks', () => {
  let redis;
  let daemon;
  let q;
  const queueName = uniqueQueueName('tasks');

  before(async () => {
    redis = await RedisServer.start();
    daemon = await startWorker(redis, queueName, ['--blob-root', path.dirname(path.dirname(PHOTOS.dune)),
      '--bullmq-worker-name', 'e2e-tasks']);
    q = await openQueue(redis, queueName);
  });

  after(async () => {
    await q?.close();
    const exit = await daemon?.stop();
    await removeDir(daemon?.journalDir);
    await redis?.stop();
    assert.equal(exit?.code, 0, `daemon exited with ${JSON.stringify(exit)}`);
  });

  it('completes testing.echo with the result', async () => {
    const job = await q.queue.add('testing.echo', { payload: Buffer.from('hello').toString('base64') });
    const result = await job.waitUntilFinished(q.events, 10_000);
    assert.equal(Buffer.from(result.payload, 'base64').toString(), 'hello');
    const stored = await q.queue.getJob(job.id);
    assert.equal(await stored.getState(), 'completed');
    assert.equal(stored.processedBy, 'e2e-tasks');
    assert.deepEqual(stored.returnvalue, result);
  });

  it('thumbnails a real photo by blob path', async () => {
    const job = await q.queue.add('image.thumbnail', {
      input: { path: path.join('nature', 'Dune.jpg') },
      widths: [160, 320],
    });
    const result = await job.waitUntilFinished(q.events, 30_000);
    assert.equal(result.thumbnails.length, 2);
    assert.equal(result.sourceWidth, 1680);
    const first = readJpegSize(Buffer.from(result.thumbnails[0].data, 'base64'));
    assert.equal(first.width, 160);
    assert.equal(result.thumbnails[1].width, 320);
  });

  it('thumbnails a photo passed by Redis key', async () => {
    const probe = new IORedis(connectionOf(redis));
    try {
      const key = `bull:${queueName}:blob:dune`;
      await probe.set(key, await readFile(PHOTOS.dune), 'EX', 60);
      const job = await q.queue.add('image.thumbnail', { input: { redisKey: key }, widths: [200] });
      const result = await job.waitUntilFinished(q.events, 30_000);
      assert.equal(result.thumbnails[0].width, 200);
      assert.equal(result.sourceWidth, 1680);

      const outside = await q.queue.add('image.thumbnail', { input: { redisKey: 'elsewhere:dune' }, widths: [200] }, { attempts: 3 });
      await assert.rejects(outside.waitUntilFinished(q.events, 10_000), /INVALID_ARGUMENT: input\.redisKey must name a key under/);
      assert.equal((await q.queue.getJob(outside.id)).attemptsMade, 1);
      const missing = await q.queue.add('image.thumbnail', { input: { redisKey: `bull:${queueName}:blob:gone` }, widths: [200] });
      await assert.rejects(missing.waitUntilFinished(q.events, 10_000), /does not exist \(its TTL may have expired\)/);
    } finally {
      probe.disconnect();
    }
  });

  it('hashes a password with argon2id', async () => {
    const job = await q.queue.add('crypto.argon2id.hash', { password: Buffer.from('correct horse').toString('base64') });
    const result = await job.waitUntilFinished(q.events, 30_000);
    assert.match(result.hash ?? result.phc ?? JSON.stringify(result), /\$argon2id\$/);
  });

  it('completes testing.sleep and reports progress', async () => {
    const progress = [];
    const onProgress = ({ jobId, data }) => { progress.push({ jobId, data }); };
    q.events.on('progress', onProgress);
    const job = await q.queue.add('testing.sleep', { durationMs: 600 });
    const result = await job.waitUntilFinished(q.events, 10_000);
    q.events.off('progress', onProgress);
    assert.ok(result.elapsedMs >= 600, `elapsedMs ${result.elapsedMs}`);
    const mine = progress.filter((p) => p.jobId === job.id);
    assert.ok(mine.length >= 1, 'no progress event');
    const stored = await q.queue.getJob(job.id);
    assert.equal(typeof stored.progress, 'number');
    assert.ok(stored.progress > 0);
  });

  it('retries testing.fail twice then completes', async () => {
    const job = await q.queue.add('testing.fail', { code: 'UNAVAILABLE', message: 'try later', succeedOnAttempt: 3 },
      { attempts: 5, backoff: { type: 'exponential', delay: 50 } });
    const result = await job.waitUntilFinished(q.events, 15_000);
    assert.equal(result.attempt, 3);
    const stored = await q.queue.getJob(job.id);
    assert.equal(stored.attemptsMade, 3);
    assert.equal(await stored.getState(), 'completed');
  });

  it('keeps the gRPC code in failedReason after the last attempt', async () => {
    const job = await q.queue.add('testing.fail', { code: 'RESOURCE_EXHAUSTED', message: 'busy' }, { attempts: 2, backoff: 10 });
    await assert.rejects(job.waitUntilFinished(q.events, 10_000), /RESOURCE_EXHAUSTED: busy/);
    const stored = await q.queue.getJob(job.id);
    assert.equal(stored.attemptsMade, 2);
    assert.match(stored.failedReason, /^RESOURCE_EXHAUSTED: busy/);
    const detail = JSON.parse(stored.stacktrace[0]);
    assert.equal(detail.code, 'RESOURCE_EXHAUSTED');
  });

  it('fails an unknown job name at once without retries', async () => {
    const job = await q.queue.add('no.such.task', {}, { attempts: 5 });
    await assert.rejects(job.waitUntilFinished(q.events, 10_000), /UNIMPLEMENTED/);
    const stored = await q.queue.getJob(job.id);
    assert.equal(stored.attemptsMade, 1);
  });

  it('fails undecodable data at once without retries', async () => {
    const job = await q.queue.add('testing.sleep', { durationMs: 'soon', bogus: 1 }, { attempts: 5 });
    await assert.rejects(job.waitUntilFinished(q.events, 10_000), /INVALID_ARGUMENT/);
    const stored = await q.queue.getJob(job.id);
    assert.equal(stored.attemptsMade, 1);
    assert.equal(await stored.getState(), 'failed');
    const echo = await q.queue.add('testing.echo', { payload: '' });
    await echo.waitUntilFinished(q.events, 10_000);
  });

  it('fails a job past its timeout option with DEADLINE_EXCEEDED', async () => {
    const job = await q.queue.add('testing.sleep', { durationMs: 5000 }, { timeout: 200 });
    await assert.rejects(job.waitUntilFinished(q.events, 10_000), /DEADLINE_EXCEEDED/);
  });

  it('runs delayed jobs after their delay and by priority', async () => {
    const added = Date.now();
    const delayed = await q.queue.add('testing.echo', { payload: '' }, { delay: 700 });
    await delayed.waitUntilFinished(q.events, 10_000);
    const stored = await q.queue.getJob(delayed.id);
    assert.ok(stored.processedOn - added >= 650, `processed ${stored.processedOn - added} ms after add`);

    // While paused, add low then high priority; on resume high runs first.
    await q.queue.pause();
    const low = await q.queue.add('testing.echo', { payload: '' }, { priority: 10 });
    const high = await q.queue.add('testing.echo', { payload: '' }, { priority: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await (await q.queue.getJob(low.id)).getState(), 'prioritized');
    await q.queue.resume();
    await Promise.all([low.waitUntilFinished(q.events, 10_000), high.waitUntilFinished(q.events, 10_000)]);
    const [lowJob, highJob] = await Promise.all([q.queue.getJob(low.id), q.queue.getJob(high.id)]);
    assert.ok(highJob.processedOn <= lowJob.processedOn);
  });

  it('removes a job on complete when it asks to', async () => {
    // job.waitUntilFinished would fail with "Missing key" when the daemon has completed and
    // removed the job before it looks, so the test listens for the event before adding the job.
    const jobId = `remove-on-complete-${Date.now()}`;
    let onCompleted;
    const completed = new Promise((resolve) => {
      onCompleted = (event) => {
        if (event.jobId === jobId) resolve();
      };
      q.events.on('completed', onCompleted);
    });
    try {
      await q.queue.add('testing.echo', { payload: '' }, { jobId, removeOnComplete: true });
      await Promise.race([
        completed,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`job ${jobId} did not complete within 10 s`)), 10_000).unref()),
      ]);
    } finally {
      q.events.off('completed', onCompleted);
    }
    await waitFor(async () => (await q.queue.getJob(jobId)) === undefined, 5_000, 'the job to be removed');
  });

  it('is listed by getWorkers and counts jobs in metrics', async () => {
    const workers = await q.queue.getWorkers();
    const mine = workers.filter((w) => w.rawname.endsWith(':w:e2e-tasks'));
    assert.equal(mine.length, 1, JSON.stringify(workers.map((w) => w.rawname)));
    assert.equal(mine[0].name, queueName);
    const metrics = await readMetrics(daemon.httpAddress);
    assert.ok(sumSamples(metrics, 'heavylift_bullmq_jobs_total', { task: 'testing.echo', outcome: 'completed' }) >= 1);
    assert.ok(sumSamples(metrics, 'heavylift_bullmq_jobs_total', { task: 'testing.fail', outcome: 'retried' }) >= 2);
  });
});
