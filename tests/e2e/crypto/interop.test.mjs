// Cross-compatibility with the npm packages Node apps already use: hashes
// made by `argon2`, `bcrypt` and `bcryptjs` verify in heavylift and the
// reverse; tokens signed by `jose` verify in heavylift and the reverse.
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import bcryptjs from 'bcryptjs';
import * as jose from 'jose';

import { useDaemon } from '../lib/helpers.mjs';
import { writeCryptoKeys } from './keys.mjs';

const keys = await writeCryptoKeys();
after(() => keys.cleanup());

describe('password hashes across npm packages', () => {
  const running = useDaemon(['--crypto-bcrypt-default-cost', '10']);

  test('npm argon2 hashes (m,p,t order) verify in heavylift', async () => {
    const hash = await argon2.hash('correct horse', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,/);
    assert.equal(await running.client.crypto.argon2id.verify(hash, 'correct horse'), true);
    assert.equal(await running.client.crypto.password.verify(hash, 'correct horse'), true);
    assert.equal(await running.client.crypto.argon2id.verify(hash, 'correct horsE'), false);
    // The package's own defaults (p=4) take the portable libargon2 path.
    const defaults = await argon2.hash('lanes');
    assert.equal(await running.client.crypto.password.verify(defaults, 'lanes'), true);
  });

  test('heavylift argon2id hashes verify in npm argon2', async () => {
    const hash = await running.client.crypto.argon2id.hash('battery staple');
    assert.equal(await argon2.verify(hash, 'battery staple'), true);
    assert.equal(await argon2.verify(hash, 'battery stapler'), false);
  });

  test('npm bcrypt and bcryptjs hashes verify in heavylift', async () => {
    const fromNative = await bcrypt.hash('hunter2', 10);
    const fromJs = await bcryptjs.hash('hunter2', 10);
    assert.match(fromNative, /^\$2b\$10\$/);
    for (const hash of [fromNative, fromJs]) {
      assert.equal(await running.client.crypto.bcrypt.verify(hash, 'hunter2'), true, hash);
      assert.equal(await running.client.crypto.bcrypt.verify(hash, 'hunter3'), false, hash);
    }
  });

  test('heavylift bcrypt hashes verify in npm bcrypt and bcryptjs', async () => {
    const hash = await running.client.crypto.bcrypt.hash('hunter2');
    assert.match(hash, /^\$2b\$10\$/);
    assert.equal(await bcrypt.compare('hunter2', hash), true);
    assert.equal(await bcryptjs.compare('hunter2', hash), true);
    assert.equal(await bcryptjs.compare('hunter3', hash), false);
  });
});

describe('JWT across jose', () => {
  const running = useDaemon(() => ['--crypto-jwt-keys-file', keys.jwksFile]);

  const verificationKeys = async () => ({
    hs: createSecretKey(keys.hmacSecret),
    ed: keys.keyObjects.ed.publicKey,
    es: keys.keyObjects.ec.publicKey,
    rs: keys.keyObjects.rsa.publicKey,
  });
  const signingKeys = () => ({
    hs: createSecretKey(keys.hmacSecret),
    ed: keys.keyObjects.ed.privateKey,
    es: keys.keyObjects.ec.privateKey,
    rs: keys.keyObjects.rsa.privateKey,
  });

  for (const kid of ['hs', 'ed', 'es', 'rs']) {
    test(`${kid}: heavylift signs, jose verifies`, async () => {
      const token = await running.client.crypto.jwt.sign(
        { sub: 'user-1', aud: 'chat', rooms: ['lobby'] },
        { keyId: kid, expiresInSeconds: 60 },
      );
      const publicKey = (await verificationKeys())[kid];
      const { payload, protectedHeader } = await jose.jwtVerify(token, publicKey, { audience: 'chat', algorithms: [keys.jwks[kid].alg] });
      assert.equal(payload.sub, 'user-1');
      assert.deepEqual(payload.rooms, ['lobby']);
      assert.equal(protectedHeader.kid, kid);
      assert.ok(payload.exp - payload.iat === 60);
    });

    test(`${kid}: jose signs, heavylift verifies`, async () => {
      const token = await new jose.SignJWT({ rooms: ['a', 'b'] })
        .setProtectedHeader({ alg: keys.jwks[kid].alg, kid })
        .setSubject('user-2')
        .setIssuer('app')
        .setAudience(['chat', 'admin'])
        .setIssuedAt()
        .setExpirationTime('2m')
        .sign(signingKeys()[kid]);
      const claims = await running.client.crypto.jwt.verify(token, { audience: 'chat', issuer: 'app' });
      assert.equal(claims.subject, 'user-2');
      assert.deepEqual(claims.claims.rooms, ['a', 'b']);
      assert.equal(claims.algorithm, keys.jwks[kid].alg);
      assert.equal(claims.keyId, kid);
    });
  }
});
