// TLS and mutual TLS on the gRPC listener, driven through the SDK's `tls`
// option with certificates made by the openssl command line.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { UnauthenticatedError, createClient } from 'heavylift';

import { makeCertificates } from '../lib/certs.mjs';
import { startTestDaemon } from '../lib/helpers.mjs';

const certs = makeCertificates();
after(() => rmSync(certs.dir, { recursive: true, force: true }));

async function stopDaemon(daemon) {
  const exit = await daemon.stop();
  assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);
}

// Calls health through a client with `tls` and returns the outcome.
async function healthWith(address, tls) {
  const client = createClient({ address, tls, deadlineMs: 5_000 });
  try {
    return await client.health();
  } finally {
    client.close();
  }
}

async function assertHandshakeRejected(address, tls) {
  await assert.rejects(healthWith(address, tls), (error) => {
    assert.ok(error instanceof UnauthenticatedError, `expected UnauthenticatedError, got ${error}`);
    assert.equal(error.reason, 'TLS_HANDSHAKE_FAILED');
    assert.match(error.message, /TLS handshake with the daemon failed/);
    return true;
  });
}

describe('TLS', () => {
  let daemon;
  before(async () => {
    daemon = await startTestDaemon([
      '--grpc-address', '127.0.0.2:0',
      '--tls-cert-file', certs.serverCertFile,
      '--tls-key-file', certs.serverKeyFile,
    ]);
  });
  after(() => stopDaemon(daemon));

  test('client trusting the CA runs tasks', async () => {
    const client = createClient({ address: daemon.grpcAddress, tls: { ca: certs.ca }, deadlineMs: 10_000 });
    try {
      assert.equal(await client.health(), 'SERVING');
      const hash = await client.crypto.argon2id.hash('correct horse', { memoryCost: 1024, timeCost: 1 });
      assert.equal(await client.crypto.argon2id.verify(hash, 'correct horse'), true);
    } finally {
      client.close();
    }
  });

  test('wrong CA fails as UNAUTHENTICATED', async () => {
    await assertHandshakeRejected(daemon.grpcAddress, { ca: certs.otherCa });
  });

  test('plaintext client cannot call', async () => {
    const client = createClient({ address: daemon.grpcAddress, deadlineMs: 3_000 });
    try {
      await assert.rejects(client.health());
    } finally {
      client.close();
    }
  });
});

describe('expired server certificate', () => {
  let daemon;
  before(async () => {
    daemon = await startTestDaemon([
      '--grpc-address', '127.0.0.2:0',
      '--tls-cert-file', certs.expiredCertFile,
      '--tls-key-file', certs.expiredKeyFile,
    ]);
  });
  after(() => stopDaemon(daemon));

  test('client rejects it as UNAUTHENTICATED', async () => {
    await assertHandshakeRejected(daemon.grpcAddress, { ca: certs.ca });
  });
});

describe('mutual TLS', () => {
  let daemon;
  before(async () => {
    daemon = await startTestDaemon([
      '--grpc-address', '127.0.0.2:0',
      '--tls-cert-file', certs.serverCertFile,
      '--tls-key-file', certs.serverKeyFile,
      '--tls-client-ca-file', certs.caFile,
    ]);
  });
  after(() => stopDaemon(daemon));

  test('client certificate from the CA is accepted', async () => {
    assert.equal(await healthWith(daemon.grpcAddress, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }), 'SERVING');
  });

  test('missing client certificate is rejected', async () => {
    await assertHandshakeRejected(daemon.grpcAddress, { ca: certs.ca });
  });

  test('client certificate from another CA is rejected', async () => {
    await assertHandshakeRejected(daemon.grpcAddress, {
      ca: certs.ca,
      cert: certs.otherClientCert,
      key: certs.otherClientKey,
    });
  });
});

describe('TLS start-up checks', () => {
  test('key not matching certificate fails start', async () => {
    await assert.rejects(
      startTestDaemon(['--tls-cert-file', certs.serverCertFile, '--tls-key-file', certs.expiredKeyFile]),
      /the key does not match the certificate/,
    );
  });
});
