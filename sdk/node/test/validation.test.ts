// API-edge validation: every case rejects before anything is sent, so no daemon runs. The
// client points at a loopback port where nothing listens, so a call that was sent would fail
// with UnavailableError instead of the expected error.
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';

import {
  CancelledError,
  createClient,
  HeavyliftError,
  InvalidArgumentError,
  UnavailableError,
  type ThumbnailOptions,
} from 'heavylift';
import { startDaemon } from 'heavylift/testing';

const UNUSED_ADDRESS = '127.0.0.1:1';
const IMAGE = Buffer.from([0xff, 0xd8, 0xff]);

const client = createClient({ address: UNUSED_ADDRESS, deadlineMs: 2000 });
after(() => client.close());

function assertInvalid(error: unknown, field: string, message: string): true {
  assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
  assert.ok(error instanceof HeavyliftError);
  assert.equal(error.code, 3);
  assert.equal(error.codeName, 'INVALID_ARGUMENT');
  assert.equal(error.field, field);
  assert.equal(error.protoField, undefined);
  assert.equal(error.message, message);
  return true;
}

describe('image.thumbnail validation', () => {
  const cases: Array<{ name: string; options: unknown; field: string; message: string }> = [
    {
      name: 'negative width',
      options: { input: IMAGE, widths: [320, -3] },
      field: 'widths[1]',
      message: 'Expected positive integer for widths[1] but received -3 of type number',
    },
    {
      name: 'fractional width',
      options: { input: IMAGE, widths: [320.5] },
      field: 'widths[0]',
      message: 'Expected positive integer for widths[0] but received 320.5 of type number',
    },
    {
      name: 'string width',
      options: { input: IMAGE, widths: ['320'] },
      field: 'widths[0]',
      message: "Expected positive integer for widths[0] but received '320' of type string",
    },
    {
      name: 'width above uint32',
      options: { input: IMAGE, widths: [2 ** 32] },
      field: 'widths[0]',
      message: 'Expected integer no greater than 4294967295 (uint32) for widths[0] but received 4294967296 of type number',
    },
    {
      name: 'empty widths',
      options: { input: IMAGE, widths: [] },
      field: 'widths',
      message: 'Expected non-empty array of positive integers for widths but received [] of type array',
    },
    {
      name: 'missing widths',
      options: { input: IMAGE },
      field: 'widths',
      message: 'Expected non-empty array of positive integers for widths but received undefined of type undefined',
    },
    {
      name: 'quality above 100',
      options: { input: IMAGE, widths: [320], quality: 101 },
      field: 'quality',
      message: 'Expected integer between 1 and 100 for quality but received 101 of type number',
    },
    {
      name: 'quality zero',
      options: { input: IMAGE, widths: [320], quality: 0 },
      field: 'quality',
      message: 'Expected integer between 1 and 100 for quality but received 0 of type number',
    },
    {
      name: 'unknown format',
      options: { input: IMAGE, widths: [320], format: 'png' },
      field: 'format',
      message: "Expected one of 'jpeg', 'webp' for format but received 'png' of type string",
    },
    {
      name: 'non-boolean autoOrient',
      options: { input: IMAGE, widths: [320], autoOrient: 'yes' },
      field: 'autoOrient',
      message: "Expected boolean for autoOrient but received 'yes' of type string",
    },
    {
      name: 'missing input',
      options: { widths: [320] },
      field: 'input',
      message: 'Expected Buffer, Uint8Array, { data } or { path } for input but received undefined of type undefined',
    },
    {
      name: 'string input',
      options: { input: 'photo.jpg', widths: [320] },
      field: 'input',
      message: "Expected Buffer, Uint8Array, { data } or { path } for input but received 'photo.jpg' of type string",
    },
    {
      name: 'empty path',
      options: { input: { path: '' }, widths: [320] },
      field: 'input.path',
      message: "Expected non-empty string for input.path but received '' of type string",
    },
    {
      name: 'string data',
      options: { input: { data: 'abc' }, widths: [320] },
      field: 'input.data',
      message: "Expected Buffer or Uint8Array for input.data but received 'abc' of type string",
    },
    {
      name: 'both path and data',
      options: { input: { path: 'a.jpg', data: IMAGE }, widths: [320] },
      field: 'input',
      message:
        "Expected exactly one of input.data and input.path for input but received { path: 'a.jpg', data: <Buffer ff d8 ff> } of type object",
    },
  ];

  for (const { name, options, field, message } of cases) {
    test(`rejects ${name}`, async () => {
      await assert.rejects(client.image.thumbnail(options as ThumbnailOptions), (error) =>
        assertInvalid(error, field, message),
      );
    });
  }

  test('accepts a Uint8Array that is not a Buffer', async () => {
    // Valid options get past the edge and fail only on the network.
    const bytes = new Uint8Array([0xff, 0xd8, 0xff]);
    await assert.rejects(client.image.thumbnail({ input: bytes, widths: [320] }), UnavailableError);
  });
});

