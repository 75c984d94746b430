// Custom tasks taken from the job queues with no code of their own: the
// daemon built from tests/e2e/custom-task/fixture (catalog.search from
// examples/custom-task and faulty.run) as a BullMQ worker on a real
// redis-server and an AMQP worker on a real rabbitmq-server. Node enqueues
// with the SDK's createJobs and the task set from heavylift-gen --task, with
// bullmq's own Queue, and with plain amqplib messages.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import amqplib from 'amqplib';
import { Queue } from 'bullmq';
import { amqp, createJobs, DeadlineExceededError, InternalError, InvalidArgumentError } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

import { openQueueEvents } from '../bullmq/lib.mjs';
import { rejectionOf, REPO_ROOT } from '../lib/helpers.mjs';
import { takeFromQueue, useRabbitMq } from '../lib/rabbitmq.mjs';
import { RedisServer } from '../lib/redis.mjs';
import { generateCatalog, search } from '../../../examples/custom-task/js/catalog.mjs';
import { BUILD_TIMEOUT_MS, buildDaemon, genDir, generateTypes, workDir } from './lib.mjs';

// A smaller catalog than the gRPC equality test: the queues carry the same
// requests and results whatever the catalog's size.
const CATALOG_SIZE = 100_000;
const CATALOG_SEED = 11;
const BULLMQ_QUEUE = 'custom-tasks';
const AMQP_QUEUE = 'custom.tasks';
// Generous for the sanitizer build on a loaded machine.
const RESULT_TIMEOUT_MS = 60_000;

