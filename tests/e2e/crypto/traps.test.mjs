// The interoperability traps of password hashing, each checked through the
// real daemon against hashes made by the npm packages.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import bcryptjs from 'bcryptjs';
import { InvalidArgumentError } from 'heavylift';

import { rejectionOf, useDaemon } from '../lib/helpers.mjs';

describe('password interoperability traps', () => {
  const running = useDaemon(['--crypto-bcrypt-default-cost', '4']);

  test('an argon2 hash with its parameters in m,p,t order verifies', async () => {
    const hash = await argon2.hash('order', { memoryCost: 8192, timeCost: 2, parallelism: 1 });
    // Rewrite "m=..,t=..,p=.." as "m=..,p=..,t=..", the order some versions of
    // the npm argon2 package wrote.
    const reordered = hash.replace(/m=(\d+),t=(\d+),p=(\d+)/, 'm=$1,p=$3,t=$2');
    assert.match(reordered, /\$m=8192,p=1,t=2\$/);
    assert.equal(await running.client.crypto.argon2id.verify(reordered, 'order'), true);
    assert.equal(await running.client.crypto.argon2id.verify(reordered, 'orders'), false);
  });

  test('a $2a$ hash of a 256-byte password (64 emoji) needs the truncate policy', async () => {
    const emoji = '😀'.repeat(64);
    assert.equal(Buffer.byteLength(emoji), 256);
    const hash = (await bcryptjs.hash(emoji, 4)).replace(/^\$2b\$/, '$2a$');
    assert.match(hash, /^\$2a\$04\$/);
    // By default a password over 72 bytes is an error, never a silent match.
    const error = await rejectionOf(running.client.crypto.bcrypt.verify(hash, emoji));
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.reason, 'PASSWORD_TOO_LONG');
    assert.equal(error.field, 'password');
    // With truncate, the npm behaviour, it verifies, and so does any password
    // sharing the first 72 bytes: that is what the policy accepts.
    assert.equal(await running.client.crypto.bcrypt.verify(hash, emoji, { longPassword: 'truncate' }), true);
    const sameStart = '😀'.repeat(18) + 'different tail';
    assert.equal(await running.client.crypto.bcrypt.verify(hash, sameStart, { longPassword: 'truncate' }), true);
  });

  test('a $2y$ hash (PHP) verifies', async () => {
    const hash = (await bcrypt.hash('php-made', 4)).replace(/^\$2b\$/, '$2y$');
    assert.equal(await running.client.crypto.bcrypt.verify(hash, 'php-made'), true);
    assert.equal(await running.client.crypto.password.verify(hash, 'php-mad'), false);
  });

  test('two passwords equal in their first 72 bytes do not silently match', async () => {
    const base = 'x'.repeat(72);
    const hashFromNpm = await bcrypt.hash(`${base}-one`, 4);
    // npm bcrypt itself accepts the other password: the trap.
    assert.equal(await bcrypt.compare(`${base}-two`, hashFromNpm), true);
    const error = await rejectionOf(running.client.crypto.bcrypt.verify(hashFromNpm, `${base}-two`));
    assert.equal(error.reason, 'PASSWORD_TOO_LONG');
    const hashError = await rejectionOf(running.client.crypto.bcrypt.hash(`${base}-one`));
    assert.equal(hashError.reason, 'PASSWORD_TOO_LONG');
    assert.equal(hashError.bound, '<= 72 bytes');
  });

  test('a password with a NUL byte is rejected for bcrypt', async () => {
    const withNul = 'abc\u0000def';
    // C implementations of bcrypt (libxcrypt, OpenBSD) stop reading at a NUL,
    // so heavylift refuses such a password both ways instead of guessing.
    const error = await rejectionOf(running.client.crypto.bcrypt.hash(withNul));
    assert.equal(error.reason, 'PASSWORD_CONTAINS_NUL');
    const npmHash = await bcrypt.hash(withNul, 4);
    assert.equal((await rejectionOf(running.client.crypto.bcrypt.verify(npmHash, withNul))).reason, 'PASSWORD_CONTAINS_NUL');
    // argon2id hashes every byte, NUL included.
    const argon = await running.client.crypto.argon2id.hash(withNul, { memoryCost: 1024 });
    assert.equal(await running.client.crypto.argon2id.verify(argon, withNul), true);
    assert.equal(await running.client.crypto.argon2id.verify(argon, 'abc'), false);
  });

  test('the same password in NFC and NFD matches only when normalized', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    assert.notEqual(nfc, nfd);
    assert.equal(nfc.normalize('NFC'), nfd.normalize('NFC'));
    const raw = await running.client.crypto.bcrypt.hash(nfc);
    assert.equal(await running.client.crypto.bcrypt.verify(raw, nfd), false);
    const normalized = await running.client.crypto.bcrypt.hash(nfd, { normalize: 'NFC' });
    assert.equal(await running.client.crypto.bcrypt.verify(normalized, nfc, { normalize: 'NFC' }), true);
    // The NFC bytes are what npm bcrypt sees for the NFC string.
    assert.equal(await bcrypt.compare(nfc, normalized), true);
  });
});