describe('argon2id validation', () => {
  test('rejects a numeric password without showing it', async () => {
    await assert.rejects(client.crypto.argon2id.hash(123456 as unknown as string), (error) =>
      assertInvalid(error, 'password', 'Expected string, Buffer or Uint8Array for password but received a value of type number'),
    );
  });

  test('rejects a password with a lone surrogate', async () => {
    await assert.rejects(client.crypto.argon2id.hash('pass\ud800word'), (error) =>
      assertInvalid(
        error,
        'password',
        'Expected well-formed UTF-16 string (no lone surrogates) for password but received a value of type string',
      ),
    );
  });

  test('rejects a zero memoryCost', async () => {
    await assert.rejects(client.crypto.argon2id.hash('pw', { memoryCost: 0 }), (error) =>
      assertInvalid(error, 'memoryCost', 'Expected positive integer for memoryCost but received 0 of type number'),
    );
  });

  test('rejects a string timeCost', async () => {
    await assert.rejects(client.crypto.argon2id.hash('pw', { timeCost: '3' as unknown as number }), (error) =>
      assertInvalid(error, 'timeCost', "Expected positive integer for timeCost but received '3' of type string"),
    );
  });

  test('rejects a string salt', async () => {
    await assert.rejects(client.crypto.argon2id.hash('pw', { salt: 'salty' as unknown as Buffer }), (error) =>
      assertInvalid(error, 'salt', 'Expected Buffer or Uint8Array for salt but received a value of type string'),
    );
  });

  test('rejects a non-string hash in verify', async () => {
    await assert.rejects(client.crypto.argon2id.verify(null as unknown as string, 'pw'), (error) =>
      assertInvalid(error, 'hash', 'Expected string for hash but received null of type null'),
    );
  });
});

describe('call option validation', () => {
  test('rejects a negative deadlineMs', async () => {
    await assert.rejects(client.health({ deadlineMs: -1 }), (error) =>
      assertInvalid(error, 'deadlineMs', 'Expected positive number of milliseconds or Infinity for deadlineMs but received -1 of type number'),
    );
  });

  test('rejects a signal that is not an AbortSignal', async () => {
    await assert.rejects(client.health({ signal: {} as AbortSignal }), (error) =>
      assertInvalid(error, 'signal', 'Expected AbortSignal for signal but received {} of type object'),
    );
  });

  test('rejects a requestId with a line break', async () => {
    await assert.rejects(client.health({ requestId: 'a\nb' }), (error) =>
      assertInvalid(error, 'requestId', "Expected string of 1 to 64 characters from A-Z, a-z, 0-9, \".\", \"_\" and \"-\" for requestId but received 'a\\nb' of type string"),
    );
  });

  test('rejects options that are not an object', async () => {
    await assert.rejects(client.health(5 as unknown as undefined), (error) =>
      assertInvalid(error, 'options', 'Expected object for options but received 5 of type number'),
    );
  });

  test('already-aborted signal rejects without sending', async () => {
    const reason = new Error('user left the page');
    await assert.rejects(client.crypto.argon2id.hash('pw', { signal: AbortSignal.abort(reason), requestId: 'aborted-1' }), (error) => {
      assert.ok(error instanceof CancelledError, `expected CancelledError, got ${String(error)}`);
      assert.equal(error.name, 'AbortError');
      assert.equal(error.codeName, 'CANCELLED');
      assert.equal(error.cause, reason);
      assert.equal(error.requestId, 'aborted-1');
      return true;
    });
  });
});

