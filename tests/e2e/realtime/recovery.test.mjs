// Socket.IO connection state recovery against the hub, with socket.io-client:
// a client whose connection drops gets its socket id, its rooms and the room
// events it missed (emitted through gRPC and @socket.io/redis-emitter) when it
// reconnects within the window, with `socket.recovered` true. Also after the
// window, after a hub restart (state in a real redis-server), with an expired
// or another user's token, and with the per-room bound.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { Emitter } from '@socket.io/redis-emitter';
import { createClient as createRedisClient } from 'redis';

import { RedisServer, freePort } from '../lib/redis.mjs';
import {
  SANITIZED, claimsFor, closeSockets, connectSocket, metricValue, nextEvent, rawSocket, signHs256, startHub,
  waitForMembers, waitUntilListed,
} from './lib.mjs';

const WAIT_MS = SANITIZED ? 20_000 : 5_000;
const WINDOW_MS = 1_000;

/** Shared fixtures: a redis-server, a JWT secret and hubs started by the tests. */
const fixture = { redis: undefined, dir: undefined, secret: undefined, keyFile: undefined, hubs: new Set() };
const token = (user, rooms = [], ttlSeconds = 600) => signHs256(claimsFor(user, rooms, ttlSeconds), fixture.secret);

async function startRecoveryHub(args = []) {
  const hub = await startHub(fixture.keyFile, ['--realtime-recovery', '1', ...args]);
  fixture.hubs.add(hub);
  return hub;
}

async function stopHub(hub) {
  fixture.hubs.delete(hub);
  hub.client.close();
  const exit = await hub.daemon.stop();
  assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${hub.daemon.logs()}`);
}

/**
 * Resolves once the hub no longer lists `socketId` in `room`, i.e. it handled the lost
 * connection. With Redis, `room` must be one the socket joined: a socket's own room has no
 * Redis set, so the hub lists no member of it. A hub removes a member from a room's Redis set
 * after it queued the socket's session for Redis.
 */
async function waitUntilGone(hub, socketId, room = socketId) {
  const deadline = Date.now() + WAIT_MS;
  while ((await hub.client.realtime.members({ room })).some((member) => member.socketId === socketId)) {
    assert.ok(Date.now() < deadline, `socket ${socketId} still listed after ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Drops the client's connection as a network failure would: the WebSocket closes without a
 * DISCONNECT packet. Waits as waitUntilGone does, with `room`.
 */
async function dropConnection(hub, socket, room = socket.id) {
  const id = socket.id;
  // With Redis, a hub adds a member to the room's presence set in the background after the join
  // was acknowledged, and waitUntilGone would pass before that without showing anything.
  await waitUntilListed(hub, id, room, WAIT_MS);
  const disconnected = nextEvent(socket, 'disconnect', WAIT_MS);
  socket.io.engine.close();
  await disconnected;
  await waitUntilGone(hub, id, room);
}

/** Reconnects a dropped socket (reconnection is off in these tests) and resolves once connected. */
async function reconnect(socket) {
  const connected = nextEvent(socket, 'connect', WAIT_MS);
  socket.connect();
  await connected;
}

/** Records the `event` events of `socket` as [payload, offset] pairs. */
function record(socket, event) {
  const received = [];
  socket.on(event, (...args) => received.push(args));
  return received;
}

/** Resolves once `socket` receives `event` with `payload` as its first argument. */
function payloadSeen(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} ${JSON.stringify(payload)} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const listener = (first) => {
      if (first !== payload) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve();
    };
    socket.on(event, listener);
  });
}

/**
 * Waits for a marker event that `hub` sends to the socket's own room, so that every event `hub`
 * emitted before it has arrived. Events from another hub can still be on their way through Redis.
 */
async function flush(hub, socket) {
  const marker = nextEvent(socket, 'marker', WAIT_MS);
  await hub.client.realtime.emit({ rooms: [socket.id], event: 'marker', args: [] });
  await marker;
}

async function joinedSocket(hub, user, room) {
  const socket = await connectSocket(hub.url, { token: token(user, [room]) });
  assert.deepEqual(await socket.emitWithAck('heavylift:join', room), { ok: true, room });
  return socket;
}

