// API-edge validation: every case rejects before anything is sent, so no daemon runs. The
// client points at a loopback port where nothing listens, so a call that was sent would fail
// with UnavailableError instead of the expected error.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import {
  CancelledError,
  createClient,
  HeavyliftError,
  InvalidArgumentError,
  UnavailableError,
  type ThumbnailOptions,
} from 'heavylift';

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
