// argon2id hashing, typed daemon errors and call options, against a real daemon.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  CancelledError,
  createClient,
  DeadlineExceededError,
  InvalidArgumentError,
  type HeavyliftClient,
} from 'heavylift';

import { useDaemon } from './support';

const MAX_MEMORY_COST_KIB = 65536;
// About 0.2 s of work per call on a 2-core machine, far longer than the short deadlines below.
const EXPENSIVE = { memoryCost: MAX_MEMORY_COST_KIB, timeCost: 4, parallelism: 1 } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('argon2id with a daemon', () => {
  const fixture = useDaemon(['--crypto-argon2-max-memory-cost', String(MAX_MEMORY_COST_KIB), '--log-level', 'debug']);
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });

  after(() => client?.close());

  describe('argon2id hash and verify', () => {
    test('verify accepts the hashed password', async () => {
      const hash = await client.crypto.argon2id.hash('correct horse battery staple');

      assert.match(hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
      assert.equal(await client.crypto.argon2id.verify(hash, 'correct horse battery staple'), true);
    });

    test('verify rejects a wrong password', async () => {
      const hash = await client.crypto.argon2id.hash('correct horse battery staple');

      assert.equal(await client.crypto.argon2id.verify(hash, 'correct horse battery stapler'), false);
      assert.equal(await client.crypto.argon2id.verify(hash, ''), false);
    });

    test('string password is sent as UTF-8', async () => {
      const password = 'pässwörd 🔑';
      const hash = await client.crypto.argon2id.hash(password);

      assert.equal(await client.crypto.argon2id.verify(hash, Buffer.from(password, 'utf8')), true);
      assert.equal(await client.crypto.argon2id.verify(hash, Buffer.from(password, 'latin1')), false);
    });

    test('default salts differ between hashes', async () => {
      const first = await client.crypto.argon2id.hash('same password');
      const second = await client.crypto.argon2id.hash('same password');

      assert.notEqual(first, second);
    });

    test('explicit parameters appear in the PHC string', async () => {
      const salt = Buffer.from('0123456789abcdef', 'latin1');
      const options = { memoryCost: 8192, timeCost: 1, parallelism: 2, hashLength: 16, salt };

      const hash = await client.crypto.argon2id.hash(new Uint8Array([1, 2, 3, 4]), options);
      const fields = hash.split('$');

      assert.equal(fields[1], 'argon2id');
      assert.equal(fields[2], 'v=19');
      assert.deepEqual(fields[3]!.split(',').sort(), ['m=8192', 'p=2', 't=1']);
      assert.equal(fields[4], salt.toString('base64').replace(/=+$/, ''));
      assert.equal(Buffer.from(fields[5]!, 'base64').length, 16);
      // A fixed salt and parameters make the hash deterministic.
      assert.equal(await client.crypto.argon2id.hash(new Uint8Array([1, 2, 3, 4]), options), hash);
    });
  });

  describe('daemon errors', () => {
    test('memoryCost above the bound is InvalidArgumentError', async () => {
      const error = await client.crypto.argon2id
        .hash('pw', { memoryCost: MAX_MEMORY_COST_KIB * 2, requestId: 'memory-cost-1' })
        .then(() => assert.fail('hash resolved with memoryCost above the bound'), (rejection: unknown) => rejection);

      assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
      assert.equal(error.code, 3);
      assert.equal(error.codeName, 'INVALID_ARGUMENT');
      assert.equal(error.field, 'memoryCost');
      assert.equal(error.protoField, 'memory_cost');
      assert.ok(error.bound?.includes(String(MAX_MEMORY_COST_KIB)), `bound ${error.bound} should name ${MAX_MEMORY_COST_KIB}`);
      // The daemon may append a unit, as in "131072 KiB".
      assert.match(error.value ?? '', new RegExp(`^${MAX_MEMORY_COST_KIB * 2}(\\D|$)`));
      assert.match(error.reason ?? '', /^[A-Z_]+$/);
      assert.equal(error.requestId, 'memory-cost-1');
      // The message names the field as the caller wrote it, and details keeps the daemon's text.
      assert.match(error.message, /^memoryCost /);
      assert.match(error.details, /^memory_cost /);
      assert.equal(error.message.replace('memoryCost', 'memory_cost'), error.details);
    });

    test('invalid PHC string is InvalidArgumentError', async () => {
      await assert.rejects(client.crypto.argon2id.verify('$argon2id$not-a-hash', 'pw'), (error) => {
        assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
        assert.equal(error.field, 'hash');
        return true;
      });
    });

    test('requestId defaults to a random UUID', async () => {
      await assert.rejects(client.crypto.argon2id.hash('pw', { memoryCost: MAX_MEMORY_COST_KIB * 2 }), (error) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(error.requestId ?? '', UUID);
        return true;
      });
    });

    test('requestId reaches the daemon logs', async () => {
      const requestId = `log-check-${process.pid}`;
      await assert.rejects(client.crypto.argon2id.hash('pw', { memoryCost: MAX_MEMORY_COST_KIB * 2, requestId }), InvalidArgumentError);

      const line = await fixture.daemon.waitForLog(`request_id=${requestId}`);
      assert.match(line, /code=INVALID_ARGUMENT/);
    });
  });

  describe('call options', () => {
    test('short deadline gives DeadlineExceededError', async () => {
      // A first call opens the connection, so the deadline covers only the hash.
      assert.equal(await client.health(), 'SERVING');

      await assert.rejects(client.crypto.argon2id.hash('pw', { ...EXPENSIVE, deadlineMs: 20, requestId: 'deadline-1' }), (error) => {
        assert.ok(error instanceof DeadlineExceededError, `expected DeadlineExceededError, got ${String(error)}`);
        assert.equal(error.code, 4);
        assert.equal(error.codeName, 'DEADLINE_EXCEEDED');
        assert.equal(error.requestId, 'deadline-1');
        assert.equal(error.field, 'deadlineMs');
        assert.equal(error.bound, '20 ms');
        assert.match(error.value ?? '', /^\d+ ms$/);
        assert.match(error.message, /^Deadline exceeded after \d+ ms \(deadlineMs: 20\)$/);
        return true;
      });
    });

    test('client deadlineMs applies to every call', async () => {
      const hurried = createClient({ address: fixture.daemon.grpcAddress, deadlineMs: 20 });
      try {
        assert.equal(await hurried.health({ deadlineMs: 5000 }), 'SERVING');
        await assert.rejects(hurried.crypto.argon2id.hash('pw', EXPENSIVE), DeadlineExceededError);
      } finally {
        hurried.close();
      }
    });

    test('aborting the signal cancels the call', async () => {
      const controller = new AbortController();
      const reason = new Error('request no longer needed');
      const pending = client.crypto.argon2id.hash('pw', { ...EXPENSIVE, signal: controller.signal, requestId: 'abort-1' });
      setTimeout(() => controller.abort(reason), 20);

      // Without the abort the call would resolve with a hash.
      await assert.rejects(pending, (error) => {
        assert.ok(error instanceof CancelledError, `expected CancelledError, got ${String(error)}`);
        assert.equal(error.name, 'AbortError');
        assert.equal(error.code, 1);
        assert.equal(error.cause, reason);
        assert.equal(error.requestId, 'abort-1');
        return true;
      });

      // The channel stays usable after a cancelled call.
      const hash = await client.crypto.argon2id.hash('after abort');
      assert.equal(await client.crypto.argon2id.verify(hash, 'after abort'), true);
    });
  });
});
