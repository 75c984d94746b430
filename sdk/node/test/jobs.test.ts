// The typed BullMQ helpers against a real redis-server and heavylift worker.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  createJobs,
  DeadlineExceededError,
  errorFromFailedJob,
  InvalidArgumentError,
  ResourceExhaustedError,
  type HeavyliftJobs,
} from 'heavylift';
import { startDaemon, type RunningDaemon } from 'heavylift/testing';

import { jpegSize } from './support';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe('jobs helpers with Redis and a worker', () => {
  let redis: ChildProcess;
  let dir: string;
  let daemon: RunningDaemon;
  let jobs: HeavyliftJobs;
  const queueName = `sdk-jobs-${process.pid}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'heavylift-sdk-jobs-'));
    const port = await freePort();
    redis = spawn('/usr/bin/redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', ''], {
      stdio: 'ignore',
    });
    // The worker's start-up check retries nothing, so wait for Redis first.
    const probe = createJobs({ connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null }, queueName });
    await probe.queue.waitUntilReady();
    await probe.close();
    daemon = await startDaemon({
      args: ['--testing-tasks', 'true', '--bullmq-redis-url', `redis://127.0.0.1:${port}`, '--bullmq-queue', queueName],
    });
    jobs = createJobs({ connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null }, queueName });
  });

  after(async () => {
    await jobs?.close();
    await daemon?.stop();
    redis?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  test('enqueue and result round-trip bytes', async () => {
    const job = await jobs.enqueue('testing.echo', { payload: Buffer.from('héllo') });
    assert.equal(job.name, 'testing.echo');
    assert.deepEqual(job.data, { payload: Buffer.from('héllo').toString('base64') });
    const result = await jobs.result(job);
    assert.equal(Buffer.from(result.payload).toString(), 'héllo');
  });

  test('putBlob passes a photo by Redis key', async () => {
    const photo = readFileSync('/usr/share/backgrounds/mate/nature/Dune.jpg');
    const input = await jobs.putBlob(photo, { ttlSeconds: 60 });
    assert.match(input.redisKey, new RegExp(`^bull:${queueName}:blob:`));
    const job = await jobs.enqueue('image.thumbnail', { input, widths: [160] });
    assert.deepEqual(job.data, { input: { redisKey: input.redisKey }, widths: [160] });
    const { thumbnails } = await jobs.result(job);
    assert.equal(thumbnails[0]!.width, 160);
    assert.equal(jpegSize(Buffer.from(thumbnails[0]!.data)).width, 160);
  });

  test('argon2id hash through the queue', async () => {
    const job = await jobs.enqueue('crypto.argon2id.hash', { password: Buffer.from('correct horse') });
    const { hash } = await jobs.result(job);
    assert.match(hash, /^\$argon2id\$v=19\$/);
  });

  test('failed job rejects with typed error', async () => {
    const job = await jobs.enqueue('testing.fail', { code: 'RESOURCE_EXHAUSTED', message: 'busy' });
    const error = await jobs.result(job).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ResourceExhaustedError, String(error));
    assert.equal(error.message, 'busy');
    assert.equal(error.codeName, 'RESOURCE_EXHAUSTED');
  });

  test('timeoutMs fails with DeadlineExceededError', async () => {
    const job = await jobs.enqueue('testing.sleep', { durationMs: 5000 }, { timeoutMs: 100 });
    await assert.rejects(jobs.result(job), DeadlineExceededError);
  });

  test('unknown task rejects before sending', async () => {
    await assert.rejects(jobs.enqueue('no.such.task' as 'testing.echo', {}), InvalidArgumentError);
    await assert.rejects(jobs.enqueue('testing.echo', {}, { timeoutMs: -1 }), InvalidArgumentError);
  });

  test('errorFromFailedJob reads the error detail', () => {
    const error = errorFromFailedJob('INVALID_ARGUMENT: widths[0] must be in 1..4096, got 0', [
      JSON.stringify({ code: 'INVALID_ARGUMENT', field: 'widths[0]', bound: 'in 1..4096', value: '0', reason: 'OUT_OF_RANGE' }),
    ]);
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.field, 'widths[0]');
    assert.equal(error.bound, 'in 1..4096');
    assert.equal(error.reason, 'OUT_OF_RANGE');
    assert.equal(errorFromFailedJob('something odd').codeName, 'UNKNOWN');
  });
});
