// The amqp helpers' encoding and decoding, without a broker (the end-to-end
// tests in tests/e2e/amqp run them against rabbitmq-server and the daemon).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { ConsumeMessage } from 'amqplib';
import { amqp, InvalidArgumentError, UnavailableError } from 'heavylift';

function message(content: Buffer, properties: Record<string, unknown>): ConsumeMessage {
  return { content, fields: {}, properties } as unknown as ConsumeMessage;
}

describe('amqp helpers', () => {
  test('encodeTaskRequest writes the task request as protobuf', () => {
    const encoded = amqp.encodeTaskRequest('testing.echo', { payload: Buffer.from('hi') });
    // Field 1, wire type 2 (bytes), length 2, then the bytes.
    assert.deepEqual(encoded, Buffer.from([0x0a, 0x02, 0x68, 0x69]));
  });

  test('encodeTaskRequest rejects a task it has no types for, naming the field', () => {
    assert.throws(
      () => amqp.encodeTaskRequest('video.transcode' as amqp.TaskName, {}),
      (error: unknown) => error instanceof InvalidArgumentError && error.field === 'task',
    );
  });

  test('decodeTaskOutcome decodes a completed protobuf result with its attempt and redelivery', () => {
    const outcome = amqp.decodeTaskOutcome(
      message(Buffer.from([0x0a, 0x02, 0x68, 0x69]), {
        contentType: 'application/x-protobuf',
        messageId: 'm-1',
        headers: { [amqp.TASK_HEADER]: 'testing.echo', [amqp.STATUS_HEADER]: 'completed', [amqp.ATTEMPT_HEADER]: 2, [amqp.REDELIVERED_HEADER]: true },
      }),
    );
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.attempt, 2);
    assert.equal(outcome.redelivered, true);
    assert.equal(outcome.messageId, 'm-1');
    assert.deepEqual(Buffer.from((outcome as { result: { payload: Uint8Array } }).result.payload), Buffer.from('hi'));
  });

  test('decodeTaskOutcome turns a failure into the typed error with its detail', () => {
    const detail = { code: 'INVALID_ARGUMENT', field: 'memory_cost', bound: '<= 65536', value: '99999', reason: 'OUT_OF_RANGE' };
    const outcome = amqp.decodeTaskOutcome(
      message(Buffer.from(JSON.stringify(detail)), {
        contentType: 'application/json',
        headers: {
          [amqp.TASK_HEADER]: 'crypto.argon2id.hash',
          [amqp.STATUS_HEADER]: 'failed',
          [amqp.ERROR_HEADER]: 'INVALID_ARGUMENT: memory_cost must be <= 65536, got 99999',
        },
      }),
    );
    assert.equal(outcome.status, 'failed');
    const error = (outcome as { error: InvalidArgumentError }).error;
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.message, 'memory_cost must be <= 65536, got 99999');
    assert.equal(error.field, 'memoryCost');
    assert.equal(error.bound, '<= 65536');
    assert.equal(error.reason, 'OUT_OF_RANGE');
  });

  test('decodeTaskOutcome keeps the code from the error header when the body is not JSON', () => {
    const outcome = amqp.decodeTaskOutcome(
      message(Buffer.from('not json'), {
        headers: { [amqp.TASK_HEADER]: 'testing.fail', [amqp.STATUS_HEADER]: 'failed', [amqp.ERROR_HEADER]: 'UNAVAILABLE: down' },
      }),
    );
    const error = (outcome as { error: UnavailableError }).error;
    assert.ok(error instanceof UnavailableError);
    assert.equal(error.message, 'down');
  });
});
