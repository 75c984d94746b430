// A full task queue: the daemon rejects work with RESOURCE_EXHAUSTED and a retry hint.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createClient, ResourceExhaustedError, type HeavyliftClient } from 'heavylift';

import { useDaemon } from './support';

describe('task queue with a daemon', () => {
  // One worker and one queue slot, so a third concurrent task finds the queue full.
  const fixture = useDaemon(['--executor-threads', '1', '--executor-queue-capacity', '1']);
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });

  after(() => client?.close());

  test('full queue gives ResourceExhaustedError', async () => {
    const calls = Array.from({ length: 6 }, (_, index) =>
      client.crypto.argon2id.hash(`password ${index}`, { memoryCost: 32768, timeCost: 3, requestId: `queue-${index}` }),
    );
    const outcomes = await Promise.allSettled(calls);

    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => outcome.reason as unknown);
    assert.ok(rejected.length > 0, 'at least one of 6 concurrent tasks should find the queue full');
    assert.ok(rejected.length < outcomes.length, 'the running task should complete');

    for (const error of rejected) {
      assert.ok(error instanceof ResourceExhaustedError, `expected ResourceExhaustedError, got ${String(error)}`);
      assert.equal(error.code, 8);
      assert.equal(error.codeName, 'RESOURCE_EXHAUSTED');
      assert.ok((error.retryAfterMs ?? 0) > 0, `retryAfterMs ${error.retryAfterMs} should be positive`);
      assert.match(error.requestId ?? '', /^queue-\d$/);
    }
  });
});
