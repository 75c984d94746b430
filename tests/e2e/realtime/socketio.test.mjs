// socket.io-client (WebSocket transport) against the hub: the Engine.IO
// handshake, namespaces, auth with JWTs, rooms from both sides, emits from
// gRPC, acknowledgements both ways and binary attachments.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeSockets, connectSocket, nextEvent, rawSocket, subscriptionRegistered, useHub } from './lib.mjs';

describe('realtime hub with socket.io-client', () => {
  const hub = useHub(['--realtime-namespaces', '/,/admin', '--realtime-ping-interval-ms', '300',
    '--realtime-ping-timeout-ms', '2000']);
  afterEach(closeSockets);

  test('open packet carries configured settings', async () => {
    const raw = await rawSocket(hub.address);
    const open = await raw.waitFor((message) => typeof message === 'string' && message.startsWith('0'));
    const settings = JSON.parse(open.slice(1));
    assert.equal(settings.pingInterval, 300);
    assert.equal(settings.pingTimeout, 2000);
    assert.equal(settings.maxPayload, 1_000_000);
    assert.deepEqual(settings.upgrades, []);
    assert.match(settings.sid, /^[A-Za-z0-9_-]{20}$/);
    raw.ws.close();
  });

  test('server pings on the configured interval', async () => {
    const raw = await rawSocket(hub.address);
    const started = Date.now();
    await raw.waitFor((message) => message === '2');
    raw.ws.send('3');
    await raw.waitFor((message, index) => message === '2' && raw.messages.indexOf('2') !== index);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 500 && elapsed < 3000, `two pings took ${elapsed} ms at a 300 ms interval`);
    raw.ws.close();
  });

  test('connection survives many ping intervals', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('alice') });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(socket.connected, true);
  });

  test('valid token connects and socket is listed', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('alice') });
    assert.match(socket.id, /^[A-Za-z0-9_-]{20}$/);
    const members = await hub.client.realtime.members({ room: socket.id });
    assert.deepEqual(members, [{ socketId: socket.id, userId: 'alice' }]);
  });

  test('client joins an allowed room and receives gRPC emit', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('bob', ['chat:*']) });
    const joined = await socket.emitWithAck('heavylift:join', 'chat:7');
    assert.deepEqual(joined, { ok: true, room: 'chat:7' });
    const received = nextEvent(socket, 'message');
    const delivered = await hub.client.realtime.emit({ rooms: ['chat:7'], event: 'message', args: [{ text: 'hi' }, 2] });
    assert.equal(delivered, 1);
    assert.deepEqual(await received, [{ text: 'hi' }, 2]);
  });

  test('forbidden room is refused with a reason', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('carol', ['chat:*']) });
    const answer = await socket.emitWithAck('heavylift:join', 'admin');
    assert.equal(answer.ok, false);
    assert.equal(answer.reason, 'FORBIDDEN_ROOM');
    assert.match(answer.error, /rooms claim does not allow "admin"/);
    assert.deepEqual(await hub.client.realtime.members({ room: 'admin' }), []);
  });

  test('except rooms skip their members', async () => {
    const first = await connectSocket(hub.url, { token: hub.token('u1') });
    const second = await connectSocket(hub.url, { token: hub.token('u2') });
    await hub.client.realtime.join({ socketId: first.id, room: 'team' });
    await hub.client.realtime.join({ socketId: second.id, room: 'team' });
    await hub.client.realtime.join({ socketId: second.id, room: 'muted' });
    let secondGot = false;
    second.on('news', () => {
      secondGot = true;
    });
    const received = nextEvent(first, 'news');
    const delivered = await hub.client.realtime.emit({ rooms: ['team'], exceptRooms: ['muted'], event: 'news', args: ['x'] });
    assert.equal(delivered, 1);
    assert.deepEqual(await received, ['x']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(secondGot, false);
  });

  test('server-side join by user id reaches every socket of user', async () => {
    const first = await connectSocket(hub.url, { token: hub.token('dave') });
    const second = await connectSocket(hub.url, { token: hub.token('dave') });
    assert.equal(await hub.client.realtime.join({ userId: 'dave', room: 'dave-team' }), 2);
    const members = await hub.client.realtime.members({ room: 'dave-team' });
    assert.deepEqual(members.map((member) => member.socketId).sort(), [first.id, second.id].sort());
    const both = Promise.all([nextEvent(first, 'ping-all'), nextEvent(second, 'ping-all')]);
    assert.equal(await hub.client.realtime.emit({ rooms: ['dave-team'], event: 'ping-all' }), 2);
    await both;
    assert.equal(await hub.client.realtime.leave({ socketId: first.id, room: 'dave-team' }), 1);
    assert.equal((await hub.client.realtime.members({ room: 'dave-team' })).length, 1);
  });

  test('client events reach subscriber and ack flows back', async () => {
    const events = hub.client.realtime.subscribe({ group: 'app' });
    try {
      await subscriptionRegistered(hub, 'app');
      // Listening before the socket connects: the connect event may arrive before io() resolves.
      const connectEvent = nextEvent(events, 'connect');
      const socket = await connectSocket(hub.url, { token: hub.token('erin') });
      events.on('chat', (event) => {
        void event.ack?.({ stored: true, echo: event.args[0] });
      });
      const connected = await connectEvent;
      assert.equal(connected[0].userId, 'erin');
      const answer = await socket.timeout(5_000).emitWithAck('chat', 'hello');
      assert.deepEqual(answer, { stored: true, echo: 'hello' });
    } finally {
      events.close();
    }
  });

  test('acks of many events each reach their client', async () => {
    const events = hub.client.realtime.subscribe({ group: 'batched-acks' });
    try {
      await subscriptionRegistered(hub, 'batched-acks');
      const sockets = await Promise.all(['ivan', 'judy', 'kate'].map((user) => connectSocket(hub.url, { token: hub.token(user) })));
      // Every event of one burst is answered in the same turn, so the SDK sends them in one batch.
      events.on('count', (event) => {
        void event.ack?.({ user: event.userId, n: event.args[0] });
      });
      const answers = await Promise.all(
        sockets.flatMap((socket) => [1, 2, 3, 4].map((n) => socket.timeout(5_000).emitWithAck('count', n))),
      );
      assert.deepEqual(
        answers.map((answer) => `${answer.user}:${answer.n}`).sort(),
        ['ivan', 'judy', 'kate'].flatMap((user) => [1, 2, 3, 4].map((n) => `${user}:${n}`)).sort(),
      );
    } finally {
      events.close();
    }
  });

  test('a burst of client events reaches the subscriber complete and in order', async () => {
    const events = hub.client.realtime.subscribe({ group: 'burst' });
    try {
      await subscriptionRegistered(hub, 'burst');
      const users = ['lena', 'mike', 'nora'];
      const sockets = await Promise.all(users.map((user) => connectSocket(hub.url, { token: hub.token(user) })));
      const count = 60;
      const received = [];
      const all = new Promise((resolve) => {
        events.on('tick', (event) => {
          received.push(event);
          if (received.length === users.length * count) resolve();
        });
      });
      // The hub queues these faster than one stream write each, so they
      // travel in batch messages that the SDK unpacks.
      for (let n = 0; n < count; n += 1) {
        for (const socket of sockets) socket.emit('tick', n);
      }
      let timer;
      const timedOut = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`received ${received.length} events`)), 20_000);
      });
      try {
        await Promise.race([all, timedOut]);
      } finally {
        clearTimeout(timer);
      }
      for (const user of users) {
        const ordered = received.filter((event) => event.userId === user).map((event) => event.args[0]);
        assert.deepEqual(ordered, Array.from({ length: count }, (_, n) => n));
      }
    } finally {
      events.close();
    }
  });

  test('ack to a gone socket rejects with NotFoundError', async () => {
    const events = hub.client.realtime.subscribe({ group: 'late-ack' });
    try {
      await subscriptionRegistered(hub, 'late-ack');
      const socket = await connectSocket(hub.url, { token: hub.token('lena') });
      const received = nextEvent(events, 'late');
      socket.emit('late', 'x', () => {});
      const [event] = await received;
      const socketId = socket.id;
      const disconnected = new Promise((resolve) => {
        events.on('disconnect', (gone) => {
          if (gone.socketId === socketId) resolve();
        });
      });
      socket.disconnect();
      await disconnected;
      await assert.rejects(event.ack('too late'), (error) => {
        assert.equal(error.name, 'NotFoundError');
        return true;
      });
    } finally {
      events.close();
    }
  });

  test('server emit with ack returns client answer', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('frank') });
    socket.on('question', (value, callback) => callback(value * 2, 'ok'));
    const answer = await hub.client.realtime.emitWithAck({ socketId: socket.id, event: 'question', args: [21] });
    assert.deepEqual(answer, [42, 'ok']);
  });

  test('server emit with ack times out', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('gina') });
    socket.on('question', () => {});
    const started = Date.now();
    await assert.rejects(
      hub.client.realtime.emitWithAck({ socketId: socket.id, event: 'question', timeoutMs: 200 }),
      (error) => {
        assert.equal(error.name, 'DeadlineExceededError');
        return true;
      },
    );
    assert.ok(Date.now() - started < 3_000, 'the hub answered at the ack timeout, not the call deadline');
  });

  test('binary attachments travel both ways', async () => {
    const events = hub.client.realtime.subscribe();
    try {
      await subscriptionRegistered(hub);
      const socket = await connectSocket(hub.url, { token: hub.token('hank') });
      const uploaded = nextEvent(events, 'upload');
      socket.emit('upload', { name: 'a.bin', data: Buffer.from([1, 2, 3]) }, Buffer.from('tail'));
      const [event] = await uploaded;
      assert.equal(event.args[0].name, 'a.bin');
      assert.deepEqual([...event.args[0].data], [1, 2, 3]);
      assert.equal(event.args[1].toString(), 'tail');

      const received = nextEvent(socket, 'file');
      await hub.client.realtime.emit({ rooms: [socket.id], event: 'file', args: [{ bytes: Buffer.from([9, 8]) }] });
      const [payload] = await received;
      assert.deepEqual([...new Uint8Array(payload.bytes)], [9, 8]);
    } finally {
      events.close();
    }
  });

  test('namespaces keep rooms apart', async () => {
    const main = await connectSocket(hub.url, { token: hub.token('ivy') });
    const admin = await connectSocket(`${hub.url}/admin`, { token: hub.token('ivy') });
    assert.notEqual(main.id, admin.id);
    const received = nextEvent(admin, 'alert');
    let mainGot = false;
    main.on('alert', () => {
      mainGot = true;
    });
    assert.equal(await hub.client.realtime.emit({ namespace: '/admin', event: 'alert', args: [1] }), 1);
    await received;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(mainGot, false);
  });

  test('unknown namespace gets connect error', async () => {
    await assert.rejects(connectSocket(`${hub.url}/nope`, { token: hub.token('jay') }), /Invalid namespace/);
  });

  test('server disconnect ends socket', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('kim') });
    const disconnected = nextEvent(socket, 'disconnect');
    assert.equal(await hub.client.realtime.disconnect({ userId: 'kim' }), 1);
    const [reason] = await disconnected;
    assert.equal(reason, 'io server disconnect');
  });

  test('long polling gets a clear error', async () => {
    const response = await fetch(`${hub.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.code, 0);
    assert.match(body.message, /accepts only transport=websocket/);
  });
});

describe('realtime hub with EdDSA tokens', () => {
  const hub = useHub([], { key: 'eddsa' });
  afterEach(closeSockets);

  test('EdDSA token connects', async () => {
    const socket = await connectSocket(hub.url, { token: hub.token('lena') });
    assert.equal(socket.connected, true);
  });
});

describe('realtime hub drain', () => {
  const hub = useHub();
  afterEach(closeSockets);

  test('SIGTERM closes clients so they reconnect elsewhere', async () => {
    const sockets = [];
    for (let i = 0; i < 5; i += 1) {
      sockets.push(await connectSocket(hub.url, { token: hub.token(`drain-${i}`) }));
    }
    const reasons = Promise.all(sockets.map((socket) => nextEvent(socket, 'disconnect', 10_000)));
    const started = Date.now();
    const exit = await hub.daemon.stop('SIGTERM');
    assert.equal(exit.code, 0);
    for (const [reason] of await reasons) {
      // "transport close" lets socket.io-client reconnect by itself, unlike "io server disconnect".
      assert.equal(reason, 'transport close');
    }
    assert.ok(Date.now() - started < 5_000, 'the drain did not wait for the grace period');
    await hub.daemon.waitForLog('event=realtime.draining connections=5');
  });
});
