// Bad input to the crypto tasks through the real daemon: each case is a
// clear error with the right code, field and reason, and the daemon keeps
// serving.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import * as jose from 'jose';
import { createSecretKey } from 'node:crypto';

import { InvalidArgumentError, UnauthenticatedError } from 'heavylift';

import { rejectionOf, useDaemon } from '../lib/helpers.mjs';
import { writeCryptoKeys } from './keys.mjs';

const keys = await writeCryptoKeys();
after(() => keys.cleanup());

describe('crypto bad input', () => {
  const running = useDaemon(() => [
    '--crypto-jwt-keys-file', keys.jwksFile,
    '--crypto-aead-key-file', keys.aeadKeyFile,
    '--crypto-bcrypt-max-cost', '12',
  ]);

  async function assertInvalid(promise, { field, reason, bound }) {
    const error = await rejectionOf(promise);
    assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error?.name}: ${error?.message}`);
    if (field !== undefined) assert.equal(error.field, field, error.message);
    if (reason !== undefined) assert.equal(error.reason, reason, error.message);
    if (bound !== undefined) assert.equal(error.bound, bound, error.message);
    assert.ok(error.protoField, 'the daemon sent the ErrorDetail');
    return error;
  }

  test('malformed PHC strings and unknown algorithms', async () => {
    const c = running.client.crypto;
    await assertInvalid(c.argon2id.verify('$argon2id$v=19$m=65536', 'x'), { field: 'hash', reason: 'MALFORMED_HASH' });
    await assertInvalid(c.password.verify('$md5$abc', 'x'), { field: 'hash', reason: 'MALFORMED_HASH' });
    await assertInvalid(c.password.verify('$2x$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'x'), { reason: 'MALFORMED_HASH' });
  });

  test('costs over the bounds', async () => {
    const c = running.client.crypto;
    await assertInvalid(c.bcrypt.hash('x', { cost: 13 }), { field: 'cost', bound: 'in 4..12' });
    await assertInvalid(c.bcrypt.verify('$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'x'), { field: 'hash.cost' });
    await assertInvalid(c.argon2id.hash('x', { memoryCost: 1 << 22 }), { field: 'memoryCost' });
  });

  test('password policy errors name the policy option', async () => {
    const c = running.client.crypto;
    const cases = [
      [{ algorithm: 'scrypt', log2N: 25 }, 'policy.log2N', /^policy\.log2N must be in 10\.\.20, got 25$/],
      [{ algorithm: 'argon2id', memoryCost: 1 << 22 }, 'policy.memoryCost', /^policy\.memoryCost must be in 8\.\./],
      [{ algorithm: 'argon2id', timeCost: 1000 }, 'policy.timeCost', /^policy\.timeCost must be/],
      [{ algorithm: 'bcrypt', cost: 13 }, 'policy.cost', /^policy\.cost must be in 4\.\.12, got 13$/],
      [{ algorithm: 'pbkdf2-sha256', iterations: 1 }, 'policy.iterations', /^policy\.iterations must be/],
    ];
    for (const [policy, field, message] of cases) {
      const error = await assertInvalid(c.password.hash('x', policy), { field });
      assert.match(error.message, message);
      assert.match(error.protoField, /^policy\.[a-z0-9_]+$/);
    }

    // The batch method names each item's field the same way.
    const [result] = await c.password.hashMany(['x'], { algorithm: 'bcrypt', cost: 13 });
    assert.equal(result.ok, false);
    assert.equal(result.error.field, 'policy.cost');
    assert.match(result.error.message, /^policy\.cost must be/);
  });

  test('empty and 10 MB passwords', async () => {
    const c = running.client.crypto;
    await assertInvalid(c.bcrypt.hash(''), { field: 'password', reason: 'EMPTY' });
    await assertInvalid(c.password.hash('', { algorithm: 'pbkdf2-sha256' }), { field: 'password', reason: 'EMPTY' });
    await assertInvalid(c.password.hash('p'.repeat(10 << 20)), { field: 'password', reason: 'OUT_OF_RANGE' });
  });

  test('non-UTF-8 password bytes are hashed as bytes, and lone surrogates are refused by the SDK', async () => {
    const c = running.client.crypto;
    const bytes = Buffer.from([0xff, 0xfe, 0x80, 0x41]);
    const hash = await c.password.hash(bytes, { algorithm: 'pbkdf2-sha256', iterations: 1000 });
    assert.equal(await c.password.verify(hash, bytes), true);
    assert.equal(await c.password.verify(hash, Buffer.from([0xff, 0xfe, 0x80, 0x42])), false);
    const error = await rejectionOf(c.bcrypt.hash('bad \ud800 surrogate'));
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.field, 'password');
  });

  test('tampered ciphertext, tag or associated data', async () => {
    const c = running.client.crypto;
    for (const algorithm of ['aes-256-gcm', 'xchacha20-poly1305']) {
      const envelope = await c.aead.encrypt('account 7', { associatedData: 'user:7', algorithm });
      assert.equal((await c.aead.decrypt(envelope, { associatedData: 'user:7' })).plaintext.toString(), 'account 7');
      const body = Buffer.from(envelope);
      body[body.length - 20] ^= 1;
      await assertInvalid(c.aead.decrypt(body, { associatedData: 'user:7' }), { reason: 'DECRYPTION_FAILED', field: 'envelope' });
      const tag = Buffer.from(envelope);
      tag[tag.length - 1] ^= 1;
      await assertInvalid(c.aead.decrypt(tag, { associatedData: 'user:7' }), { reason: 'DECRYPTION_FAILED' });
      await assertInvalid(c.aead.decrypt(envelope, { associatedData: 'user:8' }), { reason: 'DECRYPTION_FAILED' });
      await assertInvalid(c.aead.decrypt(envelope.subarray(0, 10)), { reason: 'MALFORMED_ENVELOPE' });
    }
  });

  test('expired and not-yet-valid tokens', async () => {
    const c = running.client.crypto;
    const secret = createSecretKey(keys.hmacSecret);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'hs' }).setIssuedAt(now - 600).setExpirationTime(now - 300).sign(secret);
    const early = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'hs' }).setNotBefore(now + 600).setExpirationTime(now + 900).sign(secret);
    for (const [token, reason] of [[expired, 'EXPIRED'], [early, 'NOT_YET_VALID'], ['not.a.token', 'MALFORMED']]) {
      const error = await rejectionOf(c.jwt.verify(token));
      assert.ok(error instanceof UnauthenticatedError, `${reason}: got ${error?.name}`);
      assert.equal(error.reason, reason);
      assert.equal(error.field, 'token');
    }
    // alg none, and an HS256 token whose kid names the Ed25519 key.
    const none = `${Buffer.from('{"alg":"none","kid":"ed"}').toString('base64url')}.${Buffer.from(`{"exp":${now + 60}}`).toString('base64url')}.`;
    assert.equal((await rejectionOf(c.jwt.verify(none))).reason, 'ALGORITHM_NOT_ALLOWED');
    const confused = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'ed' }).setExpirationTime('1m').sign(secret);
    assert.equal((await rejectionOf(c.jwt.verify(confused))).reason, 'ALGORITHM_NOT_ALLOWED');
  });

  test('the daemon still serves after the bad input', async () => {
    assert.equal(await running.client.health(), 'SERVING');
    assert.equal(running.daemon.process.exitCode, null);
  });
});