describe('custom tasks over BullMQ and AMQP', { timeout: BUILD_TIMEOUT_MS + 180_000 }, () => {
  const rabbit = useRabbitMq();
  let redis;
  let daemon;
  let jobs;
  let products;

  before(async () => {
    const fixture = path.join(REPO_ROOT, 'tests', 'e2e', 'custom-task', 'fixture');
    const catalogProto = path.join(REPO_ROOT, 'examples', 'custom-task', 'server', 'proto');
    const bin = await buildDaemon(fixture, workDir('fixture'), 'heavylift-e2e-custom');
    // One task set for both protos: heavylift-gen takes several files and tasks.
    const out = genDir('queues');
    await generateTypes([catalogProto, path.join(fixture, 'proto')], [
      path.join(catalogProto, 'catalog', 'v1', 'catalog.proto'),
      path.join(fixture, 'proto', 'faulty', 'v1', 'faulty.proto'),
    ], out, ['catalog.search=SearchRequest:SearchResponse', 'faulty.run=FaultRequest:FaultResponse']);
    const { tasks } = await import(pathToFileURL(path.join(out, 'heavylift-tasks.js')).href);

    redis = await RedisServer.start();
    daemon = await startDaemon({
      bin,
      args: [
        '--executor-threads', '2',
        '--bullmq-redis-url', redis.url,
        '--bullmq-queue', BULLMQ_QUEUE,
        '--amqp-url', rabbit.broker.url,
        '--amqp-queue', AMQP_QUEUE,
        '--amqp-max-attempts', '2',
        '--amqp-retry-delay-ms', '100',
      ],
      env: { CATALOG_SIZE: String(CATALOG_SIZE), CATALOG_SEED: String(CATALOG_SEED) },
      timeoutMs: 60_000,
    });
    await daemon.waitForLog('event=bullmq.worker_started', 30_000);
    await daemon.waitForLog('event=amqp.connected', 30_000);
    jobs = createJobs({ connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, queueName: BULLMQ_QUEUE, tasks });
    products = generateCatalog(CATALOG_SIZE, CATALOG_SEED);
  });

  after(async () => {
    await jobs?.close();
    if (daemon) {
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);
    }
    await redis?.stop();
    await rabbit.broker?.stop();
  });

  test('BullMQ: the example task runs from the queue with the ranking of the JavaScript version', async () => {
    const request = { query: 'oak desk', category: 'office', limit: 15 };
    const job = await jobs.enqueue('catalog.search', request);
    const result = await jobs.result(job, { timeoutMs: RESULT_TIMEOUT_MS });
    const expected = search(products, request);
    assert.ok(expected.products.length > 0);
    assert.equal(result.matched, expected.matched);
    assert.deepEqual(result.products, expected.products);
  });

  test("BullMQ: bullmq's own Queue.add with the proto3 JSON gets the result as returnvalue", async () => {
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const queue = new Queue(BULLMQ_QUEUE, { connection });
    const events = await openQueueEvents(queue, connection);
    try {
      const job = await queue.add('catalog.search', { query: 'vintge lamp', min_rating: 40, limit: 5 });
      const returnvalue = await job.waitUntilFinished(events, RESULT_TIMEOUT_MS);
      const expected = search(products, { query: 'vintge lamp', minRating: 40, limit: 5 });
      assert.equal(returnvalue.matched, expected.matched);
      assert.deepEqual(returnvalue.products.map((product) => product.id), expected.products.map((product) => product.id));
    } finally {
      await events.close();
      await queue.close();
    }
  });

  test('BullMQ: a task that throws fails the job with INTERNAL, and InternalError in Node', async () => {
    const job = await jobs.enqueue('faulty.run', { mode: 'throw' });
    const error = await rejectionOf(jobs.result(job, { timeoutMs: RESULT_TIMEOUT_MS }));
    assert.ok(error instanceof InternalError, String(error));
    const failed = await jobs.queue.getJob(job.id);
    assert.match(failed.failedReason, /^INTERNAL: .*faulty\.run threw on request/);
  });

  test('BullMQ: a task past its timeout fails the job with DEADLINE_EXCEEDED', async () => {
    const job = await jobs.enqueue('faulty.run', { mode: 'spin' }, { timeoutMs: 300 });
    const error = await rejectionOf(jobs.result(job, { timeoutMs: RESULT_TIMEOUT_MS }));
    assert.ok(error instanceof DeadlineExceededError, String(error));
    const failed = await jobs.queue.getJob(job.id);
    assert.match(failed.failedReason, /^DEADLINE_EXCEEDED: /);
  });

  test('BullMQ: an error code with field and bound fails at once, without retries', async () => {
    const job = await jobs.enqueue('faulty.run', { mode: 'bound', count: 11 }, { attempts: 3 });
    const error = await rejectionOf(jobs.result(job, { timeoutMs: RESULT_TIMEOUT_MS }));
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'count');
    assert.equal(error.bound, 'at most 10');
    assert.equal(error.value, '11');
    const failed = await jobs.queue.getJob(job.id);
    assert.equal(failed.attemptsMade, 1);
    assert.match(failed.failedReason, /^INVALID_ARGUMENT: /);
  });

  test('BullMQ: the worker keeps serving after the failures', async () => {
    const job = await jobs.enqueue('faulty.run', { mode: 'ok', count: 3 });
    assert.deepEqual(await jobs.result(job, { timeoutMs: RESULT_TIMEOUT_MS }), { mode: 'ok', count: 3 });
    const search = await jobs.enqueue('catalog.search', { query: 'steel kettle' });
    assert.ok((await jobs.result(search, { timeoutMs: RESULT_TIMEOUT_MS })).products.length > 0);
  });

  describe('AMQP', () => {
    let connection;
    let channel;

    before(async () => {
      connection = await amqplib.connect(rabbit.broker.url);
      channel = await connection.createConfirmChannel();
    });

    after(async () => {
      await connection?.close();
    });

    // Publishes `request` as proto3 JSON for `task` and returns the reply message.
    async function call(task, request, messageId) {
      const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(AMQP_QUEUE, Buffer.from(JSON.stringify(request)), {
        contentType: 'application/json',
        headers: { [amqp.TASK_HEADER]: task },
        replyTo: replyQueue,
        correlationId: messageId,
        messageId,
      });
      await channel.waitForConfirms();
      return takeFromQueue(channel, replyQueue, () => true, RESULT_TIMEOUT_MS);
    }

    test('the example task replies with the ranking of the JavaScript version', async () => {
      const request = { query: 'Wooden CHAIR lamp', inStockOnly: true, limit: 10 };
      const reply = await call('catalog.search', request, 'catalog-1');
      assert.equal(reply.properties.headers[amqp.STATUS_HEADER], 'completed');
      const result = JSON.parse(reply.content.toString());
      const expected = search(products, request);
      assert.equal(result.matched, expected.matched);
      assert.deepEqual(result.products, expected.products);
    });

    test('a task that throws replies failed with INTERNAL; an error code keeps field and bound', async () => {
      const thrown = amqp.decodeTaskOutcome(await call('faulty.run', { mode: 'throw' }, 'faulty-throw'));
      assert.equal(thrown.status, 'failed');
      assert.ok(thrown.error instanceof InternalError, String(thrown.error));
      const bound = amqp.decodeTaskOutcome(await call('faulty.run', { mode: 'bound', count: 12 }, 'faulty-bound'));
      assert.equal(bound.status, 'failed');
      assert.ok(bound.error instanceof InvalidArgumentError, String(bound.error));
      assert.equal(bound.error.field, 'count');
      assert.equal(bound.error.bound, 'at most 10');
      const ok = await call('faulty.run', { mode: 'ok', count: 2 }, 'faulty-ok');
      assert.equal(ok.properties.headers[amqp.STATUS_HEADER], 'completed');
      assert.deepEqual(JSON.parse(ok.content.toString()), { mode: 'ok', count: 2 });
    });
  });
});