describe('createClient validation', () => {
  test('rejects a numeric address', () => {
    assert.throws(
      () => createClient({ address: 50051 as unknown as string }),
      (error) => assertInvalid(error, 'address', 'Expected non-empty string or array of host:port for address but received 50051 of type number'),
    );
  });

  test('rejects a zero deadlineMs', () => {
    assert.throws(
      () => createClient({ deadlineMs: 0 }),
      (error) => assertInvalid(error, 'deadlineMs', 'Expected positive number of milliseconds or Infinity for deadlineMs but received 0 of type number'),
    );
  });

  test('rejects credentials that are not ChannelCredentials', () => {
    assert.throws(
      () => createClient({ credentials: 'insecure' as never }),
      (error) => assertInvalid(error, 'credentials', "Expected ChannelCredentials from @grpc/grpc-js for credentials but received 'insecure' of type string"),
    );
  });

  test('closed client rejects calls', async () => {
    const closed = createClient({ address: UNUSED_ADDRESS });
    closed.close();
    await assert.rejects(closed.health(), /client for 127\.0\.0\.1:1 is closed/);
  });

  test('unreachable daemon gives UnavailableError', async () => {
    await assert.rejects(client.health({ requestId: 'unreachable-1' }), (error) => {
      assert.ok(error instanceof UnavailableError, `expected UnavailableError, got ${String(error)}`);
      assert.equal(error.code, 14);
      assert.equal(error.requestId, 'unreachable-1');
      return true;
    });
  });
});

// Unknown option keys: a misspelt option must fail instead of falling back to its default.
// Each case passes one misspelt key, and the expected message lists the keys that the
// object accepts.
const CALL_OPTIONS = 'deadlineMs, signal, requestId, traceparent';
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const CSV = Buffer.from('a;b\n1;2\n');

function unknownOptionMessage(field: string, allowed: string, received: string): string {
  return `Expected no such option (allowed: ${allowed}) for ${field} but received ${received}`;
}

function fullCallOptions(): { deadlineMs: number; signal: AbortSignal; requestId: string; traceparent: string } {
  return { deadlineMs: 2000, signal: new AbortController().signal, requestId: 'keys-1', traceparent: TRACEPARENT };
}

interface MisspeltCase {
  name: string;
  call: () => unknown;
  field: string;
  allowed: string;
  received: string;
}

