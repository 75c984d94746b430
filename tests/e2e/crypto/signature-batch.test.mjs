// Batch signing and verification through the real daemon: one result per
// item, in order, interchangeable with Node's crypto, and the batch bounds
// as INVALID_ARGUMENT errors that name the field and the bound.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, test } from 'node:test';

import { InvalidArgumentError } from 'heavylift';

import { rejectionOf, useDaemon } from '../lib/helpers.mjs';

const MAX_ITEMS = 50;
const MAX_BYTES = 4096;

describe('crypto signature batches', () => {
  const running = useDaemon([
    '--crypto-signature-batch-max-items', String(MAX_ITEMS),
    '--crypto-signature-batch-max-bytes', String(MAX_BYTES),
  ]);
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (key) => key.export({ format: 'pem', type: key.type === 'private' ? 'pkcs8' : 'spki' });
  const messages = Array.from({ length: MAX_ITEMS }, (_, i) => Buffer.from(`order ${i} paid`));

  test('Ed25519 signMany gives, in order, the signatures Node computes', async () => {
    const results = await running.client.crypto.signatures.signMany(pem(ed.privateKey), messages);
    assert.equal(results.length, messages.length);
    results.forEach((result, i) => {
      assert.equal(result.ok, true, `item ${i}`);
      // Ed25519 is deterministic: the same key and message give the same bytes.
      assert.deepEqual(result.value, sign(null, messages[i], ed.privateKey), `item ${i}`);
    });
  });

  test('ECDSA DER signatures from signMany verify in Node', async () => {
    const results = await running.client.crypto.signatures.signMany(pem(ec.privateKey), messages.slice(0, 10), { algorithm: 'ecdsa-p256', der: true });
    results.forEach((result, i) => {
      assert.equal(result.ok, true, `item ${i}`);
      assert.equal(verify('sha256', messages[i], ec.publicKey, result.value), true, `item ${i}`);
      assert.equal(verify('sha256', messages[(i + 1) % 10], ec.publicKey, result.value), false, `item ${i}`);
    });
  });

  test('verifyMany checks Node signatures, item keys and tampering one by one', async () => {
    const other = generateKeyPairSync('ed25519');
    const items = messages.slice(0, 20).map((message) => ({ message, signature: sign(null, message, ed.privateKey) }));
    items[4] = { ...items[4], message: Buffer.from('order 4 refunded') };
    items[9] = { message: messages[9], signature: sign(null, messages[9], other.privateKey), publicKeyPem: pem(other.publicKey) };
    items[11] = { ...items[11], publicKeyPem: pem(other.publicKey) };
    items[15] = { ...items[15], publicKeyPem: pem(ec.publicKey) };
    const results = await running.client.crypto.signatures.verifyMany(pem(ed.publicKey), items);
    assert.equal(results.length, 20);
    results.forEach((result, i) => {
      if (i === 15) {
        assert.equal(result.ok, false);
        assert.ok(result.error instanceof InvalidArgumentError);
        assert.equal(result.error.field, 'items[15].publicKeyPem');
        assert.equal(result.error.reason, 'KEY_MISMATCH');
        return;
      }
      assert.equal(result.ok, true, `item ${i}`);
      assert.equal(result.value, i !== 4 && i !== 11, `item ${i}`);
    });
  });

  test('batches over the bounds are INVALID_ARGUMENT naming the bound', async () => {
    const key = pem(ed.privateKey);
    const tooMany = await rejectionOf(running.client.crypto.signatures.signMany(key, [...messages, Buffer.from('one more')]));
    assert.ok(tooMany instanceof InvalidArgumentError, String(tooMany));
    assert.equal(tooMany.field, 'messages');
    assert.equal(tooMany.bound, `<= ${MAX_ITEMS} items`);
    assert.equal(tooMany.value, `${MAX_ITEMS + 1} items`);

    const tooBig = await rejectionOf(running.client.crypto.signatures.signMany(key, [Buffer.alloc(MAX_BYTES + 1)]));
    assert.ok(tooBig instanceof InvalidArgumentError, String(tooBig));
    assert.equal(tooBig.bound, `<= ${MAX_BYTES} bytes`);
    assert.match(tooBig.message, /crypto\.signature_batch\.max_bytes/);

    const empty = await rejectionOf(running.client.crypto.signatures.verifyMany(pem(ed.publicKey), []));
    assert.ok(empty instanceof InvalidArgumentError);
    assert.equal(empty.field, 'items');
    assert.equal(empty.reason, 'EMPTY');

    const publicKey = await rejectionOf(running.client.crypto.signatures.signMany(pem(ed.publicKey), messages.slice(0, 2)));
    assert.ok(publicKey instanceof InvalidArgumentError);
    assert.equal(publicKey.field, 'privateKeyPem');
    assert.equal(publicKey.reason, 'PUBLIC_KEY');
  });
});
