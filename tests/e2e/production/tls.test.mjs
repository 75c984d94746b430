// TLS and mutual TLS on the gRPC listener, driven through the SDK's `tls`
// option with certificates made by the openssl command line.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
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

// GETs `pathname` over HTTPS, trusting `ca`. Resolves {status, body} or
// rejects with the TLS error.
function httpsGet(address, pathname, { ca, headers = {} }) {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)];
  return new Promise((resolve, reject) => {
    const request = https.get({ host, port, path: pathname, ca, headers, timeout: 5_000, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${pathname} timed out`)));
    request.on('error', reject);
  });
}

describe('HTTPS admin listener', () => {
  const token = 'admin-token-0123456789abcdef';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'heavylift-admin-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const tokenFile = path.join(dir, 'tokens');
  let daemon;
  before(async () => {
    copyFileSync(certs.serverCertFile, certFile);
    copyFileSync(certs.serverKeyFile, keyFile);
    writeFileSync(tokenFile, `${token}\n`);
    daemon = await startTestDaemon([
      '--http-address', '127.0.0.2:0',
      '--http-tls', 'true',
      '--tls-cert-file', certFile,
      '--tls-key-file', keyFile,
      '--auth-token-file', tokenFile,
    ]);
  });
  after(async () => {
    await stopDaemon(daemon);
    rmSync(dir, { recursive: true, force: true });
  });

  test('probes and metrics answer over HTTPS', async () => {
    assert.equal((await httpsGet(daemon.httpAddress, '/readyz', { ca: certs.ca })).status, 200);
    assert.equal((await httpsGet(daemon.httpAddress, '/metrics', { ca: certs.ca })).status, 401);
    const metrics = await httpsGet(daemon.httpAddress, '/metrics', {
      ca: certs.ca,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /heavylift_requests_total/);
  });

  test('wrong CA fails the handshake', async () => {
    await assert.rejects(httpsGet(daemon.httpAddress, '/healthz', { ca: certs.otherCa }), /self[- ]signed|unable to verify|certificate/i);
  });

  test('plain HTTP gets no answer', async () => {
    await assert.rejects(
      fetch(`http://${daemon.httpAddress}/healthz`, { signal: AbortSignal.timeout(5_000) }),
    );
  });

  test('changed certificate is used without restart', async () => {
    // The expired certificate plays the renewed one, so clients must now reject it.
    copyFileSync(certs.expiredCertFile, certFile);
    copyFileSync(certs.expiredKeyFile, keyFile);
    await assert.rejects(httpsGet(daemon.httpAddress, '/healthz', { ca: certs.ca }), /expired/i);
    await daemon.waitForLog('event=http.tls_reloaded');

    copyFileSync(certs.serverCertFile, certFile);
    copyFileSync(certs.serverKeyFile, keyFile);
    assert.equal((await httpsGet(daemon.httpAddress, '/healthz', { ca: certs.ca })).status, 200);
  });

  test('http.tls without a certificate does not start', async () => {
    await assert.rejects(startTestDaemon(['--http-tls', 'true']), /http\.tls needs tls\.cert_file and tls\.key_file/);
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
