// The SDK's crypto methods against a real daemon: validation before sending,
// batch results and the round trips each method promises.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createClient, InvalidArgumentError, type HeavyliftClient } from 'heavylift';

import { useDaemon } from './support';

describe('crypto methods', () => {
  const fixture = useDaemon(['--crypto-bcrypt-default-cost', '4', '--crypto-aead-keys', `k1:${Buffer.alloc(32, 9).toString('base64')}`]);
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });

  after(() => client?.close());

  test('invalid options are rejected before sending, naming the option', async () => {
    const cases: [Promise<unknown>, string][] = [
      [client.crypto.bcrypt.hash('pw', { normalize: 'NFX' as never }), 'normalize'],
      [client.crypto.bcrypt.hash('pw', { longPassword: 'cut' as never }), 'longPassword'],
      [client.crypto.bcrypt.hash('pw', { cost: 40 }), 'cost'],
      [client.crypto.password.hash('pw', { algorithm: 'md5' as never }), 'policy.algorithm'],
      [client.crypto.password.hash('pw', { algorithm: 'bcrypt', longPassword: 'cut' as never }), 'policy.longPassword'],
      [client.crypto.password.hash('pw', { algorithm: 'bcrypt' }, { longPassword: 'cut' as never }), 'longPassword'],
      [client.crypto.password.hashMany('pw' as never), 'passwords'],
      [client.crypto.randomBytes(0), 'length'],
      [client.crypto.jwt.sign([] as never), 'claims'],
    ];
    for (const [promise, field] of cases) {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof InvalidArgumentError, `${field}: ${String(error)}`);
      assert.equal(error.field, field);
      assert.equal(error.protoField, undefined, 'raised by the SDK, not the daemon');
    }
  });

  test('hashMany returns one result or error per item', async () => {
    const results = await client.crypto.password.hashMany(['one', '', 'three'], { algorithm: 'bcrypt' });
    assert.equal(results.length, 3);
    assert.equal(results[0].ok, true);
    assert.equal(results[2].ok, true);
    assert.equal(results[1].ok, false);
    if (!results[1].ok) {
      assert.ok(results[1].error instanceof InvalidArgumentError);
      assert.equal(results[1].error.reason, 'EMPTY');
      assert.equal(results[1].error.field, 'password');
    }
    if (results[0].ok) {
      const verified = await client.crypto.password.verifyMany([[results[0].value, 'one'], [results[0].value, 'two']]);
      assert.deepEqual(verified.map((r) => r.ok && r.value), [true, false]);
    }
  });

  test('aead rejects misspelt option names', async () => {
    await assert.rejects(client.crypto.aead.encrypt('secret', { assocData: 'ctx' } as never), (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.equal(error.field, 'options.assocData');
      assert.match(error.message, /no such option \(allowed: associatedData, algorithm, keyId, key, deadlineMs/);
      return true;
    });
    await assert.rejects(client.crypto.aead.decrypt(Buffer.from('x'), { associated: 'ctx' } as never), InvalidArgumentError);
  });

  test('every method rejects misspelt option names before sending', async () => {
    const c = client.crypto;
    const key = Buffer.alloc(32);
    const cases: [string, () => Promise<unknown>][] = [
      ['argon2id.hash', () => c.argon2id.hash('pw', { memCost: 1024 } as never)],
      ['argon2id.verify', () => c.argon2id.verify('$argon2id$', 'pw', { normalise: 'NFC' } as never)],
      ['bcrypt.hash', () => c.bcrypt.hash('pw', { rounds: 4 } as never)],
      ['bcrypt.verify', () => c.bcrypt.verify('$2b$', 'pw', { longPasswords: 'truncate' } as never)],
      ['password.hash', () => c.password.hash('pw', undefined, { normalise: 'NFC' } as never)],
      ['password.verify', () => c.password.verify('$2b$', 'pw', { normalise: 'NFC' } as never)],
      ['password.needsRehash', () => c.password.needsRehash('$2b$', undefined, { deadline: 5 } as never)],
      ['password.hashMany', () => c.password.hashMany(['pw'], undefined, { normalise: 'NFC' } as never)],
      ['password.verifyMany', () => c.password.verifyMany([['$2b$', 'pw']], { normalise: 'NFC' } as never)],
      ['aead.encrypt', () => c.aead.encrypt('x', { keyID: 'k1' } as never)],
      ['aead.decrypt', () => c.aead.decrypt(Buffer.from('x'), { aad: 'x' } as never)],
      ['hash', () => c.hash('x', { algo: 'sha512' } as never)],
      ['hmac', () => c.hmac(key, 'x', { algo: 'sha512' } as never)],
      ['hmacVerify', () => c.hmacVerify(key, 'x', key, { algo: 'sha512' } as never)],
      ['hkdf', () => c.hkdf(key, 32, { salts: key } as never)],
      ['timingSafeEqual', () => c.timingSafeEqual('a', 'b', { constant: true } as never)],
      ['signatures.generateKeyPair', () => c.signatures.generateKeyPair('ed25519', { curve: 'P-256' } as never)],
      ['signatures.sign', () => c.signatures.sign('pem', 'm', { alg: 'ed25519' } as never)],
      ['signatures.verify', () => c.signatures.verify('pem', 'm', key, { DER: true } as never)],
      ['signatures.signMany', () => c.signatures.signMany('pem', ['m'], { alg: 'ed25519' } as never)],
      ['signatures.verifyMany', () => c.signatures.verifyMany('pem', [], { alg: 'ed25519' } as never)],
      ['jwt.sign', () => c.jwt.sign({}, { kid: 'k' } as never)],
      ['jwt.verify', () => c.jwt.verify('t', { audiences: ['a'] } as never)],
      ['randomBytes', () => c.randomBytes(8, { encoding: 'hex' } as never)],
      ['randomToken', () => c.randomToken(8, { encoding: 'hex' } as never)],
    ];
    for (const [name, call] of cases) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof InvalidArgumentError, `${name}: ${String(error)}`);
      assert.match(String(error.field), /^options\./, `${name}: ${error.message}`);
      assert.match(error.message, /no such option \(allowed: .*deadlineMs/, name);
      assert.equal(error.protoField, undefined, `${name}: raised by the SDK, not the daemon`);
    }
    // Call options stay accepted, and so do the method's own options.
    assert.equal((await c.randomBytes(8, { deadlineMs: 10_000 })).length, 8);
    assert.equal((await c.hash('abc', { algorithm: 'sha512', deadlineMs: 10_000 })).length, 64);
  });

  test('misspelt policy fields are rejected, and the options\' longPassword applies to a policy', async () => {
    const error = await client.crypto.password.hash('pw', { algorithm: 'bcrypt', bcryptCost: 4 } as never).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.field, 'policy.bcryptCost');
    const long = 'p'.repeat(80);
    const rejected = await client.crypto.password.hash(long, { algorithm: 'bcrypt' }).then(() => undefined, (e: unknown) => e);
    assert.ok(rejected instanceof InvalidArgumentError);
    assert.equal(rejected.reason, 'PASSWORD_TOO_LONG');
    const hash = await client.crypto.password.hash(long, { algorithm: 'bcrypt' }, { longPassword: 'truncate' });
    assert.match(hash, /^\$2b\$04\$/);
  });

  test('signMany and verifyMany give one result per item, in order', async () => {
    const pair = await client.crypto.signatures.generateKeyPair('ed25519');
    const messages = Array.from({ length: 40 }, (_, i) => `message ${i}`);
    const signed = await client.crypto.signatures.signMany(pair.privateKeyPem, messages);
    assert.equal(signed.length, 40);
    const signatures = signed.map((r) => {
      assert.ok(r.ok);
      return r.value;
    });
    assert.equal(await client.crypto.signatures.verify(pair.publicKeyPem, messages[5], signatures[5]), true);
    const other = await client.crypto.signatures.generateKeyPair('ed25519');
    const items = messages.map((message, i) => ({ message, signature: signatures[i] }));
    items[3] = { message: 'changed', signature: signatures[3] };
    const checked = await client.crypto.signatures.verifyMany(pair.publicKeyPem, [
      ...items,
      { message: messages[0], signature: signatures[0], publicKeyPem: other.publicKeyPem },
      { message: messages[0], signature: signatures[0], publicKeyPem: 'not a key' },
    ]);
    assert.equal(checked.length, 42);
    assert.deepEqual(checked.slice(0, 41).map((r) => r.ok && r.value), messages.map((_, i) => i !== 3).concat([false]));
    const last = checked[41];
    assert.equal(last.ok, false);
    if (!last.ok) {
      assert.ok(last.error instanceof InvalidArgumentError);
      assert.equal(last.error.field, 'items[41].publicKeyPem');
    }
  });

  test('aead, hmac, hash, signatures and random round trip', async () => {
    const envelope = await client.crypto.aead.encrypt('secret', { associatedData: 'ctx' });
    const opened = await client.crypto.aead.decrypt(envelope, { associatedData: 'ctx' });
    assert.equal(opened.plaintext.toString(), 'secret');
    assert.equal(opened.keyId, 'k1');

    const mac = await client.crypto.hmac('key', 'data');
    assert.equal(await client.crypto.hmacVerify('key', 'data', mac), true);
    assert.equal((await client.crypto.hash('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');

    const pair = await client.crypto.signatures.generateKeyPair('ecdsa-p256');
    const signature = await client.crypto.signatures.sign(pair.privateKeyPem, 'm', { algorithm: 'ecdsa-p256' });
    assert.equal(await client.crypto.signatures.verify(pair.publicKeyPem, 'm', signature, { algorithm: 'ecdsa-p256' }), true);

    const token = await client.crypto.randomToken(16);
    assert.match(token, /^[A-Za-z0-9_-]{22}$/);
  });
});
