// The hub as wss:// with --realtime-tls. socket.io-client connects with the CA
// that signed the certificate and receives an emit. A hub off loopback needs
// TLS, and TLS needs a certificate.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, afterEach, describe, test } from 'node:test';

import { createClient } from 'heavylift';

import { makeCertificates } from '../lib/certs.mjs';
import { DAEMON_BIN } from '../lib/helpers.mjs';
import { closeSockets, connectSocket, nextEvent, useHub } from './lib.mjs';

const certs = makeCertificates();
after(() => rmSync(certs.dir, { recursive: true, force: true }));

describe('wss hub', () => {
  const hub = useHub([
    '--realtime-address', '127.0.0.2:0',
    '--realtime-tls', 'true',
    '--tls-cert-file', certs.serverCertFile,
    '--tls-key-file', certs.serverKeyFile,
  ]);
  afterEach(closeSockets);

  test('client trusting the CA receives an emit', async () => {
    const socket = await connectSocket(`https://${hub.address}`, { token: hub.token('ada', ['tls-room']) }, { ca: certs.ca });
    await new Promise((resolve, reject) => {
      socket.emit('heavylift:join', 'tls-room', (reply) => (reply?.ok ? resolve() : reject(new Error(JSON.stringify(reply)))));
    });
    const received = nextEvent(socket, 'notice');
    // The certificate serves the gRPC listener too, so the app's client needs the CA as well.
    const client = createClient({ address: hub.daemon.grpcAddress, tls: { ca: certs.ca } });
    try {
      await client.realtime.emit({ rooms: ['tls-room'], event: 'notice', args: [{ text: 'over TLS' }] });
    } finally {
      client.close();
    }
    assert.deepEqual(await received, [{ text: 'over TLS' }]);
  });

  test('client with another CA cannot connect', async () => {
    await assert.rejects(
      connectSocket(`https://${hub.address}`, { token: hub.token('ada') }, { ca: certs.otherCa }),
      (error) => {
        assert.match(String(error.description?.message ?? error.description ?? error.message), /certificate|self[- ]signed|verify/i);
        return true;
      },
    );
  });

  test('plain ws client cannot connect', async () => {
    await assert.rejects(connectSocket(`http://${hub.address}`, { token: hub.token('ada') }));
  });
});

describe('hub listener rule', () => {
  test('remote hub without TLS does not start', () => {
    const result = spawnSync(
      DAEMON_BIN,
      ['--realtime-address', '127.0.0.2:0', '--realtime-jwt-key-file', '/dev/null'],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /realtime\.address 127\.0\.0\.2:0 is not 127\.0\.0\.1, ::1 or localhost/);
    assert.match(result.stderr, /--realtime-tls true/);
  });

  test('realtime.tls without a certificate does not start', () => {
    const result = spawnSync(DAEMON_BIN, ['--realtime-address', '127.0.0.1:0', '--realtime-tls', 'true'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /realtime\.tls needs tls\.cert_file and tls\.key_file/);
  });
});