const misspeltCases: MisspeltCase[] = [
  {
    name: 'createClient address',
    call: () => createClient({ adress: UNUSED_ADDRESS } as never),
    field: 'options.adress',
    allowed: 'address, tls, token, traceparent, overloadRetry, deadlineMs, credentials, channelOptions',
    received: "'127.0.0.1:1' of type string",
  },
  {
    name: 'createClient tls.serverName',
    call: () => createClient({ address: UNUSED_ADDRESS, tls: { servername: 'daemon.test' } as never }),
    field: 'tls.servername',
    allowed: 'ca, cert, key, serverName',
    received: "'daemon.test' of type string",
  },
  {
    name: 'createClient overloadRetry.maxRetries',
    call: () => createClient({ address: UNUSED_ADDRESS, overloadRetry: { maxRetry: 0 } as never }),
    field: 'overloadRetry.maxRetry',
    allowed: 'maxRetries, maxDelayMs',
    received: '0 of type number',
  },
  {
    name: 'health service',
    call: () => client.health({ servce: 'heavylift.v1.ImageService' } as never),
    field: 'options.servce',
    allowed: `service, ${CALL_OPTIONS}`,
    received: "'heavylift.v1.ImageService' of type string",
  },
  {
    name: 'image.thumbnail quality',
    call: () => client.image.thumbnail({ input: IMAGE, widths: [320], qualty: 50 } as never),
    field: 'options.qualty',
    allowed: 'input, widths, format, quality, autoOrient',
    received: '50 of type number',
  },
  {
    name: 'image.thumbnail input.path',
    call: () => client.image.thumbnail({ input: { pth: 'photo.jpg' } as never, widths: [320] }),
    field: 'input.pth',
    allowed: 'data, path',
    received: "'photo.jpg' of type string",
  },
  {
    name: 'image.thumbnail call option',
    call: () => client.image.thumbnail({ input: IMAGE, widths: [320] }, { deadline: 100 } as never),
    field: 'callOptions.deadline',
    allowed: CALL_OPTIONS,
    received: '100 of type number',
  },
  {
    name: 'image.transform call option',
    call: () => client.image.transform({ input: IMAGE, outputs: [{ format: 'png' }] }, { requestID: 'a' } as never),
    field: 'callOptions.requestID',
    allowed: CALL_OPTIONS,
    received: "'a' of type string",
  },
  {
    name: 'image.transform composite overlay',
    call: () =>
      client.image.transform({
        input: IMAGE,
        operations: [{ composite: { overlay: { path: 'logo.png', pat: 'x' } as never } }],
        outputs: [{ format: 'png' }],
      }),
    field: 'operations[0].composite.overlay.pat',
    allowed: 'data, path',
    received: "'x' of type string",
  },
  {
    name: 'image.metadata call option',
    call: () => client.image.metadata({ input: IMAGE }, { signl: 1 } as never),
    field: 'callOptions.signl',
    allowed: CALL_OPTIONS,
    received: '1 of type number',
  },
  {
    name: 'image.analyze call option',
    call: () => client.image.analyze({ input: IMAGE }, { traceParent: TRACEPARENT } as never),
    field: 'callOptions.traceParent',
    allowed: CALL_OPTIONS,
    received: `'${TRACEPARENT}' of type string`,
  },
  {
    name: 'files.upload chunkBytes',
    call: () => client.files.upload(CSV, { chunkSize: 1024 } as never),
    field: 'options.chunkSize',
    allowed: `digests, store, compression, compressionLevel, profileCsv, expectedBytes, gridfs, chunkBytes, ${CALL_OPTIONS}`,
    received: '1024 of type number',
  },
  {
    name: 'files.upload profileCsv.delimiter',
    call: () => client.files.upload(CSV, { profileCsv: { delimeter: ';' } as never }),
    field: 'profileCsv.delimeter',
    allowed: 'delimiter, noHeader',
    received: "';' of type string",
  },
  {
    name: 'files.uploadMultipartFile store',
    call: () => client.files.uploadMultipartFile(Readable.from([CSV]), { filename: 'a.csv' }, { stor: true } as never),
    field: 'options.stor',
    allowed: `digests, store, compression, compressionLevel, profileCsv, expectedBytes, gridfs, chunkBytes, ${CALL_OPTIONS}`,
    received: 'true of type boolean',
  },
  {
    name: 'files.download decompress',
    call: () => client.files.download({ path: 'a.zst' }, { decompres: true } as never),
    field: 'options.decompres',
    allowed: `decompress, maxOutputBytes, chunkBytes, ${CALL_OPTIONS}`,
    received: 'true of type boolean',
  },
  {
    name: 'files.download source',
    call: () => client.files.download({ path: 'a.zst', gridfsID: 'x' } as never),
    field: 'source.gridfsID',
    allowed: 'path, gridfsId',
    received: "'x' of type string",
  },
  {
    name: 'files.digest digests',
    call: () => client.files.digest(CSV, { digest: ['sha256'] } as never),
    field: 'options.digest',
    allowed: `digests, ${CALL_OPTIONS}`,
    received: "[ 'sha256' ] of type array",
  },
  {
    name: 'files.compress level',
    call: () => client.files.compress(CSV, { format: 'gzip', levle: 9 } as never),
    field: 'options.levle',
    allowed: `format, level, outputPath, ${CALL_OPTIONS}`,
    received: '9 of type number',
  },
  {
    name: 'files.decompress maxOutputBytes',
    call: () => client.files.decompress(CSV, { maxOutput: 1024 } as never),
    field: 'options.maxOutput',
    allowed: `format, maxOutputBytes, outputPath, ${CALL_OPTIONS}`,
    received: '1024 of type number',
  },
  {
    name: 'files.profileCsv delimiter',
    call: () => client.files.profileCsv(CSV, { delimeter: ';' } as never),
    field: 'options.delimeter',
    allowed: `delimiter, noHeader, ${CALL_OPTIONS}`,
    received: "';' of type string",
  },
  {
    name: 'files.profileNdjson delimiter',
    call: () => client.files.profileNdjson(CSV, { delimiter: ';' } as never),
    field: 'options.delimiter',
    allowed: CALL_OPTIONS,
    received: "';' of type string",
  },
  {
    name: 'files.csvToNdjson stringsOnly',
    call: () => client.files.csvToNdjson(CSV, { stringOnly: true } as never),
    field: 'options.stringOnly',
    allowed: `delimiter, noHeader, stringsOnly, outputPath, ${CALL_OPTIONS}`,
    received: 'true of type boolean',
  },
  {
    name: 'aggregate.run groupBy',
    call: () => client.aggregate.run({ model: 'Event', source: { documents: [] }, aggregates: [{ kind: 'count' }], groupby: ['type'] } as never),
    field: 'options.groupby',
    allowed: 'model, source, groupBy, aggregates, onViolation, maxGroups, moving',
    received: "[ 'type' ] of type array",
  },
  {
    name: 'aggregate.run source',
    call: () => client.aggregate.run({ model: 'Event', source: { docs: [] } as never, aggregates: [{ kind: 'count' }] }),
    field: 'source.docs',
    allowed: 'mongo, postgres, documents',
    received: '[] of type array',
  },
  {
    name: 'aggregate.run source.mongo',
    call: () =>
      client.aggregate.run({
        model: 'Event',
        source: { mongo: { uri: 'mongodb://127.0.0.1:1', database: 'app', partition: 4 } as never },
        aggregates: [{ kind: 'count' }],
      }),
    field: 'source.mongo.partition',
    allowed: 'uri, database, collection, filter, partitions',
    received: '4 of type number',
  },
  {
    name: 'aggregate.run source.postgres',
    call: () =>
      client.aggregate.run({
        model: 'Event',
        source: { postgres: { conninfo: 'host=127.0.0.1 port=1', tabel: 'events' } as never },
        aggregates: [{ kind: 'count' }],
      }),
    field: 'source.postgres.tabel',
    allowed: 'conninfo, table',
    received: "'events' of type string",
  },
  {
    name: 'aggregate.run groupBy entry',
    call: () =>
      client.aggregate.run({
        model: 'Event',
        source: { documents: [] },
        groupBy: [{ field: 'at', bucket: 'day', timezone: '+02:00' } as never],
        aggregates: [{ kind: 'count' }],
      }),
    field: 'groupBy[0].timezone',
    allowed: 'field, bucket, timeZone',
    received: "'+02:00' of type string",
  },
  {
    name: 'aggregate.run aggregates entry',
    call: () =>
      client.aggregate.run({
        model: 'Event',
        source: { documents: [] },
        aggregates: [{ kind: 'count' }, { kind: 'quantiles', field: 'amount', quantile: [0.5] } as never],
      }),
    field: 'aggregates[1].quantile',
    allowed: 'kind, field, field2, quantiles, bounds, k, name',
    received: '[ 0.5 ] of type array',
  },
  {
    name: 'aggregate.run moving',
    call: () =>
      client.aggregate.run({
        model: 'Event',
        source: { documents: [] },
        groupBy: [{ field: 'at', bucket: 'day', timeZone: 'Europe/Berlin' }],
        aggregates: [{ kind: 'sum', field: 'amount' }],
        moving: { bucket: 7 } as never,
      }),
    field: 'moving.bucket',
    allowed: 'buckets, key',
    received: '7 of type number',
  },
  {
    name: 'aggregate.live options',
    call: () => client.aggregate.live({ aggregates: [{ kind: 'count' }], windowMs: 1000, slideMs: 1000, lateness: 5 } as never, []),
    field: 'options.lateness',
    allowed: 'groupBy, aggregates, windowMs, slideMs, allowedLatenessMs, maxGroups, room, namespace',
    received: '5 of type number',
  },
  {
    name: 'aggregate.live event',
    call: () => client.aggregate.live({ aggregates: [{ kind: 'count' }], windowMs: 1000, slideMs: 1000 }, [{ time: 1, label: { a: 'b' } } as never]),
    field: 'events[0].label',
    allowed: 'time, labels, numbers',
    received: "{ a: 'b' } of type object",
  },
  {
    name: 'aggregate.run call option',
    call: () => client.aggregate.run({ model: 'Event', source: { documents: [] }, aggregates: [{ kind: 'count' }] }, { deadline: 5 } as never),
    field: 'callOptions.deadline',
    allowed: CALL_OPTIONS,
    received: '5 of type number',
  },
  {
    name: 'aggregate.decode limit',
    call: () => client.aggregate.decode({ model: 'Event', source: { documents: [] }, limt: 10 } as never),
    field: 'options.limt',
    allowed: 'model, source, onViolation, limit',
    received: '10 of type number',
  },
  {
    name: 'aggregate.decode call option',
    call: () => client.aggregate.decode({ model: 'Event', source: { documents: [] } }, { requestid: 'x' } as never),
    field: 'callOptions.requestid',
    allowed: CALL_OPTIONS,
    received: "'x' of type string",
  },
  {
    name: 'realtime.emit rooms',
    call: () => client.realtime.emit({ event: 'message', room: 'chat:1' } as never),
    field: 'options.room',
    allowed: 'namespace, rooms, exceptRooms, event, args',
    received: "'chat:1' of type string",
  },
  {
    name: 'realtime.emit call option',
    call: () => client.realtime.emit({ event: 'message' }, { deadline: 5 } as never),
    field: 'callOptions.deadline',
    allowed: CALL_OPTIONS,
    received: '5 of type number',
  },
  {
    name: 'realtime.emitWithAck timeoutMs',
    call: () => client.realtime.emitWithAck({ socketId: 's1', event: 'question', timeout: 500 } as never),
    field: 'options.timeout',
    allowed: 'namespace, socketId, event, args, timeoutMs',
    received: '500 of type number',
  },
  {
    name: 'realtime.join namespace',
    call: () => client.realtime.join({ socketId: 's1', room: 'team', namespce: '/admin' } as never),
    field: 'target.namespce',
    allowed: 'namespace, socketId, userId, room',
    received: "'/admin' of type string",
  },
  {
    name: 'realtime.leave socketId',
    call: () => client.realtime.leave({ socketid: 's1', room: 'team' } as never),
    field: 'target.socketid',
    allowed: 'namespace, socketId, userId, room',
    received: "'s1' of type string",
  },
  {
    name: 'realtime.members room',
    call: () => client.realtime.members({ room: 'team', rooms: ['team'] } as never),
    field: 'options.rooms',
    allowed: 'namespace, room',
    received: "[ 'team' ] of type array",
  },
  {
    name: 'realtime.disconnect closeConnection',
    call: () => client.realtime.disconnect({ userId: 'kim', close: true } as never),
    field: 'target.close',
    allowed: 'namespace, socketId, userId, closeConnection',
    received: 'true of type boolean',
  },
  {
    name: 'realtime.subscribe group',
    call: () => client.realtime.subscribe({ groups: 'api' } as never),
    field: 'options.groups',
    allowed: 'namespaces, group',
    received: "'api' of type string",
  },
  {
    name: 'startDaemon timeoutMs',
    call: () => startDaemon({ timeout: 1000 } as never),
    field: 'options.timeout',
    allowed: 'bin, args, env, timeoutMs',
    received: '1000 of type number',
  },
];

