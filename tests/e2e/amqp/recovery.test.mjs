// The AMQP worker across failures: a daemon killed with SIGKILL mid-task
// leaves the message unacknowledged, so the broker redelivers it to the next
// daemon, which counts the interrupted attempt. A message that crashes every
// daemon ends in the dead-letter queue after the maximum attempts. A broker
// restart with thousands of messages in flight loses none.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';

import amqplib from 'amqplib';
import { amqp } from 'heavylift';

import { readMetrics, startTestDaemon, sumSamples } from '../lib/helpers.mjs';
import { takeFromQueue, useRabbitMq } from '../lib/rabbitmq.mjs';

// The scale by default; AMQP_E2E_RESTART_MESSAGES overrides it, and
// the sanitizer run, whose daemon is several times slower, uses a tenth.
const RESTART_MESSAGES = Number(
  process.env.AMQP_E2E_RESTART_MESSAGES ?? (process.env.HEAVYLIFT_E2E_SANITIZED ? 500 : 5000),
);

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Resolves with { code, signal } once `daemon` has exited.
async function exitOf(daemon) {
  const { exitCode, signalCode } = daemon.process;
  if (exitCode !== null || signalCode !== null) return { code: exitCode, signal: signalCode };
  const [code, signal] = await once(daemon.process, 'exit');
  return { code, signal };
}

async function stopDaemon(daemon) {
  const exit = await daemon.stop();
  assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);
}

