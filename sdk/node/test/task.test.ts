// client.task(): any registered task by name, through heavylift.v1.TaskService/Run, with the
// SDK's own generated types of the built-in testing tasks as the message types.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  createClient,
  DeadlineExceededError,
  InvalidArgumentError,
  UnimplementedError,
  type HeavyliftClient,
  type MessageType,
} from 'heavylift';

// Compiled to dist/gen/ by the SDK build; not exported by the package.
import { EchoRequest, EchoResponse, FailRequest, FailResponse, SleepRequest, SleepResponse } from '../dist/gen/heavylift/v1/testing';

import { taskTypes as pricingTypes } from './gen/heavylift-tasks';
import { useDaemon } from './support';

const EchoTypes = { requestType: EchoRequest, responseType: EchoResponse };
const SleepTypes = { requestType: SleepRequest, responseType: SleepResponse };
const FailTypes = { requestType: FailRequest, responseType: FailResponse };

describe('client.task with a daemon', () => {
  const fixture = useDaemon(['--testing-tasks', 'true']);
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });

  after(() => client?.close());

  test('echo round-trips the payload', async () => {
    const payload = Buffer.from([0, 1, 2, 254, 255]);
    const response = await client.task('testing.echo', { payload }, EchoTypes);
    assert.deepEqual(Array.from(response.payload), Array.from(payload));
  });

  test('deadline gives DeadlineExceededError', async () => {
    const call = client.task('testing.sleep', { durationMs: 5_000, busy: true },
      { ...SleepTypes, deadlineMs: 200 });
    await assert.rejects(call, DeadlineExceededError);
  });

  test('task error keeps its code', async () => {
    const call = client.task('testing.fail', { code: 'INVALID_ARGUMENT', message: 'rejected on request' },
      FailTypes);
    await assert.rejects(call, (error: unknown) => error instanceof InvalidArgumentError && /rejected on request/.test(error.message));
  });

  test('unknown task gives UnimplementedError', async () => {
    const call = client.task('no.such.task', { payload: Buffer.alloc(0) }, EchoTypes);
    await assert.rejects(call, (error: unknown) => error instanceof UnimplementedError && error.reason === 'UNKNOWN_TASK');
  });

  test('the task types from heavylift-gen --task type the call', async () => {
    // The stock daemon has no pricing.quote: the call is typed, encoded and sent.
    const call = client.task('pricing.quote', { items: [{ sku: 'A1', quantity: 2 }], currency: 1 },
      { ...pricingTypes['pricing.quote'], deadlineMs: 5_000 });
    const typed: Promise<{ totalCents: number; notes: string[] }> = call;
    await assert.rejects(typed, (error: unknown) => error instanceof UnimplementedError && error.reason === 'UNKNOWN_TASK');
    // @ts-expect-error quantity is a number
    const wrong = client.task('pricing.quote', { items: [{ quantity: 'two' }] }, pricingTypes['pricing.quote']);
    await assert.rejects(wrong, InvalidArgumentError);
  });
});

describe('client.task validation', () => {
  // Nothing listens here, so a call that was sent would fail with UnavailableError instead.
  const client = createClient({ address: '127.0.0.1:1', deadlineMs: 2_000 });
  after(() => client.close());

  const invalidField = (field: string) => (error: unknown) => error instanceof InvalidArgumentError && error.field === field;

  test('rejects an invalid task name', async () => {
    await assert.rejects(client.task('bad name!', { payload: Buffer.alloc(0) }, EchoTypes), invalidField('name'));
  });

  test('rejects missing message types', async () => {
    const types = { requestType: {}, responseType: EchoResponse } as unknown as { requestType: MessageType<EchoRequest>; responseType: MessageType<EchoResponse> };
    await assert.rejects(client.task('testing.echo', { payload: Buffer.alloc(0) }, types), invalidField('requestType'));
  });

  test('rejects a request that does not encode', async () => {
    const call = client.task('testing.echo', { payload: 'not bytes' as unknown as Buffer }, EchoTypes);
    await assert.rejects(call, invalidField('request'));
  });
});
