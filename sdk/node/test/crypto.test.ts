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