describe('unknown option keys', () => {
  for (const { name, call, field, allowed, received } of misspeltCases) {
    test(`rejects misspelt ${name}`, async () => {
      // An async wrapper turns a synchronous throw (createClient, subscribe) into a rejection.
      await assert.rejects(
        (async () => call())(),
        (error) => assertInvalid(error, field, unknownOptionMessage(field, allowed, received)),
      );
    });
  }

  test('accepts a key whose value is undefined', async () => {
    await assert.rejects(client.image.thumbnail({ input: IMAGE, widths: [320], qualty: undefined } as never), UnavailableError);
  });
});

describe('documented option keys', () => {
  // Each call passes every key that its options type and the docs list, so it gets past the
  // checks and fails only on the network.
  test('createClient with tls', async () => {
    const withTls = createClient({
      address: UNUSED_ADDRESS,
      tls: { serverName: 'daemon.test' },
      token: () => 'token-1',
      traceparent: () => TRACEPARENT,
      overloadRetry: { maxRetries: 0, maxDelayMs: 100 },
      deadlineMs: 2000,
      channelOptions: { 'grpc.keepalive_time_ms': 60_000 },
    });
    try {
      await assert.rejects(withTls.health(), UnavailableError);
    } finally {
      withTls.close();
    }
  });

  test('createClient with credentials', async () => {
    const withCredentials = createClient({ address: [UNUSED_ADDRESS], token: 'token-1', credentials: grpcCredentials.createInsecure() });
    try {
      await assert.rejects(withCredentials.health(), UnavailableError);
    } finally {
      withCredentials.close();
    }
  });

  test('health', async () => {
    await assert.rejects(client.health({ service: 'heavylift.v1.ImageService', ...fullCallOptions() }), UnavailableError);
  });

  test('image methods', async () => {
    await assert.rejects(
      client.image.thumbnail({ input: { path: 'photo.jpg' }, widths: [320], format: 'webp', quality: 70, autoOrient: false }, fullCallOptions()),
      UnavailableError,
    );
    await assert.rejects(
      client.image.transform(
        {
          input: { data: IMAGE },
          operations: [{ composite: { overlay: { path: 'logo.png' } } }],
          outputs: [{ format: 'png' }],
          autoOrient: true,
          animated: false,
          corruptInput: 'warn',
          toSrgb: true,
        },
        fullCallOptions(),
      ),
      UnavailableError,
    );
    await assert.rejects(client.image.metadata({ input: IMAGE }, fullCallOptions()), UnavailableError);
    await assert.rejects(
      client.image.analyze({ input: IMAGE, blurhashComponents: { x: 4, y: 3 }, autoOrient: true }, fullCallOptions()),
      UnavailableError,
    );
  });

  test('files.upload and uploadMultipartFile', async () => {
    const uploadOptions = {
      digests: ['sha256', 'xxh3'] as const,
      store: true,
      compression: 'zstd' as const,
      compressionLevel: 3,
      profileCsv: { delimiter: ';', noHeader: true },
      expectedBytes: CSV.length,
      chunkBytes: 1024,
      ...fullCallOptions(),
    };
    await assert.rejects(client.files.upload(CSV, uploadOptions), UnavailableError);
    await assert.rejects(
      client.files.uploadMultipartFile(Readable.from([CSV]), { filename: 'a.csv', mimeType: 'text/csv' }, { ...uploadOptions, requestId: 'keys-2' }),
      UnavailableError,
    );
  });

  test('unary file methods', async () => {
    await assert.rejects(client.files.digest(CSV, { digests: ['sha512'], ...fullCallOptions() }), UnavailableError);
    await assert.rejects(client.files.compress(CSV, { format: 'gzip', level: 9, outputPath: 'a.gz', ...fullCallOptions() }), UnavailableError);
    await assert.rejects(
      client.files.decompress({ path: 'a.gz' }, { format: 'gzip', maxOutputBytes: 1024, outputPath: 'a.csv', ...fullCallOptions() }),
      UnavailableError,
    );
    await assert.rejects(client.files.profileCsv(CSV, { delimiter: ';', noHeader: true, ...fullCallOptions() }), UnavailableError);
    await assert.rejects(client.files.profileNdjson(CSV, fullCallOptions()), UnavailableError);
    await assert.rejects(
      client.files.csvToNdjson(CSV, { delimiter: ';', noHeader: false, stringsOnly: true, outputPath: 'a.ndjson', ...fullCallOptions() }),
      UnavailableError,
    );
  });

  test('aggregate.run and decode', async () => {
    await assert.rejects(
      client.aggregate.run(
        {
          model: 'Event',
          source: { mongo: { uri: 'mongodb://127.0.0.1:1', database: 'app', collection: 'events', filter: { type: 'purchase' }, partitions: 4 } },
          groupBy: ['type', { field: 'at', bucket: 'day', timeZone: '+02:00' }],
          aggregates: [
            { kind: 'count' },
            { kind: 'quantiles', field: 'amount', quantiles: [0.5, 0.99], name: 'p' },
            { kind: 'histogram', field: 'amount', bounds: [10, 100] },
            { kind: 'topK', field: 'user', k: 3 },
            { kind: 'correlation', field: 'amount', field2: 'quantity' },
          ],
          onViolation: 'stop',
          maxGroups: 100,
          moving: { buckets: 7, key: 1 },
        },
        fullCallOptions(),
      ),
      UnavailableError,
    );
    await assert.rejects(
      client.aggregate.decode(
        { model: 'Event', source: { postgres: { conninfo: 'host=127.0.0.1 port=1', table: 'events' } }, onViolation: 'continue', limit: 10 },
        fullCallOptions(),
      ),
      UnavailableError,
    );
    await assert.rejects(client.aggregate.decode({ model: 'Event', source: { documents: [] } }), UnavailableError);
    await assert.rejects(
      client.aggregate.live(
        {
          groupBy: ['region'],
          aggregates: [{ kind: 'mean', field: 'latency' }],
          windowMs: 60_000,
          slideMs: 10_000,
          allowedLatenessMs: 1_000,
          maxGroups: 50,
          room: 'ops',
          namespace: '/',
        },
        [{ time: new Date(0), labels: { region: 'eu' }, numbers: { latency: 1 } }],
        fullCallOptions(),
      ),
      UnavailableError,
    );
  });

  test('realtime methods', async () => {
    await assert.rejects(
      client.realtime.emit({ namespace: '/chat', rooms: ['a'], exceptRooms: ['b'], event: 'message', args: [1] }, fullCallOptions()),
      UnavailableError,
    );
    await assert.rejects(
      client.realtime.emitWithAck({ namespace: '/chat', socketId: 's1', event: 'question', args: [], timeoutMs: 500 }, fullCallOptions()),
      UnavailableError,
    );
    await assert.rejects(client.realtime.join({ namespace: '/chat', socketId: 's1', room: 'team' }, fullCallOptions()), UnavailableError);
    await assert.rejects(client.realtime.leave({ namespace: '/chat', userId: 'kim', room: 'team' }, fullCallOptions()), UnavailableError);
    await assert.rejects(client.realtime.members({ namespace: '/chat', room: 'team' }, fullCallOptions()), UnavailableError);
    await assert.rejects(
      client.realtime.disconnect({ namespace: '/chat', userId: 'kim', closeConnection: true }, fullCallOptions()),
      UnavailableError,
    );

    const subscription = client.realtime.subscribe({ namespaces: ['/chat'], group: 'api' });
    try {
      const [error] = await once(subscription, 'error');
      assert.ok(error instanceof UnavailableError, `expected UnavailableError, got ${String(error)}`);
    } finally {
      subscription.close();
    }
  });

  test('startDaemon', async () => {
    // A missing binary is the first check after the options, so its error shows that they passed.
    const bin = '/nonexistent/heavylift';
    await assert.rejects(
      startDaemon({ bin, args: ['--log-level', 'debug'], env: { HEAVYLIFT_TEST: '1' }, timeoutMs: 1000 }),
      /heavylift daemon binary not found or not executable at \/nonexistent\/heavylift/,
    );
  });
});

