// The AMQP worker against a real rabbitmq-server: amqplib publishes, the
// daemon runs each task kind and replies; failures retry and end in the
// dead-letter queue with their reason; undecodable messages go there at once.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import amqplib from 'amqplib';
import { amqp, childTraceparent, InvalidArgumentError, traceIdOf, UnimplementedError, UnavailableError } from 'heavylift';

import { PHOTOS, PHOTOS_DIR, readJpegSize, readMetrics, sumSamples, useDaemon } from '../lib/helpers.mjs';
import { takeFromQueue, useRabbitMq } from '../lib/rabbitmq.mjs';

const QUEUE = 'e2e.tasks';
const RETRY_DELAY_MS = 200;
const MAX_ATTEMPTS = 3;
// Above the inline photo (Aqua.jpg, 200 KB); the oversized-message test sends one byte more.
const MAX_MESSAGE_BYTES = 1 << 20;

describe('AMQP worker tasks', { timeout: 120_000 }, () => {
  const rabbit = useRabbitMq();
  const running = useDaemon(() => [
    '--amqp-url', rabbit.broker.url,
    '--amqp-queue', QUEUE,
    '--amqp-max-attempts', String(MAX_ATTEMPTS),
    '--amqp-retry-delay-ms', String(RETRY_DELAY_MS),
    '--amqp-concurrency', '4',
    '--amqp-max-message-bytes', String(MAX_MESSAGE_BYTES),
    '--testing-tasks', 'true',
    '--blob-root', PHOTOS_DIR,
    // Completed tasks log event=task.finished at debug level, with their trace id.
    '--log-level', 'debug',
  ]);
  let connection;
  let channel;
  let tasks;

  before(async () => {
    await running.daemon.waitForLog('event=amqp.connected', 30_000);
    connection = await amqplib.connect(rabbit.broker.url);
    channel = await connection.createConfirmChannel();
    tasks = await amqp.AmqpTaskClient.create(connection, { queue: QUEUE, retryDelayMs: RETRY_DELAY_MS });
  });

  after(async () => {
    await tasks?.close();
    await connection?.close();
    await rabbit.broker?.stop();
  });

  test('testing.echo replies with the payload, correlation id and attempt 1', async () => {
    const payload = Buffer.from('hello over AMQP \u00e9');
    const outcome = await tasks.callOutcome('testing.echo', { payload }, { messageId: 'echo-1' });
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.attempt, 1);
    assert.equal(outcome.messageId, 'echo-1');
    assert.deepEqual(Buffer.from(outcome.result.payload), payload);
  });

  test('testing.sleep runs on the executor and reports its elapsed time', async () => {
    const result = await tasks.call('testing.sleep', { durationMs: 150, busy: false });
    assert.ok(result.elapsedMs >= 150, `elapsedMs ${result.elapsedMs} should be at least 150`);
    assert.equal(result.attempt, 1);
  });

  test('image.thumbnail by blob path returns JPEGs of the requested widths', async () => {
    const relative = path.relative(PHOTOS_DIR, PHOTOS.dune);
    const result = await tasks.call('image.thumbnail', {
      input: { source: { $case: 'path', path: relative } },
      widths: [160, 320],
    });
    assert.equal(result.sourceWidth, 1680);
    assert.equal(result.sourceHeight, 1050);
    assert.deepEqual(
      result.thumbnails.map((thumbnail) => readJpegSize(Buffer.from(thumbnail.data))),
      [{ width: 160, height: 100 }, { width: 320, height: 200 }],
    );
  });

  test('image.thumbnail with the photo inline in the message', async () => {
    const data = await readFile(PHOTOS.aqua);
    const result = await tasks.call('image.thumbnail', { input: { source: { $case: 'data', data } }, widths: [256] });
    assert.equal(result.sourceWidth, 2560);
    assert.deepEqual(readJpegSize(Buffer.from(result.thumbnails[0].data)), { width: 256, height: 160 });
  });

  test('crypto.argon2id.hash and verify round-trip, and a wrong password does not match', async () => {
    const password = Buffer.from('correct horse battery staple');
    const { hash } = await tasks.call('crypto.argon2id.hash', { password, memoryCost: 8192, timeCost: 2 });
    assert.match(hash, /^\$argon2id\$v=19\$m=8192,t=2,p=1\$/);
    assert.equal((await tasks.call('crypto.argon2id.verify', { password, hash })).match, true);
    const wrong = await tasks.call('crypto.argon2id.verify', { password: Buffer.from('wrong'), hash });
    assert.equal(wrong.match, false);
  });

  test('a request in proto3 JSON gets a proto3 JSON reply', async () => {
    const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(QUEUE, Buffer.from(JSON.stringify({ payload: Buffer.from('json body').toString('base64') })), {
      contentType: 'application/json',
      headers: { [amqp.TASK_HEADER]: 'testing.echo' },
      replyTo: replyQueue,
      correlationId: 'json-1',
      messageId: 'json-1',
    });
    await channel.waitForConfirms();
    const reply = await takeFromQueue(channel, replyQueue, () => true);
    assert.equal(reply.properties.contentType, 'application/json');
    assert.equal(reply.properties.correlationId, 'json-1');
    assert.equal(reply.properties.headers[amqp.STATUS_HEADER], 'completed');
    assert.deepEqual(JSON.parse(reply.content.toString()), { payload: Buffer.from('json body').toString('base64') });
  });

  test('a fire-and-forget message publishes its result to the results exchange', async () => {
    let resolveOutcome;
    const received = new Promise((resolve) => {
      resolveOutcome = resolve;
    });
    const consumerTag = await amqp.consumeResults(channel, { queue: 'e2e.results', pattern: 'testing.echo' }, (outcome) => {
      if (outcome.messageId === 'fire-1') resolveOutcome(outcome);
    });
    amqp.publishTask(channel, 'testing.echo', { payload: Buffer.from('no reply_to') }, { queue: QUEUE, messageId: 'fire-1' });
    await channel.waitForConfirms();
    const outcome = await received;
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.task, 'testing.echo');
    assert.equal(Buffer.from(outcome.result.payload).toString(), 'no reply_to');
    await channel.cancel(consumerTag);
  });

  test('traceparent header reaches task log lines', async () => {
    const traceparent = childTraceparent();
    await tasks.call('testing.echo', { payload: Buffer.from('traced') }, { messageId: 'traced-1', traceparent });
    const line = await running.daemon.waitForLog(`trace_id=${traceIdOf(traceparent)}`);
    assert.match(line, new RegExp(`event=task\\.finished task=testing\\.echo request_id=traced-1 trace_id=${traceIdOf(traceparent)} code=OK`));

    // A fire-and-forget publish with the option sends it too.
    const published = childTraceparent();
    amqp.publishTask(channel, 'testing.echo', { payload: Buffer.from('traced') }, { queue: QUEUE, messageId: 'traced-2', traceparent: published });
    await channel.waitForConfirms();
    assert.match(
      await running.daemon.waitForLog(`trace_id=${traceIdOf(published)}`),
      /event=task\.finished task=testing\.echo request_id=traced-2 /,
    );
  });

  test('client traceparent provider traces failures', async () => {
    const traceparent = childTraceparent();
    const traced = await amqp.AmqpTaskClient.create(connection, {
      queue: QUEUE,
      retryDelayMs: RETRY_DELAY_MS,
      traceparent: () => traceparent,
    });
    try {
      const outcome = await traced.callOutcome('testing.fail', { code: 'FAILED_PRECONDITION' }, { messageId: 'traced-3' });
      assert.equal(outcome.status, 'failed');
    } finally {
      await traced.close();
    }
    const traceId = traceIdOf(traceparent);
    await running.daemon.waitForLog(new RegExp(`event=amqp\\.job_failed job_id=traced-3 .*trace_id=${traceId}`));
    assert.match(running.daemon.logs(), new RegExp(`event=task\\.failed task=testing\\.fail request_id=traced-3 trace_id=${traceId} `));
  });

  test('unparsable traceparent is ignored', async () => {
    const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(QUEUE, amqp.encodeTaskRequest('testing.echo', { payload: Buffer.from('x') }), {
      contentType: 'application/x-protobuf',
      headers: { [amqp.TASK_HEADER]: 'testing.echo', traceparent: '00-not-a-trace-01' },
      replyTo: replyQueue,
      messageId: 'traced-bad',
    });
    await channel.waitForConfirms();
    const reply = await takeFromQueue(channel, replyQueue, () => true);
    assert.equal(reply.properties.headers[amqp.STATUS_HEADER], 'completed');
    const line = await running.daemon.waitForLog('request_id=traced-bad');
    assert.doesNotMatch(line, /trace_id=/);
  });

  test('a retryable failure succeeds on the attempt it asks for', async () => {
    const outcome = await tasks.callOutcome('testing.fail', {
      code: 'UNAVAILABLE',
      message: 'flaky dependency',
      succeedOnAttempt: 2,
    });
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.attempt, 2);
    assert.equal(outcome.result.attempt, 2);
  });

  test('a task failing every attempt is retried, then dead-lettered with the reason', async () => {
    const started = Date.now();
    const outcome = await tasks.callOutcome(
      'testing.fail',
      { code: 'UNAVAILABLE', message: 'always down' },
      { messageId: 'fail-max' },
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.attempt, MAX_ATTEMPTS);
    assert.ok(outcome.error instanceof UnavailableError, `got ${outcome.error}`);
    assert.equal(outcome.error.message, 'always down');
    assert.ok(Date.now() - started >= (MAX_ATTEMPTS - 1) * RETRY_DELAY_MS, 'each retry waits the retry delay');

    const dead = await takeFromQueue(channel, `${QUEUE}.dead`, (m) => m.properties.messageId === 'fail-max');
    const headers = dead.properties.headers;
    assert.equal(headers[amqp.DEAD_REASON_HEADER], 'MAX_ATTEMPTS');
    assert.equal(headers[amqp.ATTEMPT_HEADER], MAX_ATTEMPTS);
    assert.equal(headers[amqp.ERROR_HEADER], 'UNAVAILABLE: always down');
    assert.equal(headers[amqp.TASK_HEADER], 'testing.fail');
    // The body is kept, so the job can be inspected or published again.
    assert.deepEqual(
      amqp.encodeTaskRequest('testing.fail', { code: 'UNAVAILABLE', message: 'always down' }),
      dead.content,
    );
  });

  test('a permanent failure is not retried', async () => {
    const outcome = await tasks.callOutcome(
      'testing.fail',
      { code: 'INVALID_ARGUMENT', message: 'bad input' },
      { messageId: 'fail-permanent' },
    );
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.attempt, 1);
    assert.ok(outcome.error instanceof InvalidArgumentError);
    const dead = await takeFromQueue(channel, `${QUEUE}.dead`, (m) => m.properties.messageId === 'fail-permanent');
    assert.equal(dead.properties.headers[amqp.DEAD_REASON_HEADER], 'PERMANENT_FAILURE');
  });

  test('an undecodable body goes to the dead-letter queue at once, with the reason', async () => {
    const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(QUEUE, Buffer.from('{"payload": not json'), {
      contentType: 'application/json',
      headers: { [amqp.TASK_HEADER]: 'testing.echo' },
      messageId: 'garbage-1',
      replyTo: replyQueue,
    });
    await channel.waitForConfirms();
    const dead = await takeFromQueue(channel, `${QUEUE}.dead`, (m) => m.properties.messageId === 'garbage-1');
    assert.equal(dead.properties.headers[amqp.DEAD_REASON_HEADER], 'UNDECODABLE_JOB_DATA');
    assert.match(dead.properties.headers[amqp.ERROR_HEADER], /^INVALID_ARGUMENT: job data for task testing.echo/);
    assert.equal(dead.content.toString(), '{"payload": not json');

    const reply = amqp.decodeTaskOutcome(await takeFromQueue(channel, replyQueue, () => true));
    assert.equal(reply.status, 'failed');
    assert.ok(reply.error instanceof InvalidArgumentError);
    assert.equal(reply.error.reason, 'UNDECODABLE_JOB_DATA');
  });

  test('an unsupported content type, a missing task name and an unknown task are dead-lettered', async () => {
    const cases = [
      { id: 'bad-type', options: { contentType: 'text/csv', headers: { [amqp.TASK_HEADER]: 'testing.echo' } }, reason: 'UNSUPPORTED_CONTENT_TYPE' },
      { id: 'no-task', options: { contentType: 'application/json' }, reason: 'MISSING_TASK_NAME' },
      { id: 'unknown', options: { headers: { [amqp.TASK_HEADER]: 'video.transcode' } }, reason: 'UNKNOWN_TASK' },
      { id: 'bad-attempt', options: { headers: { [amqp.TASK_HEADER]: 'testing.echo', [amqp.ATTEMPT_HEADER]: 'two' } }, reason: 'WRONG_TYPE' },
    ];
    for (const { id, options } of cases) {
      channel.sendToQueue(QUEUE, Buffer.from('{}'), { ...options, messageId: id });
    }
    await channel.waitForConfirms();
    for (const { id, reason } of cases) {
      const dead = await takeFromQueue(channel, `${QUEUE}.dead`, (m) => m.properties.messageId === id);
      assert.equal(dead.properties.headers[amqp.DEAD_REASON_HEADER], reason, id);
    }
  });

  test('a body over the size bound is rejected to the dead-letter queue by the broker', async () => {
    channel.sendToQueue(QUEUE, Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20), {
      contentType: 'application/json',
      headers: { [amqp.TASK_HEADER]: 'testing.echo' },
      messageId: 'too-large',
    });
    await channel.waitForConfirms();
    const dead = await takeFromQueue(channel, `${QUEUE}.dead`, (m) => m.properties.messageId === 'too-large');
    assert.equal(dead.content.length, MAX_MESSAGE_BYTES + 1, 'the body is kept whole');
    const [death] = dead.properties.headers['x-death'];
    assert.equal(death.reason, 'rejected');
    assert.equal(death.queue, QUEUE);
    const samples = await readMetrics(running.daemon.httpAddress);
    assert.equal(sumSamples(samples, 'heavylift_amqp_dead_lettered_total', { reason: 'MESSAGE_TOO_LARGE' }), 1);
  });

  test('a caller waiting on reply_to for an unknown task gets UnimplementedError', async () => {
    const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(QUEUE, Buffer.from(''), {
      contentType: 'application/x-protobuf',
      headers: { [amqp.TASK_HEADER]: 'no.such.task' },
      replyTo: replyQueue,
      messageId: 'unknown-rpc',
    });
    await channel.waitForConfirms();
    const reply = amqp.decodeTaskOutcome(await takeFromQueue(channel, replyQueue, () => true));
    assert.equal(reply.status, 'failed');
    assert.ok(reply.error instanceof UnimplementedError);
    assert.equal(reply.error.reason, 'UNKNOWN_TASK');
  });

  test('metrics count messages by task and outcome, retries and dead letters', async () => {
    // The caller of the last test got its reply before the broker confirmed
    // the dead-letter copy, so the worker may still hold that message.
    let samples = await readMetrics(running.daemon.httpAddress);
    for (let i = 0; i < 50 && sumSamples(samples, 'heavylift_amqp_messages_in_flight') > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      samples = await readMetrics(running.daemon.httpAddress);
    }
    assert.ok(sumSamples(samples, 'heavylift_amqp_messages_total', { task: 'testing.echo', outcome: 'completed' }) >= 2);
    assert.ok(sumSamples(samples, 'heavylift_amqp_retries_total', { task: 'testing.fail' }) >= 3);
    assert.ok(sumSamples(samples, 'heavylift_amqp_dead_lettered_total', { reason: 'MAX_ATTEMPTS' }) >= 1);
    assert.ok(sumSamples(samples, 'heavylift_amqp_dead_lettered_total', { reason: 'UNDECODABLE_JOB_DATA' }) >= 1);
    assert.equal(sumSamples(samples, 'heavylift_amqp_connections_open'), 1);
    assert.equal(sumSamples(samples, 'heavylift_amqp_messages_in_flight'), 0);
    assert.equal(sumSamples(samples, 'heavylift_amqp_unconfirmed_publishes'), 0);
    // Runs go through the same task runner as gRPC calls, so they count there too.
    assert.ok(sumSamples(samples, 'heavylift_requests_total', { task: 'image.thumbnail', code: 'OK' }) >= 2);
  });
});