describe('connection state recovery', () => {
  before(async () => {
    fixture.redis = await RedisServer.start();
    fixture.dir = mkdtempSync(path.join(tmpdir(), 'heavylift-recovery-'));
    fixture.secret = randomBytes(32).toString('hex');
    fixture.keyFile = path.join(fixture.dir, 'jwt.secret');
    writeFileSync(fixture.keyFile, fixture.secret);
  });

  after(async () => {
    for (const hub of [...fixture.hubs]) await stopHub(hub);
    await fixture.redis?.stop();
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
  });

  afterEach(closeSockets);

  describe('in memory', () => {
    const state = {};
    before(async () => {
      state.hub = await startRecoveryHub();
    });

    test('connect reply carries session id', async () => {
      const raw = await rawSocket(state.hub.address);
      await raw.waitFor((message) => typeof message === 'string' && message.startsWith('0'));
      raw.ws.send(`40${JSON.stringify({ token: token('mia') })}`);
      const connect = await raw.waitFor((message) => typeof message === 'string' && message.startsWith('40'));
      const { sid, pid } = JSON.parse(connect.slice(2));
      assert.match(sid, /^[A-Za-z0-9_-]{20}$/);
      assert.match(pid, /^[A-Za-z0-9_-]{20}$/);
      assert.notEqual(pid, sid);
      raw.ws.close();
    });

    test('room events carry offset argument', async () => {
      const socket = await joinedSocket(state.hub, 'mia', 'offsets');
      const received = nextEvent(socket, 'news');
      await state.hub.client.realtime.emit({ rooms: ['offsets'], event: 'news', args: [{ n: 1 }] });
      const [payload, offset] = await received;
      assert.deepEqual(payload, { n: 1 });
      assert.match(offset, /^[A-Za-z0-9_-]+\.\d+$/);
    });

    test('reconnect replays missed gRPC emits', async () => {
      const socket = await joinedSocket(state.hub, 'noa', 'memory-room');
      const received = record(socket, 'news');
      await state.hub.client.realtime.emit({ rooms: ['memory-room'], event: 'news', args: [{ n: 0 }] });
      await flush(state.hub, socket);
      const id = socket.id;

      await dropConnection(state.hub, socket);
      for (const n of [1, 2, 3]) {
        await state.hub.client.realtime.emit({ rooms: ['memory-room'], event: 'news', args: [{ n }] });
      }
      await reconnect(socket);
      await flush(state.hub, socket);

      assert.equal(socket.recovered, true);
      assert.equal(socket.id, id);
      assert.deepEqual(received.map(([payload]) => payload), [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
      const members = await state.hub.client.realtime.members({ room: 'memory-room' });
      assert.deepEqual(members, [{ socketId: id, userId: 'noa' }]);
    });

    test('client without offset gets all missed', async () => {
      const socket = await joinedSocket(state.hub, 'ola', 'no-offset');
      const received = record(socket, 'news');
      await dropConnection(state.hub, socket);
      await state.hub.client.realtime.emit({ rooms: ['no-offset'], event: 'news', args: ['first'] });
      await reconnect(socket);
      await flush(state.hub, socket);
      assert.equal(socket.recovered, true);
      assert.deepEqual(received.map(([payload]) => payload), ['first']);
    });

    test('except rooms apply to replay', async () => {
      const socket = await joinedSocket(state.hub, 'pia', 'except-room');
      await state.hub.client.realtime.join({ socketId: socket.id, room: 'muted' });
      const received = record(socket, 'news');
      await dropConnection(state.hub, socket);
      await state.hub.client.realtime.emit({ rooms: ['except-room'], exceptRooms: ['muted'], event: 'news', args: ['skip'] });
      await state.hub.client.realtime.emit({ rooms: ['except-room'], event: 'news', args: ['keep'] });
      await reconnect(socket);
      await flush(state.hub, socket);
      assert.deepEqual(received.map(([payload]) => payload), ['keep']);
    });

    test('expired token does not recover', async () => {
      const socket = await joinedSocket(state.hub, 'quin', 'expiry-room');
      await dropConnection(state.hub, socket);
      socket.auth = { token: token('quin', ['expiry-room'], -60) };
      const refused = nextEvent(socket, 'connect_error', WAIT_MS);
      socket.connect();
      const [error] = await refused;
      assert.equal(error.data.reason, 'EXPIRED');
      assert.equal(socket.connected, false);
    });

    test('other user token does not recover', async () => {
      const socket = await joinedSocket(state.hub, 'rae', 'identity-room');
      const id = socket.id;
      const received = record(socket, 'news');
      await dropConnection(state.hub, socket);
      await state.hub.client.realtime.emit({ rooms: ['identity-room'], event: 'news', args: ['private'] });
      socket.auth = { token: token('mallory', ['identity-room']) };
      await reconnect(socket);
      await flush(state.hub, socket);
      assert.equal(socket.recovered, false);
      assert.notEqual(socket.id, id);
      assert.deepEqual(received, []);
    });

    test('client disconnect keeps no session', async () => {
      const socket = await joinedSocket(state.hub, 'sam', 'leaving-room');
      const id = socket.id;
      socket.disconnect();
      await waitUntilGone(state.hub, id);
      await reconnect(socket);
      assert.equal(socket.recovered, false);
      assert.notEqual(socket.id, id);
    });
  });

  describe('window and bounds', () => {
    const state = {};
    before(async () => {
      state.hub = await startRecoveryHub(['--realtime-recovery-window-ms', String(WINDOW_MS)]);
      state.bounded = await startRecoveryHub(['--realtime-recovery-max-events-per-room', '3']);
    });

    test('reconnect after window is new session', async () => {
      const socket = await joinedSocket(state.hub, 'tia', 'late-room');
      const id = socket.id;
      const received = record(socket, 'news');
      await dropConnection(state.hub, socket);
      await state.hub.client.realtime.emit({ rooms: ['late-room'], event: 'news', args: ['missed'] });
      await new Promise((resolve) => setTimeout(resolve, WINDOW_MS * 2));
      await reconnect(socket);
      await flush(state.hub, socket);
      assert.equal(socket.recovered, false);
      assert.notEqual(socket.id, id);
      assert.deepEqual(received, []);
      assert.deepEqual(await state.hub.client.realtime.members({ room: 'late-room' }), []);
    });

    test('room bound drops oldest and counts', async () => {
      const httpAddress = state.bounded.daemon.httpAddress;
      const labels = { reason: 'recovery_log_full' };
      const socket = await joinedSocket(state.bounded, 'uma', 'bounded-room');
      const received = record(socket, 'news');
      await dropConnection(state.bounded, socket);
      const droppedBefore = await metricValue(httpAddress, 'heavylift_realtime_drops_total', labels);
      for (const n of [1, 2, 3, 4, 5]) {
        await state.bounded.client.realtime.emit({ rooms: ['bounded-room'], event: 'news', args: [n] });
      }
      await reconnect(socket);
      await flush(state.bounded, socket);
      assert.equal(socket.recovered, true);
      assert.deepEqual(received.map(([payload]) => payload), [3, 4, 5]);
      const droppedAfter = await metricValue(httpAddress, 'heavylift_realtime_drops_total', labels);
      assert.equal(droppedAfter - droppedBefore, 2);
    });
  });

  describe('with Redis', () => {
    const state = {};
    before(async () => {
      state.port = await freePort();
      state.args = ['--realtime-address', `127.0.0.1:${state.port}`,
        '--realtime-redis-address', `127.0.0.1:${fixture.redis.port}`];
      state.hub = await startRecoveryHub(state.args);
      state.publisher = createRedisClient({ url: fixture.redis.url });
      await state.publisher.connect();
    });

    after(async () => {
      await state.publisher?.quit();
    });

    test('replays gRPC and emitter events in order', async () => {
      const socket = await joinedSocket(state.hub, 'vic', 'mixed-room');
      const id = socket.id;
      const received = record(socket, 'news');
      await dropConnection(state.hub, socket, 'mixed-room');

      // The emitter gets no reply; a second member shows when the hub received its messages.
      const watcher = await joinedSocket(state.hub, 'wes', 'mixed-room');
      const emitter = new Emitter(state.publisher);
      await state.hub.client.realtime.emit({ rooms: ['mixed-room'], event: 'news', args: ['grpc-1'] });
      const seen = payloadSeen(watcher, 'news', 'emitter-3');
      emitter.to('mixed-room').emit('news', 'emitter-2', Buffer.from([7, 8]));
      emitter.to('mixed-room').emit('news', 'emitter-3');
      await seen;
      await state.hub.client.realtime.emit({ rooms: [id], event: 'news', args: ['grpc-4'] });

      await reconnect(socket);
      await flush(state.hub, socket);
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, id);
      assert.deepEqual(received.map(([payload]) => payload), ['grpc-1', 'emitter-2', 'emitter-3', 'grpc-4']);
      const bytes = received[1][1];
      assert.deepEqual([...bytes], [7, 8]);
    });

    test('recovers on another hub', async () => {
      const other = await startRecoveryHub(['--realtime-redis-address', `127.0.0.1:${fixture.redis.port}`]);
      const socket = await joinedSocket(state.hub, 'zoe', 'moving-room');
      const id = socket.id;
      const received = record(socket, 'news');
      await dropConnection(state.hub, socket, 'moving-room');

      // Emitted on the second hub, delivered to the first through Redis and logged there. The
      // emit returns before the first hub has it, so a member there shows when it arrived.
      const watcher = await joinedSocket(state.hub, 'amy', 'moving-room');
      const arrived = nextEvent(watcher, 'news', WAIT_MS);
      await other.client.realtime.emit({ rooms: ['moving-room'], event: 'news', args: ['from-other'] });
      await arrived;
      await state.hub.client.realtime.emit({ rooms: ['moving-room'], event: 'news', args: ['from-first'] });
      socket.io.uri = other.url;
      await reconnect(socket);
      // 'from-first' comes in the replay or, when the first hub had not yet written it to Redis,
      // as a live copy after it.
      await flush(state.hub, socket);

      assert.equal(socket.recovered, true);
      assert.equal(socket.id, id);
      assert.deepEqual(received.map(([payload]) => payload), ['from-other', 'from-first']);
      const after = nextEvent(socket, 'news', WAIT_MS);
      await state.hub.client.realtime.emit({ rooms: ['moving-room'], event: 'news', args: ['live'] });
      assert.equal((await after)[0], 'live');

      // Back to the first hub, which still has the older session in memory: the newer one in
      // Redis, with the room joined on the second hub, wins.
      await other.client.realtime.join({ socketId: id, room: 'joined-on-other' });
      await dropConnection(other, socket, 'joined-on-other');
      await other.client.realtime.emit({ rooms: ['joined-on-other'], event: 'news', args: ['while-away'] });
      socket.io.uri = state.hub.url;
      await reconnect(socket);
      await flush(other, socket);
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, id);
      assert.deepEqual(received.map(([payload]) => payload).slice(3), ['while-away']);
      // The hub rejoins a recovered socket to its rooms before it sends CONNECT, but adds it to
      // the rooms' presence sets in the background.
      await waitForMembers(state.hub, 'joined-on-other', [id], WAIT_MS);
      await stopHub(other);
    });

    test('recovers after hub restart', async () => {
      const socket = await joinedSocket(state.hub, 'xia', 'restart-room');
      const id = socket.id;
      const received = record(socket, 'news');
      await state.hub.client.realtime.emit({ rooms: ['restart-room'], event: 'news', args: ['seen'] });
      await flush(state.hub, socket);
      await dropConnection(state.hub, socket, 'restart-room');

      // A second member shows the emitter message reached the hub before it stops.
      const watcher = await joinedSocket(state.hub, 'yan', 'restart-room');
      const seen = payloadSeen(watcher, 'news', 'emitted-before-restart');
      await state.hub.client.realtime.emit({ rooms: ['restart-room'], event: 'news', args: ['before-restart'] });
      new Emitter(state.publisher).to('restart-room').emit('news', 'emitted-before-restart');
      await seen;
      await stopHub(state.hub);

      state.hub = await startRecoveryHub(state.args);
      await state.hub.client.realtime.emit({ rooms: ['restart-room'], event: 'news', args: ['after-restart'] });
      await reconnect(socket);
      await flush(state.hub, socket);

      assert.equal(socket.recovered, true);
      assert.equal(socket.id, id);
      assert.deepEqual(received.map(([payload]) => payload),
        ['seen', 'before-restart', 'emitted-before-restart', 'after-restart']);
      await waitForMembers(state.hub, 'restart-room', [id], WAIT_MS);
    });
  });
});