describe('realtime socket target', () => {
  test('rejects socketId together with userId', async () => {
    await assert.rejects(client.realtime.join({ socketId: 's1', userId: 'kim', room: 'team' } as never), (error) =>
      assertInvalid(
        error,
        'target',
        "Expected exactly one of target.socketId and target.userId for target but received { socketId: 's1', userId: 'kim', room: 'team' } of type object",
      ),
    );
  });
});

describe('aggregate source', () => {
  test('rejects two sources', async () => {
    await assert.rejects(
      client.aggregate.run({ model: 'Event', source: { documents: [], postgres: { conninfo: 'x' } } as never, aggregates: [{ kind: 'count' }] }),
      (error) =>
        assertInvalid(
          error,
          'source',
          "Expected exactly one of source.mongo, source.postgres and source.documents for source but received { documents: [], postgres: { conninfo: 'x' } } of type object",
        ),
    );
  });
});

describe('aggregate live', () => {
  test('rejects a window that is not a positive integer', async () => {
    await assert.rejects(client.aggregate.live({ aggregates: [{ kind: 'count' }], windowMs: 0, slideMs: 1000 }, []), (error) =>
      assertInvalid(error, 'windowMs', 'Expected a positive integer of milliseconds for windowMs but received 0 of type number'),
    );
  });

  test('rejects an event time that is not a date', async () => {
    await assert.rejects(
      client.aggregate.live({ aggregates: [{ kind: 'count' }], windowMs: 1000, slideMs: 1000 }, [{ time: 'now' as never }]),
      (error) => assertInvalid(error, 'events[0].time', "Expected a Date or integer epoch milliseconds for events[0].time but received 'now' of type string"),
    );
  });
});

describe('aggregate moving window', () => {
  const base = { model: 'Event', source: { documents: [] }, aggregates: [{ kind: 'sum' as const, field: 'amount' }] };

  test('rejects a moving window without a bucketed key', async () => {
    await assert.rejects(client.aggregate.run({ ...base, groupBy: ['type'], moving: { buckets: 7 } }), (error) =>
      assertInvalid(error, 'moving.key', 'Expected a groupBy entry with a bucket for moving.key but received undefined of type undefined'),
    );
  });

  test('rejects a fractional window length', async () => {
    await assert.rejects(
      client.aggregate.run({ ...base, groupBy: [{ field: 'at', bucket: 'day' }], moving: { buckets: 6.5 } }),
      (error) => assertInvalid(error, 'moving.buckets', 'Expected an integer in 2..1000 for moving.buckets but received 6.5 of type number'),
    );
  });

  test('defaults the key to the last bucketed groupBy entry', async () => {
    // Gets past the checks and fails only on the network.
    await assert.rejects(
      client.aggregate.run({ ...base, groupBy: [{ field: 'at', bucket: 'day', timeZone: 'America/New_York' }, 'type'], moving: { buckets: 7 } }),
      UnavailableError,
    );
  });
});
