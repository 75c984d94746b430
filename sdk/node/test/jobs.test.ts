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
  NotFoundError,
  ResourceExhaustedError,
  type HeavyliftJob,
  type HeavyliftJobs,
} from 'heavylift';
import { startDaemon, type RunningDaemon } from 'heavylift/testing';
import { Job } from 'bullmq';
import IORedis from 'ioredis';

import { tasks as pricingTasks } from './gen/heavylift-tasks';
import { jpegSize } from './support';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

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
  let redisPort: number;
  const queueName = `sdk-jobs-${process.pid}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'heavylift-sdk-jobs-'));
    const port = await freePort();
    redisPort = port;
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

  test('result of jobs that remove themselves at once', async () => {
    // The worker may complete and remove each job before result() looks at it.
    const queued = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        jobs.enqueue('testing.echo', { payload: Buffer.from(`self-removing ${i}`) }, { removeOnComplete: true }),
      ),
    );
    const results = await Promise.all(queued.map((job) => jobs.result(job)));
    assert.deepEqual(
      results.map((result) => Buffer.from(result.payload).toString()),
      queued.map((_, i) => `self-removing ${i}`),
    );
  });

  // Resolves once `job` is no longer in the queue.
  async function gone(job: HeavyliftJob): Promise<void> {
    for (let waited = 0; (await jobs.queue.getJobState(job.id!)) !== 'unknown'; waited += 20) {
      assert.ok(waited < 10_000, `job ${job.id} was not removed within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('result of a job removed on completion', async () => {
    const job = await jobs.enqueue('testing.echo', { payload: Buffer.from('removed') }, { removeOnComplete: true });
    await gone(job);
    const result = await jobs.result(job);
    assert.equal(Buffer.from(result.payload).toString(), 'removed');
  });

  test('result of a job removed on failure', async () => {
    const job = await jobs.enqueue('testing.fail', { code: 'RESOURCE_EXHAUSTED', message: 'busy' }, { removeOnFail: true });
    await gone(job);
    const error = await jobs.result(job).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ResourceExhaustedError, String(error));
    assert.equal(error.message, 'busy');
  });

  test('result of an unknown job is NotFoundError', async () => {
    const job = new Job(jobs.queue, 'testing.echo', {}, {}, 'no-such-job') as HeavyliftJob<'testing.echo'>;
    const error = await jobs.result(job).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof NotFoundError, String(error));
    assert.equal(error.reason, 'JOB_NOT_FOUND');
    assert.match(error.message, /no-such-job/);
  });

  test('result wait past timeoutMs is DeadlineExceededError', async () => {
    const job = await jobs.enqueue('testing.sleep', { durationMs: 3000 });
    const error = await jobs.result(job, { timeoutMs: 200 }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof DeadlineExceededError, String(error));
    assert.equal(error.reason, 'RESULT_TIMEOUT');
    // The job itself still completes.
    const { elapsedMs } = await jobs.result(job);
    assert.ok(elapsedMs >= 3000, `slept ${elapsedMs} ms`);
  });

  test('every built-in task kind runs from the queue', async () => {
    const csv = await jobs.result(await jobs.enqueue('files.profile_csv', {
      input: { data: Buffer.from('name,qty\nbolt,3\nnut,5\n') },
    }));
    assert.equal(csv.profile?.rows, 2);
    assert.deepEqual(csv.profile?.columns.map((column) => column.name), ['name', 'qty']);

    const digest = await jobs.result(await jobs.enqueue('files.digest', { input: { data: Buffer.from('abc') } }));
    assert.equal(digest.digests?.sha256, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');

    const photo = await jobs.putBlob(readFileSync('/usr/share/backgrounds/mate/nature/Dune.jpg'), { ttlSeconds: 60 });
    const metadata = await jobs.result(await jobs.enqueue('image.metadata', { input: photo }));
    assert.equal(metadata.metadata?.width, 1680);

    const bcrypt = await jobs.result(await jobs.enqueue('crypto.bcrypt.hash', { password: Buffer.from('pw'), cost: 4 }));
    assert.match(bcrypt.hash, /^\$2b\$04\$/);
  });

  test('unknown task rejects before sending', async () => {
    await assert.rejects(jobs.enqueue('no.such.task' as 'testing.echo', {}), InvalidArgumentError);
    await assert.rejects(jobs.enqueue('testing.echo', {}, { timeoutMs: -1 }), InvalidArgumentError);
  });

  test('enqueue takes proto3 JSON: proto field names, enum names or suffixes, Buffers', async () => {
    const photo = readFileSync('/usr/share/backgrounds/mate/nature/Dune.jpg');
    const job = await jobs.enqueue('image.thumbnail', { input: { data: photo }, widths: [96], format: 'webp', auto_orient: true } as never);
    assert.deepEqual(job.data, { input: { data: photo.toString('base64') }, widths: [96], format: 'IMAGE_FORMAT_WEBP', autoOrient: true });
    const { thumbnails } = await jobs.result(job);
    assert.equal(thumbnails[0]!.width, 96);
    assert.equal(Buffer.from(thumbnails[0]!.data).subarray(8, 12).toString(), 'WEBP');
    const byNumber = await jobs.enqueue('image.thumbnail', { input: { path: 'a.jpg' }, widths: [96], format: 2 });
    assert.equal((byNumber.data as { format: string }).format, 'IMAGE_FORMAT_WEBP');
    // A job locked by the worker cannot be removed, so the test waits for this one to fail first.
    // A job left running would change the job counts that the next test compares.
    await jobs.result(byNumber).catch(() => undefined);
    await byNumber.remove();
  });

  test('enqueue rejects an unknown field, naming it, before sending', async () => {
    const before = await jobs.queue.getJobCounts();
    const error = await jobs
      // @ts-expect-error payloadd is not a field of EchoRequest
      .enqueue('testing.echo', { payloadd: Buffer.from('x') })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'request.payloadd');
    assert.equal(error.reason, 'UNKNOWN_FIELD');
    assert.match(error.message, /request\.payloadd is not a field of heavylift\.v1\.EchoRequest \(its fields: payload\)/);
    const nested = await jobs
      .enqueue('image.thumbnail', { input: { pathh: 'a.jpg' } as never, widths: [96] })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(nested instanceof InvalidArgumentError, String(nested));
    assert.equal(nested.field, 'request.input.pathh');
    assert.match(nested.message, /\(its fields: data, path, redisKey\)/);
    assert.deepEqual(await jobs.queue.getJobCounts(), before);
  });

  test('enqueue rejects a value of the wrong type, naming the field', async () => {
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      // @ts-expect-error widths are numbers
      [() => jobs.enqueue('image.thumbnail', { widths: [96, 'big'] }), 'request.widths[1]', /uint32/],
      [() => jobs.enqueue('image.thumbnail', { widths: [-1] }), 'request.widths[0]', /integer in 0\.\.4294967295/],
      // @ts-expect-error 'gif' is not an ImageFormat
      [() => jobs.enqueue('image.thumbnail', { format: 'gif' }), 'request.format', /one of 'unspecified', 'jpeg', 'webp'/],
      [() => jobs.enqueue('image.thumbnail', { input: { data: Buffer.from('a'), path: 'a.jpg' } }), 'request.input.path', /only one of data, path/],
      // The ts-proto shape of a oneof is not proto3 JSON.
      [() => jobs.enqueue('image.thumbnail', { input: { source: { $case: 'path', path: 'a.jpg' } } } as never), 'request.input.source', /not a field of heavylift\.v1\.BlobRef/],
      // @ts-expect-error durationMs is a number
      [() => jobs.enqueue('testing.sleep', { durationMs: { ms: 5 } }), 'request.durationMs', /uint32/],
      [() => jobs.enqueue('testing.echo', 'payload' as never), 'request', /EchoRequest object/],
    ];
    for (const [enqueue, field, message] of cases) {
      const error = await enqueue().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof InvalidArgumentError, `${field}: ${String(error)}`);
      assert.equal(error.field, field);
      assert.match(error.message, message);
    }
  });

  test('traceparent travels as BullMQ telemetry metadata (tm)', async () => {
    const job = await jobs.enqueue('testing.echo', {}, { traceparent: TRACEPARENT });
    const stored = await Job.fromId(jobs.queue, job.id!);
    assert.deepEqual(JSON.parse(stored!.opts.telemetry!.metadata!), { traceparent: TRACEPARENT });
    const redis = new IORedis({ host: '127.0.0.1', port: redisPort });
    try {
      const opts = JSON.parse((await redis.hget(`bull:${queueName}:${job.id}`, 'opts'))!) as { tm?: string };
      assert.deepEqual(JSON.parse(opts.tm!), { traceparent: TRACEPARENT });
    } finally {
      await redis.quit();
    }
    await jobs.result(job);
    await assert.rejects(jobs.enqueue('testing.echo', {}, { traceparent: '00-abc-01' }), (error: unknown) =>
      error instanceof InvalidArgumentError && error.field === 'traceparent');
  });

  test('the traceparent provider of createJobs is the default', async () => {
    let current: string | undefined = TRACEPARENT;
    const traced = createJobs({ connection: { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null }, queueName, traceparent: () => current });
    try {
      const fromProvider = await traced.enqueue('testing.echo', {});
      assert.deepEqual(JSON.parse(fromProvider.opts.telemetry!.metadata!), { traceparent: TRACEPARENT });
      const other = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const explicit = await traced.enqueue('testing.echo', {}, { traceparent: other });
      assert.deepEqual(JSON.parse(explicit.opts.telemetry!.metadata!), { traceparent: other });
      current = undefined;
      const untraced = await traced.enqueue('testing.echo', {});
      assert.equal(untraced.opts.telemetry, undefined);
      await Promise.all([fromProvider, explicit, untraced].map((job) => traced.result(job)));
    } finally {
      await traced.close();
    }
  });

  test('a task set from heavylift-gen --task types and checks custom requests', async () => {
    // No worker reads this queue: the test checks what enqueue sends.
    const custom = createJobs({
      connection: { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null },
      queueName: `${queueName}-custom`,
      tasks: pricingTasks,
    });
    try {
      const blob = await custom.putBlob(Buffer.from('terms'), { ttlSeconds: 60 });
      const job = await custom.enqueue('pricing.quote', {
        items: [{ sku: 'A1', quantity: 2 }, { sku: 'B2' }],
        currency: 'eur',
        customerId: 1234567890123456789n,
        discounts: { A1: 0.5 },
        couponToken: Buffer.from([1, 2, 3]),
        attachment: blob,
      });
      assert.equal(job.name, 'pricing.quote');
      assert.deepEqual(job.data, {
        items: [{ sku: 'A1', quantity: 2 }, { sku: 'B2' }],
        currency: 'CURRENCY_EUR',
        customerId: '1234567890123456789',
        discounts: { A1: 0.5 },
        couponToken: 'AQID',
        attachment: { redisKey: blob.redisKey },
      });
      // @ts-expect-error quantity is a number
      const typed = custom.enqueue('pricing.quote', { items: [{ sku: 'A1' }, { quantity: 'two' }] });
      await assert.rejects(typed, (error: unknown) => error instanceof InvalidArgumentError && error.field === 'request.items[1].quantity');
      await assert.rejects(custom.enqueue('pricing.quote', { couponCode: 'X', couponToken: 'AQID' }), (error: unknown) =>
        error instanceof InvalidArgumentError && error.field === 'request.couponToken');
      await assert.rejects(custom.enqueue('pricing.quote', { customerId: 2n ** 63n }), (error: unknown) =>
        error instanceof InvalidArgumentError && error.field === 'request.customerId');
      // The built-in tasks stay typed next to the custom ones.
      const echo = await custom.enqueue('testing.echo', { payload: 'aGk=' });
      assert.deepEqual(echo.data, { payload: 'aGk=' });
      // A result of the custom task decodes with its generated response type.
      const result: { totalCents: number; notes: string[] } | undefined = custom.completedResult(
        Object.assign(job, { returnvalue: { totalCents: '1250', notes: ['ok'] } }),
      );
      assert.deepEqual(result, { totalCents: 1250, notes: ['ok'] });
      await custom.queue.obliterate({ force: true });
    } finally {
      await custom.close();
    }
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

  test('errorFromFailedJob uses caller field names', () => {
    const scrypt = errorFromFailedJob('INVALID_ARGUMENT: policy.scrypt_log2_n must be in 10..20, got 25', [
      JSON.stringify({ code: 'INVALID_ARGUMENT', field: 'policy.scrypt_log2_n', bound: 'in 10..20', value: '25' }),
    ]);
    assert.equal(scrypt.field, 'policy.scryptLog2N');
    assert.equal(scrypt.message, 'policy.scryptLog2N must be in 10..20, got 25');
    assert.equal(scrypt.details, 'policy.scrypt_log2_n must be in 10..20, got 25');

    // Only the whole path changes, not a longer name that contains it.
    const output = errorFromFailedJob('INVALID_ARGUMENT: output_path names a directory: out/output_path_1', [
      JSON.stringify({ code: 'INVALID_ARGUMENT', field: 'output_path', reason: 'NOT_A_FILE' }),
    ]);
    assert.equal(output.message, 'outputPath names a directory: out/output_path_1');
  });
});
