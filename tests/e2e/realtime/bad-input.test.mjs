// Bad input against the hub: tokens that must be refused, rooms outside the
// claims, oversized and malformed packets, too many attachments, clients
// that flood, never read or never send CONNECT. Each is refused or dropped
// with its metric, and the hub keeps serving a healthy client meanwhile.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeSockets, connectSocket, metricValue, nextEvent, rawSocket, SANITIZED, signHs256, useHub } from './lib.mjs';

describe('realtime hub bad input', () => {
  const hub = useHub([
    '--realtime-max-message-bytes', '4096',
    '--realtime-max-attachments', '2',
    '--realtime-connect-timeout-ms', '500',
    '--realtime-max-send-queue-bytes', '1048576',
    '--realtime-max-messages-per-second', '50',
    '--realtime-allowed-origins', 'http://allowed.test',
  ]);
  afterEach(closeSockets);

  // A client that must keep working while others misbehave.
  async function assertHealthyClientServed(user) {
    const socket = await connectSocket(hub.url, { token: hub.token(user) });
    const received = nextEvent(socket, 'still-here', 2_000);
    await hub.client.realtime.emit({ rooms: [socket.id], event: 'still-here' });
    await received;
  }

  async function drops(reason) {
    return metricValue(hub.daemon.httpAddress, 'heavylift_realtime_drops_total', { reason });
  }

  async function rawConnected(user) {
    const raw = await rawSocket(hub.address);
    raw.ws.send(`40${JSON.stringify({ token: hub.token(user) })}`);
    const connected = await raw.waitFor((message) => typeof message === 'string' && message.startsWith('40{'));
    return { raw, sid: JSON.parse(connected.slice(2)).sid };
  }

  test('missing token is refused', async () => {
    await assert.rejects(connectSocket(hub.url, {}), (error) => {
      assert.equal(error.data?.reason, 'TOKEN_MISSING');
      return true;
    });
  });

  test('malformed token is refused', async () => {
    await assert.rejects(connectSocket(hub.url, { token: 'not.a.jwt' }), (error) => {
      assert.equal(error.data?.reason, 'MALFORMED');
      return true;
    });
  });

  test('expired token is refused', async () => {
    await assert.rejects(connectSocket(hub.url, { token: hub.token('old', [], -3600) }), (error) => {
      assert.equal(error.data?.reason, 'EXPIRED');
      return true;
    });
  });

  test('wrongly signed token is refused', async () => {
    const forged = signHs256({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 600 }, 'x'.repeat(32));
    await assert.rejects(connectSocket(hub.url, { token: forged }), (error) => {
      assert.equal(error.data?.reason, 'BAD_SIGNATURE');
      return true;
    });
    await assertHealthyClientServed('after-forged');
  });

  test('token expiry disconnects socket', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('short', [], 1) });
    const [reason] = await nextEvent(socket, 'disconnect', 4_000);
    assert.equal(reason, 'io server disconnect');
    assert.ok((await drops('token_expired')) >= 1);
  });

  test('forbidden room is not joined', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('nosy', ['public']) });
    const answer = await socket.emitWithAck('heavylift:join', 'private');
    assert.equal(answer.reason, 'FORBIDDEN_ROOM');
    assert.ok((await drops('forbidden_room')) >= 1);
  });

  test('oversized message closes only its connection', async () => {
    const before = await drops('message_too_big');
    const socket = await connectSocket(hub.url, { token: hub.token('big') });
    const disconnected = nextEvent(socket, 'disconnect');
    socket.emit('huge', 'x'.repeat(8192));
    await disconnected;
    assert.equal(await drops('message_too_big'), before + 1);
    await assertHealthyClientServed('after-big');
  });

  test('malformed packets close the connection', async () => {
    for (const packet of ['42{bad json', '4x', '9', '42[1,2]', '44{"message":"x"}']) {
      const before = await drops('malformed_packet');
      const { raw } = await rawConnected('garbage');
      raw.ws.send(packet);
      const closed = await raw.closed;
      assert.equal(closed.code, 1002, `packet ${packet}`);
      assert.equal(await drops('malformed_packet'), before + 1, `packet ${packet}`);
    }
    await assertHealthyClientServed('after-garbage');
  });

  test('too many attachments are refused', async () => {
    const before = await drops('too_many_attachments');
    const { raw } = await rawConnected('attacher');
    raw.ws.send('453-["up",{"_placeholder":true,"num":0}]');
    await raw.closed;
    assert.equal(await drops('too_many_attachments'), before + 1);
  });

  test('client that never sends CONNECT is closed', async () => {
    const before = await drops('connect_timeout');
    const raw = await rawSocket(hub.address);
    const closed = await raw.closed;
    assert.equal(closed.code, 1002);
    assert.equal(await drops('connect_timeout'), before + 1);
  });

  test('flooding client is rate limited', async () => {
    const before = await drops('rate_limited');
    const { raw } = await rawConnected('flood');
    for (let i = 0; i < 200; i += 1) {
      raw.ws.send('42["spam"]');
    }
    const closed = await raw.closed;
    assert.equal(closed.code, 1008);
    assert.equal(await drops('rate_limited'), before + 1);
  });

  test('client that never reads is dropped without stalling others', async () => {
    const before = await drops('send_queue_full');
    const { raw, sid } = await rawConnected('sleeper');
    raw.ws._socket.pause();
    const healthy = await connectSocket(hub.url, { token: hub.token('awake') });
    await hub.client.realtime.join({ socketId: healthy.id, room: 'feed' });
    await hub.client.realtime.join({ socketId: sid, room: 'feed' });

    const chunk = 'y'.repeat(4 * 1024);
    const rounds = SANITIZED ? 1500 : 3000;
    let healthyCount = 0;
    healthy.on('tick', () => {
      healthyCount += 1;
    });
    for (let i = 0; i < rounds; i += 1) {
      await hub.client.realtime.emit({ rooms: ['feed'], event: 'tick', args: [chunk] });
      // The reading client keeps up: at most 100 messages (400 KiB) behind.
      while (i - healthyCount > 100) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const deadline = Date.now() + 10_000;
    while (healthyCount < rounds && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(healthyCount, rounds, 'the reading client got every message');
    assert.equal(await drops('send_queue_full'), before + 1);
    assert.deepEqual(
      (await hub.client.realtime.members({ room: 'feed' })).map((member) => member.socketId),
      [healthy.id],
    );
    raw.ws.terminate();
  });

  test('foreign origin is rejected', async () => {
    await assert.rejects(rawSocket(hub.address, { headers: { Origin: 'http://evil.test' } }), /Unexpected server response: 403/);
    const allowed = await rawSocket(hub.address, { headers: { Origin: 'http://allowed.test' } });
    allowed.ws.close();
  });
});

describe('realtime hub connection limit', () => {
  const hub = useHub(['--realtime-max-connections', '2']);
  afterEach(closeSockets);

  test('connections beyond the limit get 503', async () => {
    await connectSocket(hub.url, { token: hub.token('one') });
    await connectSocket(hub.url, { token: hub.token('two') });
    await assert.rejects(rawSocket(hub.address), /Unexpected server response: 503/);
    assert.equal(await metricValue(hub.daemon.httpAddress, 'heavylift_realtime_connections'), 2);
  });
});
