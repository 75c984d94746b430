// The amqp helpers' encoding and decoding, without a broker (the end-to-end
// tests in tests/e2e/amqp run them against rabbitmq-server and the daemon).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Channel, ConsumeMessage } from 'amqplib';
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

  test('encodeTaskRequest knows every built-in task kind', () => {
    // files.digest: field 1 (input, a BlobRef) holding field 1 (data) with the bytes "ab".
    assert.deepEqual(
      amqp.encodeTaskRequest('files.digest', { input: { source: { $case: 'data', data: Buffer.from('ab') } } }),
      Buffer.from([0x0a, 0x04, 0x0a, 0x02, 0x61, 0x62]),
    );
    // crypto.bcrypt.hash: field 1 (password) "pw", field 2 (cost) 4.
    assert.deepEqual(
      amqp.encodeTaskRequest('crypto.bcrypt.hash', { password: Buffer.from('pw'), cost: 4 }),
      Buffer.from([0x0a, 0x02, 0x70, 0x77, 0x10, 0x04]),
    );
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
    assert.equal(error.message, 'memoryCost must be <= 65536, got 99999');
    assert.equal(error.details, 'INVALID_ARGUMENT: memory_cost must be <= 65536, got 99999');
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

  // Option checks run before the channel or connection is used, so these need no broker.
  const NO_CHANNEL = {} as unknown as Channel;
  const NO_CONNECTION = {} as unknown as amqp.ConfirmChannelSource;

  function assertRejectsField(field: string, allowed: RegExp) {
    return (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
      assert.equal(error.field, field);
      assert.match(error.message, allowed);
      return true;
    };
  }

  test('publishTask rejects a misspelt option, naming it and the allowed ones', () => {
    assert.throws(
      () => amqp.publishTask(NO_CHANNEL, 'testing.echo', {}, { replyto: 'q' } as amqp.PublishTaskOptions),
      assertRejectsField('options.replyto', /allowed: queue, messageId, correlationId, replyTo, headers, traceparent/),
    );
  });

  test('publishTask rejects a gRPC call option it does not read', () => {
    assert.throws(
      () => amqp.publishTask(NO_CHANNEL, 'testing.echo', {}, { deadlineMs: 100 } as amqp.PublishTaskOptions),
      assertRejectsField('options.deadlineMs', /no such option/),
    );
  });

  test('publishTask rejects a traceparent that is not W3C trace context', () => {
    assert.throws(
      () => amqp.publishTask(NO_CHANNEL, 'testing.echo', {}, { traceparent: 'not-a-trace' }),
      assertRejectsField('options.traceparent', /W3C traceparent/),
    );
    assert.throws(
      () => amqp.publishTask(NO_CHANNEL, 'testing.echo', {}, { traceparent: () => 'not-a-trace' }),
      assertRejectsField('traceparent', /W3C traceparent/),
    );
  });

  test('publishTask rejects options that are not an object', () => {
    assert.throws(
      () => amqp.publishTask(NO_CHANNEL, 'testing.echo', {}, 'heavylift.tasks' as unknown as amqp.PublishTaskOptions),
      assertRejectsField('options', /Expected object/),
    );
  });

  test('AmqpTaskClient.create rejects a misspelt option before opening a channel', async () => {
    await assert.rejects(
      amqp.AmqpTaskClient.create(NO_CONNECTION, { retryDelay: 200 } as amqp.AmqpTaskClientOptions),
      assertRejectsField('options.retryDelay', /allowed: queue, retryDelayMs, resultsExchange, assertQueues, traceparent/),
    );
    await assert.rejects(
      amqp.AmqpTaskClient.create(NO_CONNECTION, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } as never),
      assertRejectsField('traceparent', /function returning a traceparent/),
    );
  });

  test('assertTaskQueues and consumeResults reject misspelt options', async () => {
    await assert.rejects(
      amqp.assertTaskQueues(NO_CHANNEL, { queues: 'q' } as amqp.TaskQueueOptions),
      assertRejectsField('options.queues', /allowed: queue, retryDelayMs, resultsExchange\)/),
    );
    await assert.rejects(
      amqp.consumeResults(NO_CHANNEL, { queue: 'q', prefecth: 5 } as amqp.ConsumeResultsOptions, () => {}),
      assertRejectsField('options.prefecth', /allowed: exchange, queue, pattern, prefetch/),
    );
  });
});
