// A daemon with one executor thread and one queue slot under a burst of
// expensive argon2id calls: the overflow is rejected with RESOURCE_EXHAUSTED
// and a retry hint, and the rejections are counted in /metrics.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ResourceExhaustedError, createClient } from 'heavylift';

import { parseArgon2idPhc, readMetrics, useDaemon, sumSamples } from './lib/helpers.mjs';

const CALL_COUNT = 20;
// 64 MiB and 3 passes keep each hash busy long enough for the burst to
// arrive while the single thread and queue slot are taken.
const EXPENSIVE = { memoryCost: 65_536, timeCost: 3, parallelism: 1 };

describe('full executor queue', () => {
  // Overload retries are off, so every rejection reaches the caller.
  const running = useDaemon(['--executor-threads', '1', '--executor-queue-capacity', '1'], {
    deadlineMs: 60_000,
    client: { overloadRetry: { maxRetries: 0 } },
  });

  test('burst beyond queue capacity', async (t) => {
    const metricsBefore = await readMetrics(running.daemon.httpAddress);

    const outcomes = await Promise.allSettled(
      Array.from({ length: CALL_COUNT }, (_unused, i) => running.client.crypto.argon2id.hash(`password-${i}`, EXPENSIVE)),
    );

    const succeeded = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
    t.diagnostic(`${succeeded.length} of ${CALL_COUNT} calls succeeded, ${rejected.length} were rejected`);
    assert.ok(succeeded.length >= 1, 'no call succeeded');
    assert.ok(rejected.length >= 1, 'no call was rejected, so the queue never filled');

    for (const { value } of succeeded) {
      assert.deepEqual(parseArgon2idPhc(value), { m: 65_536, t: 3, p: 1 }, `unexpected hash ${value}`);
    }
    for (const { reason: error } of rejected) {
      assert.ok(
        error instanceof ResourceExhaustedError,
        `expected ResourceExhaustedError, got ${error?.name} ${error?.codeName}: ${error?.message}`,
      );
      assert.equal(error.reason, 'QUEUE_FULL');
      assert.ok(error.retryAfterMs > 0, `retryAfterMs is ${error.retryAfterMs}`);
    }

    const metricsAfter = await readMetrics(running.daemon.httpAddress);
    const delta = (name, labels) => sumSamples(metricsAfter, name, labels) - sumSamples(metricsBefore, name, labels);
    assert.equal(delta('heavylift_executor_rejections_total'), rejected.length);
    assert.equal(
      delta('heavylift_requests_total', { task: 'crypto.argon2id.hash', code: 'RESOURCE_EXHAUSTED' }),
      rejected.length,
    );
    assert.equal(delta('heavylift_requests_total', { task: 'crypto.argon2id.hash', code: 'OK' }), succeeded.length);
    assert.equal(sumSamples(metricsAfter, 'heavylift_executor_queue_depth'), 0);
  });

  test('accepts calls again after burst', async () => {
    const hash = await running.client.crypto.argon2id.hash('after the burst');

    assert.equal(await running.client.crypto.argon2id.verify(hash, 'after the burst'), true);
  });

  test('default client retries after the hint', async (t) => {
    const client = createClient({ address: running.daemon.grpcAddress, deadlineMs: 60_000 });
    const metricsBefore = await readMetrics(running.daemon.httpAddress);
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_unused, i) => client.crypto.argon2id.hash(`password-${i}`, EXPENSIVE)),
      );
      const rejected = outcomes.filter((outcome) => outcome.status === 'rejected').length;
      const metricsAfter = await readMetrics(running.daemon.httpAddress);
      const serverRejections =
        sumSamples(metricsAfter, 'heavylift_executor_rejections_total') -
        sumSamples(metricsBefore, 'heavylift_executor_rejections_total');
      t.diagnostic(`${rejected} of 6 calls failed after retries; the daemon rejected ${serverRejections} attempts`);
      assert.ok(serverRejections > 0, 'the burst never filled the queue');
      // Each call the caller sees fail was rejected three times (two retries).
      assert.ok(serverRejections >= 3 * rejected, `${serverRejections} rejections for ${rejected} failed calls`);
      assert.ok(rejected < serverRejections, 'rejected calls were not retried');
    } finally {
      client.close();
    }
  });
});