describe('AMQP worker recovery', { timeout: 240_000 }, () => {
  const rabbit = useRabbitMq();
  const daemons = [];

  const startWorker = async (queue, extra = []) => {
    const daemon = await startTestDaemon([
      '--amqp-url', rabbit.broker.url,
      '--amqp-queue', queue,
      '--amqp-reconnect-max-ms', '500',
      '--testing-tasks', 'true',
      ...extra,
    ]);
    daemons.push(daemon);
    await daemon.waitForLog('event=amqp.connected', 30_000);
    return daemon;
  };

  after(async () => {
    for (const daemon of daemons) {
      if (daemon.process.exitCode === null && daemon.process.signalCode === null) await daemon.stop();
    }
    await rabbit.broker?.stop();
  });

  test('a daemon killed mid-task: the message is redelivered and completed', async () => {
    const queue = 'e2e.killed';
    const retryDelayMs = 300;
    const flags = ['--amqp-concurrency', '1', '--amqp-retry-delay-ms', String(retryDelayMs)];
    const first = await startWorker(queue, flags);
    const connection = await amqplib.connect(rabbit.broker.url);
    try {
      const tasks = await amqp.AmqpTaskClient.create(connection, { queue, retryDelayMs });
      const call = tasks.callOutcome('testing.sleep', { durationMs: 2000 }, { messageId: 'killed-1', timeoutMs: 90_000 });

      await waitFor(
        'the first daemon to start the task',
        async () => sumSamples(await readMetrics(first.httpAddress), 'heavylift_amqp_messages_in_flight') === 1,
        20_000,
      );
      const exit = await first.stop('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');

      const second = await startWorker(queue, flags);
      const outcome = await call;
      assert.equal(outcome.status, 'completed');
      assert.equal(outcome.messageId, 'killed-1');
      assert.equal(outcome.redelivered, true, 'the result says the message was redelivered');
      assert.ok(outcome.result.elapsedMs >= 2000);
      // The interrupted run was attempt 1; the copy the second daemon made ran as attempt 2.
      assert.equal(outcome.attempt, 2);
      assert.equal(outcome.result.attempt, 2);
      assert.match(second.logs(), /event=amqp\.attempt_interrupted job_id=killed-1 task=testing\.sleep attempt=1 max_attempts=3 action=retry/);

      // The daemon counts a message as settled after the broker confirms the
      // result it published, so the counter may trail the reply the client read.
      await waitFor(
        'the second daemon to count the message as completed',
        async () =>
          sumSamples(await readMetrics(second.httpAddress), 'heavylift_amqp_messages_total', { task: 'testing.sleep', outcome: 'completed' }) >= 1,
        20_000,
      );
      const samples = await readMetrics(second.httpAddress);
      assert.equal(sumSamples(samples, 'heavylift_amqp_redeliveries_total'), 1);
      assert.equal(sumSamples(samples, 'heavylift_amqp_messages_total', { task: 'testing.sleep', outcome: 'retried' }), 1);
      assert.equal(sumSamples(samples, 'heavylift_amqp_messages_total', { task: 'testing.sleep', outcome: 'completed' }), 1);
      await tasks.close();
      await stopDaemon(second);
    } finally {
      await connection.close();
    }
  });

  test('crash-looping message is dead-lettered after max attempts', async () => {
    const queue = 'e2e.poison';
    const maxAttempts = 3;
    const retryDelayMs = 200;
    const flags = [
      '--amqp-concurrency', '1',
      '--amqp-max-attempts', String(maxAttempts),
      '--amqp-retry-delay-ms', String(retryDelayMs),
    ];
    const connection = await amqplib.connect(rabbit.broker.url);
    try {
      const channel = await connection.createConfirmChannel();
      await amqp.assertTaskQueues(channel, { queue, retryDelayMs });
      const { queue: replies } = await channel.assertQueue('', { exclusive: true });
      const payload = Buffer.from('poison');
      amqp.publishTask(channel, 'testing.crash', { payload }, { queue, messageId: 'poison-1', replyTo: replies });
      await channel.waitForConfirms();

      // Restart the daemon after each crash, as a supervisor would, until one
      // dead-letters the message instead of running it.
      const crashedAttempts = [];
      let survivor;
      while (survivor === undefined) {
        assert.ok(crashedAttempts.length <= maxAttempts, `the daemon crashed ${crashedAttempts.length} times`);
        const daemon = await startWorker(queue, flags);
        const ended = await Promise.race([
          exitOf(daemon),
          // A rejection (the daemon exited first) leaves the race to exitOf.
          daemon.waitForLog('action=dead_letter', 120_000).then(() => 'dead_lettered', () => new Promise(() => {})),
        ]);
        if (ended === 'dead_lettered') {
          survivor = daemon;
        } else {
          assert.equal(ended.signal, 'SIGKILL', `daemon exited with ${JSON.stringify(ended)}; logs:\n${daemon.logs()}`);
          const crash = /event=testing\.crash request_id=poison-1 attempt=(\d+)/.exec(daemon.logs());
          assert.ok(crash, `the daemon crashed in testing.crash; logs:\n${daemon.logs()}`);
          crashedAttempts.push(Number(crash[1]));
        }
      }
      assert.deepEqual(crashedAttempts, [1, 2, 3], 'each crash used up one attempt');

      const dead = await takeFromQueue(channel, `${queue}.dead`, (m) => m.properties.messageId === 'poison-1');
      const headers = dead.properties.headers;
      assert.equal(headers[amqp.DEAD_REASON_HEADER], 'MAX_ATTEMPTS');
      assert.equal(headers[amqp.ATTEMPT_HEADER], maxAttempts);
      assert.equal(headers[amqp.TASK_HEADER], 'testing.crash');
      assert.equal(headers[amqp.REDELIVERED_HEADER], true);
      assert.match(headers[amqp.ERROR_HEADER], /^INTERNAL: attempt 3 of 3 was interrupted/);
      assert.deepEqual(amqp.encodeTaskRequest('testing.crash', { payload }), dead.content, 'the body is kept');

      // The caller waiting on reply_to hears about it instead of timing out.
      const reply = await takeFromQueue(channel, replies, (m) => m.properties.messageId === 'poison-1');
      const outcome = amqp.decodeTaskOutcome(reply);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.attempt, maxAttempts);
      assert.equal(outcome.redelivered, true);
      assert.equal(outcome.error.reason, 'ATTEMPT_INTERRUPTED');

      const checker = await connection.createChannel();
      assert.equal((await checker.checkQueue(queue)).messageCount, 0, 'the task queue is empty');
      assert.equal((await checker.checkQueue(`${queue}.retry`)).messageCount, 0, 'the retry queue is empty');
      const samples = await readMetrics(survivor.httpAddress);
      assert.equal(sumSamples(samples, 'heavylift_amqp_dead_lettered_total', { reason: 'MAX_ATTEMPTS' }), 1);
      await stopDaemon(survivor);
    } finally {
      await connection.close();
    }
  });

  test('SIGTERM past the grace period returns the running message to the broker', async () => {
    const queue = 'e2e.drained';
    const first = await startWorker(queue, ['--amqp-concurrency', '1', '--shutdown-grace-ms', '300']);
    const connection = await amqplib.connect(rabbit.broker.url);
    try {
      const tasks = await amqp.AmqpTaskClient.create(connection, { queue });
      const call = tasks.callOutcome('testing.sleep', { durationMs: 3000 }, { messageId: 'drained-1', timeoutMs: 90_000 });
      await waitFor(
        'the first daemon to start the task',
        async () => sumSamples(await readMetrics(first.httpAddress), 'heavylift_amqp_messages_in_flight') === 1,
        20_000,
      );

      const stopping = Date.now();
      await stopDaemon(first);
      assert.ok(Date.now() - stopping < 2500, 'the drain ends soon after the grace period, not after the task');
      assert.match(first.logs(), /event=amqp.grace_expired/);

      const second = await startWorker(queue, ['--amqp-concurrency', '1']);
      const outcome = await call;
      assert.equal(outcome.status, 'completed');
      assert.equal(outcome.messageId, 'drained-1');
      // The first daemon republished the message instead of rejecting it, so
      // the broker does not redeliver it and the shutdown used no attempt;
      // the copy still marks that the task may have run before.
      assert.equal(outcome.attempt, 1, 'a run cut short by a shutdown is not a failed attempt');
      assert.equal(outcome.redelivered, true);
      assert.equal(sumSamples(await readMetrics(second.httpAddress), 'heavylift_amqp_redeliveries_total'), 0);
      await tasks.close();
    } finally {
      await connection.close();
    }
  });

  test(`a broker restart with ${RESTART_MESSAGES} messages in flight: all processed, none lost`, async (t) => {
    const queue = 'e2e.restart';
    const resultsQueue = 'e2e.restart.results';
    const daemon = await startWorker(queue, ['--amqp-concurrency', '32']);

    // Publish every message and its results queue before the restart; all
    // are durable and persistent, so the broker keeps them across it.
    let connection = await amqplib.connect(rabbit.broker.url);
    connection.on('error', () => {});
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {});
    await amqp.assertTaskQueues(channel, { queue });
    await channel.assertQueue(resultsQueue, { durable: true });
    await channel.bindQueue(resultsQueue, amqp.DEFAULT_RESULTS_EXCHANGE, 'testing.sleep');
    for (let i = 0; i < RESTART_MESSAGES; i += 1) {
      amqp.publishTask(channel, 'testing.sleep', { durationMs: 1 }, { queue, messageId: `m-${i}` });
    }
    await channel.waitForConfirms();

    // Restart while a fifth to most of the work is done, so messages are
    // queued, running and waiting for confirms when the broker goes away.
    await waitFor(
      'a fifth of the results',
      async () => (await channel.checkQueue(resultsQueue)).messageCount >= RESTART_MESSAGES / 5,
      60_000,
    );
    const doneBeforeRestart = (await channel.checkQueue(resultsQueue)).messageCount;
    await connection.close().catch(() => {});
    const restartStarted = Date.now();
    await rabbit.broker.restart();
    const restartMs = Date.now() - restartStarted;

    connection = await amqplib.connect(rabbit.broker.url);
    const seen = new Map();
    let received = 0;
    try {
      const consumer = await connection.createChannel();
      await consumer.prefetch(500);
      await consumer.consume(resultsQueue, (message) => {
        received += 1;
        const outcome = amqp.decodeTaskOutcome(message);
        assert.equal(outcome.status, 'completed', `message ${outcome.messageId} failed: ${outcome.error}`);
        seen.set(outcome.messageId, (seen.get(outcome.messageId) ?? 0) + 1);
        consumer.ack(message);
      });
      await waitFor(`results of all ${RESTART_MESSAGES} messages`, () => seen.size === RESTART_MESSAGES, 150_000);
      const checker = await connection.createChannel();
      assert.equal((await checker.checkQueue(queue)).messageCount, 0, 'the task queue is drained');
      assert.equal((await checker.checkQueue(`${queue}.dead`)).messageCount, 0, 'nothing was dead-lettered');
    } finally {
      await connection.close();
    }

    for (let i = 0; i < RESTART_MESSAGES; i += 1) assert.ok(seen.has(`m-${i}`), `result of m-${i} is missing`);
    const duplicates = received - RESTART_MESSAGES;
    const samples = await readMetrics(daemon.httpAddress);
    const reconnects = sumSamples(samples, 'heavylift_amqp_reconnects_total');
    const redeliveries = sumSamples(samples, 'heavylift_amqp_redeliveries_total');
    t.diagnostic(
      `${RESTART_MESSAGES} messages, ${doneBeforeRestart} done before the restart, ${received} results, ` +
        `${duplicates} duplicates, ${redeliveries} redeliveries, ${reconnects} reconnects`,
    );
    assert.ok(reconnects >= 1, 'the worker reconnected');
    // Reconnects back off (at least 50 ms apart, up to 500 ms here) instead of spinning.
    assert.ok(reconnects <= restartMs / 50 + 20, `${reconnects} reconnect attempts during a ${restartMs} ms restart`);
    // A duplicate result comes from a message whose result was confirmed but
    // whose ack was lost with the connection; the broker redelivers each.
    assert.ok(duplicates <= redeliveries, `${duplicates} duplicates but only ${redeliveries} redeliveries`);
    await stopDaemon(daemon);
  });
});
