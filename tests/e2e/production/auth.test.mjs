// Bearer tokens on gRPC and /metrics, their reload on SIGHUP, and the rule
// that a listener off the default loopback address needs TLS or a token.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { SignJWT, exportSPKI, generateKeyPair } from 'jose';

import { UnauthenticatedError, createClient } from 'heavylift';

import { DAEMON_BIN, REPO_ROOT, httpGet, startTestDaemon } from '../lib/helpers.mjs';

// The SDK's own grpc-js, for calls that bypass the SDK's typed methods.
const grpc = createRequire(import.meta.resolve('heavylift'))('@grpc/grpc-js');

const dir = mkdtempSync(path.join(os.tmpdir(), 'heavylift-auth-'));
const tokenFile = path.join(dir, 'tokens');
const FIRST = 'first-token-0123456789abcdef';
const ROTATED = 'rotated-token-0123456789abcdef';
writeFileSync(tokenFile, `# app servers\n${FIRST}\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

function rejectsUnauthenticated(promise, reason) {
  return assert.rejects(promise, (error) => {
    assert.ok(error instanceof UnauthenticatedError, `expected UnauthenticatedError, got ${error}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

describe('bearer tokens', () => {
  let daemon;
  before(async () => {
    daemon = await startTestDaemon(['--grpc-address', '127.0.0.2:0', '--auth-token-file', tokenFile]);
  });
  after(async () => {
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, daemon.logs());
  });

  test('token without TLS logs a warning', () => {
    assert.match(daemon.logs(), /event=server\.insecure_listener listener=grpc .*bearer tokens arrive in plain text/);
  });

  test('valid token runs tasks', async () => {
    const client = createClient({ address: daemon.grpcAddress, token: FIRST });
    try {
      const hash = await client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1 });
      assert.match(hash, /^\$argon2id\$/);
    } finally {
      client.close();
    }
  });

  test('missing and wrong tokens are rejected', async () => {
    const none = createClient({ address: daemon.grpcAddress });
    const wrong = createClient({ address: daemon.grpcAddress, token: 'wrong-token-0123456789abcdef' });
    try {
      await rejectsUnauthenticated(none.crypto.argon2id.hash('pw'), 'MISSING_TOKEN');
      await rejectsUnauthenticated(wrong.crypto.argon2id.hash('pw'), 'UNKNOWN_TOKEN');
    } finally {
      none.close();
      wrong.close();
    }
    assert.ok(!daemon.logs().includes('wrong-token'), 'a rejected token must not be logged');
  });

  test('every gRPC method rejects a call without a token', async () => {
    const methods = listProtoMethods();
    assert.ok(methods.length > 40, `found only ${methods.length} methods in proto/`);
    const client = new grpc.Client(daemon.grpcAddress, grpc.credentials.createInsecure());
    try {
      const admitted = [];
      for (const method of methods) {
        const code = await callWithoutToken(client, method);
        if (code !== grpc.status.UNAUTHENTICATED) admitted.push(`${method.path} (code ${code})`);
      }
      assert.deepEqual(admitted, []);
    } finally {
      client.close();
    }
  });

  test('metrics need the token, probes do not', async () => {
    assert.equal((await httpGet(daemon.httpAddress, '/healthz')).status, 200);
    assert.equal((await httpGet(daemon.httpAddress, '/readyz')).status, 200);
    assert.equal((await httpGet(daemon.httpAddress, '/metrics')).status, 401);
    const response = await fetch(`http://${daemon.httpAddress}/metrics`, {
      headers: { authorization: `Bearer ${FIRST}` },
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /heavylift_requests_total/);
  });

  test('SIGHUP reloads tokens without dropping connections', async () => {
    let current = FIRST;
    const client = createClient({ address: daemon.grpcAddress, token: () => current });
    try {
      assert.equal(await client.health(), 'SERVING');
      await client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1 });

      writeFileSync(tokenFile, `${ROTATED}\n`);
      daemon.process.kill('SIGHUP');
      await daemon.waitForLog('event=auth.tokens_reloaded');

      await rejectsUnauthenticated(client.crypto.argon2id.hash('pw'), 'UNKNOWN_TOKEN');
      current = ROTATED;
      // The same client, on the same connection, goes on with the new token.
      const hash = await client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1 });
      assert.match(hash, /^\$argon2id\$/);
    } finally {
      client.close();
    }
  });
});

// Lists every RPC of proto/heavylift/v1 with its path and streaming kind.
function listProtoMethods() {
  const protoDir = path.join(REPO_ROOT, 'proto', 'heavylift', 'v1');
  const methods = [];
  for (const file of readdirSync(protoDir).filter((name) => name.endsWith('.proto'))) {
    const text = readFileSync(path.join(protoDir, file), 'utf8').replace(/\/\/.*$/gm, '');
    for (const service of text.matchAll(/service\s+(\w+)\s*\{([^}]*)\}/g)) {
      for (const rpc of service[2].matchAll(/rpc\s+(\w+)\s*\(\s*(stream\s+)?[\w.]+\s*\)\s*returns\s*\(\s*(stream\s+)?/g)) {
        methods.push({ path: `/heavylift.v1.${service[1]}/${rpc[1]}`, clientStream: !!rpc[2], serverStream: !!rpc[3] });
      }
    }
  }
  return methods;
}

