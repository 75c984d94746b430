// client.task(): any registered task by name, through heavylift.v1.TaskService/Run. The
// message types are written by hand with @bufbuild/protobuf's wire codec here, to show that
// any object with encode and decode works, not only ts-proto output.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  createClient,
  DeadlineExceededError,
  InvalidArgumentError,
  UnimplementedError,
  type HeavyliftClient,
  type MessageType,
} from 'heavylift';

import { useDaemon } from './support';

interface Echo {
  payload: Uint8Array;
}

// heavylift.v1.EchoRequest and EchoResponse: bytes payload = 1.
const EchoType: MessageType<Echo> = {
  encode: (message) => new BinaryWriter().uint32(10).bytes(message.payload),
  decode: (input) => {
    const reader = new BinaryReader(input);
    const message: Echo = { payload: new Uint8Array() };
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1) message.payload = reader.bytes();
      else reader.skip(wireType);
    }
    return message;
  },
};

interface Sleep {
  durationMs: number;
  busy: boolean;
}

// heavylift.v1.SleepRequest: uint32 duration_ms = 1, bool busy = 2. The response is decoded as
// an empty object because this test reads none of its fields.
const SleepType: MessageType<Sleep> = {
  encode: (message) => new BinaryWriter().uint32(8).uint32(message.durationMs).uint32(16).bool(message.busy),
  decode: () => ({ durationMs: 0, busy: false }),
};

interface Fail {
  code: string;
  message: string;
}

// heavylift.v1.FailRequest: string code = 1, string message = 2.
const FailType: MessageType<Fail> = {
  encode: (message) => new BinaryWriter().uint32(10).string(message.code).uint32(18).string(message.message),
  decode: () => ({ code: '', message: '' }),
};

describe('client.task with a daemon', () => {
  const fixture = useDaemon(['--testing-tasks', 'true']);
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });

  after(() => client?.close());

  test('echo round-trips the payload', async () => {
    const payload = Uint8Array.from([0, 1, 2, 254, 255]);
    const response = await client.task('testing.echo', { payload }, { requestType: EchoType, responseType: EchoType });
    assert.deepEqual(Array.from(response.payload), Array.from(payload));
  });

  test('deadline gives DeadlineExceededError', async () => {
    const call = client.task('testing.sleep', { durationMs: 5_000, busy: true },
      { requestType: SleepType, responseType: SleepType, deadlineMs: 200 });
    await assert.rejects(call, DeadlineExceededError);
  });

  test('task error keeps its code', async () => {
    const call = client.task('testing.fail', { code: 'INVALID_ARGUMENT', message: 'rejected on request' },
      { requestType: FailType, responseType: FailType });
    await assert.rejects(call, (error: unknown) => error instanceof InvalidArgumentError && /rejected on request/.test(error.message));
  });

  test('unknown task gives UnimplementedError', async () => {
    const call = client.task('no.such.task', { payload: new Uint8Array() }, { requestType: EchoType, responseType: EchoType });
    await assert.rejects(call, (error: unknown) => error instanceof UnimplementedError && error.reason === 'UNKNOWN_TASK');
  });
});

describe('client.task validation', () => {
  // Nothing listens here, so a call that was sent would fail with UnavailableError instead.
  const client = createClient({ address: '127.0.0.1:1', deadlineMs: 2_000 });
  after(() => client.close());

  const invalidField = (field: string) => (error: unknown) => error instanceof InvalidArgumentError && error.field === field;

  test('rejects an invalid task name', async () => {
    await assert.rejects(client.task('bad name!', { payload: new Uint8Array() }, { requestType: EchoType, responseType: EchoType }), invalidField('name'));
  });

  test('rejects missing message types', async () => {
    const types = { requestType: {}, responseType: EchoType } as unknown as { requestType: MessageType<Echo>; responseType: MessageType<Echo> };
    await assert.rejects(client.task('testing.echo', { payload: new Uint8Array() }, types), invalidField('requestType'));
  });

  test('rejects a request that does not encode', async () => {
    const call = client.task('testing.echo', { payload: 'not bytes' as unknown as Uint8Array }, { requestType: EchoType, responseType: EchoType });
    await assert.rejects(call, invalidField('request'));
  });
});