// Calls `method` with an empty message and no metadata; resolves with the status code.
function callWithoutToken(client, { path: methodPath, clientStream, serverStream }) {
  const bytes = (value) => value;
  const deadline = Date.now() + 10_000;
  return new Promise((resolve) => {
    const done = (error) => resolve(error ? error.code : grpc.status.OK);
    if (!clientStream && !serverStream) {
      client.makeUnaryRequest(methodPath, bytes, bytes, Buffer.alloc(0), new grpc.Metadata(), { deadline }, done);
    } else if (clientStream && !serverStream) {
      client.makeClientStreamRequest(methodPath, bytes, bytes, new grpc.Metadata(), { deadline }, done).end();
    } else {
      const call = serverStream && !clientStream
        ? client.makeServerStreamRequest(methodPath, bytes, bytes, Buffer.alloc(0), new grpc.Metadata(), { deadline })
        : client.makeBidiStreamRequest(methodPath, bytes, bytes, new grpc.Metadata(), { deadline });
      if (clientStream) call.end();
      call.on('data', () => {});
      call.on('error', (error) => resolve(error.code));
      call.on('end', () => resolve(grpc.status.OK));
    }
  });
}

describe('JWT bearer tokens', () => {
  const secret = 'app-signing-secret-0123456789abcdef-0123';
  const secretFile = path.join(dir, 'jwt-secret');
  const otherSecret = new TextEncoder().encode('another-secret-0123456789abcdef-01234567');
  let daemon;

  // Signs an HS256 token for `audience` that expires `expiresIn` from now.
  function sign({ key = new TextEncoder().encode(secret), audience = 'heavylift', expiresIn = '5m', issuer = 'app' } = {}) {
    return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('express-api').setIssuer(issuer)
      .setAudience(audience).setIssuedAt().setExpirationTime(expiresIn).sign(key);
  }

  before(async () => {
    writeFileSync(secretFile, `${secret}\n`);
    daemon = await startTestDaemon([
      '--grpc-address', '127.0.0.2:0',
      '--auth-jwt-key-file', secretFile,
      '--auth-jwt-audience', 'heavylift',
      '--auth-jwt-issuer', 'app',
    ]);
  });
  after(async () => {
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, daemon.logs());
  });

  test('signed JWT runs tasks', async () => {
    const token = await sign();
    const client = createClient({ address: daemon.grpcAddress, token });
    try {
      assert.match(await client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1 }), /^\$argon2id\$/);
    } finally {
      client.close();
    }
    assert.ok(!daemon.logs().includes(token), 'a token must not be logged');
  });

  test('bad JWTs are rejected with reasons', async () => {
    const cases = [
      ['EXPIRED', await sign({ expiresIn: Math.floor(Date.now() / 1000) - 3600 })],
      ['BAD_SIGNATURE', await sign({ key: otherSecret })],
      ['AUDIENCE_MISMATCH', await sign({ audience: 'someone-else' })],
      ['ISSUER_MISMATCH', await sign({ issuer: 'stranger' })],
      ['UNKNOWN_TOKEN', 'a-static-token-0123456789abcdef'],
    ];
    for (const [reason, token] of cases) {
      const client = createClient({ address: daemon.grpcAddress, token });
      try {
        await rejectsUnauthenticated(client.crypto.argon2id.hash('pw'), reason);
      } finally {
        client.close();
      }
    }
  });

  test('metrics accept a JWT', async () => {
    const response = await fetch(`http://${daemon.httpAddress}/metrics`, {
      headers: { authorization: `Bearer ${await sign()}` },
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(response.status, 200);
    const expired = await fetch(`http://${daemon.httpAddress}/metrics`, {
      headers: { authorization: `Bearer ${await sign({ expiresIn: Math.floor(Date.now() / 1000) - 3600 })}` },
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(expired.status, 401);
  });

  test('SIGHUP reloads the JWT key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const edToken = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject('express-api')
      .setIssuer('app').setAudience('heavylift').setExpirationTime('5m').sign(privateKey);
    const client = createClient({ address: daemon.grpcAddress, token: edToken });
    try {
      await rejectsUnauthenticated(client.crypto.argon2id.hash('pw'), 'ALGORITHM_NOT_ALLOWED');

      writeFileSync(secretFile, await exportSPKI(publicKey));
      daemon.process.kill('SIGHUP');
      await daemon.waitForLog(/event=auth\.tokens_reloaded .*jwt_key_file=/);
      assert.match(await client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1 }), /^\$argon2id\$/);
    } finally {
      client.close();
      writeFileSync(secretFile, `${secret}\n`);
    }
  });
});

describe('listener security rule', () => {
  test('127.0.0.2 without TLS or token does not start', () => {
    const result = spawnSync(DAEMON_BIN, ['--grpc-address', '127.0.0.2:0', '--http-address', '127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /grpc\.address 127\.0\.0\.2:0 is not 127\.0\.0\.1, ::1 or localhost/);
    assert.match(result.stderr, /--tls-cert-file/);
    assert.match(result.stderr, /--auth-token-file/);
    assert.match(result.stderr, /--auth-jwt-key-file/);
    assert.match(result.stderr, /--security-allow-insecure true/);
  });

  test('insecure flag starts with a warning', async () => {
    const daemon = await startTestDaemon(['--grpc-address', '127.0.0.2:0', '--security-allow-insecure', 'true']);
    try {
      assert.match(daemon.logs(), /event=server\.insecure_listener listener=grpc/);
      const client = createClient({ address: daemon.grpcAddress });
      assert.equal(await client.health(), 'SERVING');
      client.close();
    } finally {
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, daemon.logs());
    }
  });
});
