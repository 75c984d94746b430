// Connection state recovery while a client moves between two running hubs
// that share a real redis-server. Hub A emits numbered events to a room every
// 2 ms through gRPC. A client drops its connection and recovers on the other
// hub while A keeps emitting: from A to B, and back and forth. Every client
// must receive the numbers exactly once and in order. The events A emits
// during a restore are the ones that could arrive twice (in a log and live)
// or not at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';

import { RedisServer } from '../lib/redis.mjs';
import { SANITIZED, claimsFor, closeSockets, connectSocket, nextEvent, signHs256, startHub, waitUntilListed } from './lib.mjs';

const WAIT_MS = SANITIZED ? 20_000 : 5_000;
const ROUNDS = 12;
const EMIT_INTERVAL_MS = 2;
const ROOM = 'stream';

const fixture = {
  redis: undefined, dir: undefined, secret: undefined, keyFile: undefined, hubs: [], hubA: undefined, hubB: undefined,
};
const token = (user) => signHs256(claimsFor(user, [ROOM]), fixture.secret);

async function startRecoveryHub() {
  const hub = await startHub(fixture.keyFile, [
    '--realtime-recovery', '1', '--realtime-redis-address', `127.0.0.1:${fixture.redis.port}`,
  ]);
  fixture.hubs.push(hub);
  return hub;
}

/**
 * Resolves once the room's members no longer include `socketId`. A hub removes a member from
 * the room's Redis set after it queued the socket's session for Redis, so the session is
 * stored by then. (A socket's own room has no Redis set, so listing it shows nothing here.)
 */
async function waitUntilGone(hub, socketId) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const members = await hub.client.realtime.members({ room: ROOM });
    if (!members.some((member) => member.socketId === socketId)) return;
    assert.ok(Date.now() < deadline, `socket ${socketId} still listed in ${ROOM} after ${WAIT_MS} ms`);
    await sleep(5);
  }
}

/**
 * Emits 1, 2, 3, ... to the room through `hub`, one every EMIT_INTERVAL_MS, until `state.stop`
 * is set. `state.last` is the last number emitted.
 */
async function emitNumbers(hub, state) {
  while (!state.stop) {
    const number = state.last + 1;
    await hub.client.realtime.emit({ rooms: [ROOM], event: 'n', args: [number] });
    state.last = number;
    await sleep(EMIT_INTERVAL_MS);
  }
}

/** Resolves once `received` has `count` more numbers than it had at the call. */
async function receiveMore(received, count) {
  const target = received.length + count;
  const deadline = Date.now() + WAIT_MS;
  while (received.length < target) {
    assert.ok(Date.now() < deadline, `received ${received.length} of ${target} numbers within ${WAIT_MS} ms`);
    await sleep(5);
  }
}

/** Drops the connection of `socket` on hub `from` as a network failure would and recovers it on hub `to`. */
async function moveSocket(socket, from, to, label) {
  const id = socket.id;
  // A hub adds a member to the room's Redis set in the background after the join or the
  // recovery, and waitUntilGone would pass before that without showing anything.
  await waitUntilListed(from, id, ROOM, WAIT_MS);
  const disconnected = nextEvent(socket, 'disconnect', WAIT_MS);
  socket.io.engine.close();
  await disconnected;
  await waitUntilGone(from, id);

  socket.io.uri = to.url;
  const connected = nextEvent(socket, 'connect', WAIT_MS);
  socket.connect();
  await connected;
  assert.equal(socket.recovered, true, `${label}: socket not recovered`);
  assert.equal(socket.id, id, `${label}: socket id changed`);
}

/** Connects a client of `user` to `hub`, joins the room and records the numbers it receives. */
async function joinedClient(hub, user) {
  const socket = await connectSocket(hub.url, { token: token(user) });
  const received = [];
  socket.on('n', (number) => received.push(number));
  assert.deepEqual(await socket.emitWithAck('heavylift:join', ROOM), { ok: true, room: ROOM });
  return { socket, received };
}

/** Asserts that `received` is a run of consecutive numbers: no repeat, no gap, in order. */
function assertConsecutive(received, label) {
  for (let i = 1; i < received.length; i += 1) {
    const expected = received[i - 1] + 1;
    if (received[i] === expected) continue;
    const around = received.slice(Math.max(0, i - 5), i + 5);
    assert.fail(`${label}: after ${received[i - 1]} came ${received[i]}, expected ${expected}; around: ${around}`);
  }
}

describe('recovery while moving between running hubs', () => {
  before(async () => {
    fixture.redis = await RedisServer.start();
    fixture.dir = mkdtempSync(path.join(tmpdir(), 'heavylift-move-'));
    fixture.secret = randomBytes(32).toString('hex');
    fixture.keyFile = path.join(fixture.dir, 'jwt.secret');
    writeFileSync(fixture.keyFile, fixture.secret);
    fixture.hubA = await startRecoveryHub();
    fixture.hubB = await startRecoveryHub();
  });

  after(async () => {
    for (const hub of fixture.hubs) {
      hub.client.close();
      const exit = await hub.daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${hub.daemon.logs()}`);
    }
    await fixture.redis?.stop();
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
  });

  afterEach(closeSockets);

  test('client moved to other hub gets every event once', async () => {
    const emitting = { stop: false, last: 0 };
    const emitter = emitNumbers(fixture.hubA, emitting);
    try {
      for (let round = 1; round <= ROUNDS; round += 1) {
        const { socket, received } = await joinedClient(fixture.hubA, `mover-${round}`);
        await receiveMore(received, 10);
        await moveSocket(socket, fixture.hubA, fixture.hubB, `round ${round}`);
        await receiveMore(received, 20);
        socket.disconnect();
        assertConsecutive(received, `round ${round}`);
      }
    } finally {
      emitting.stop = true;
      await emitter;
    }
    assert.ok(emitting.last > ROUNDS * 30, `only ${emitting.last} numbers emitted`);
  });

  test('client moved back and forth gets every event once', async () => {
    const emitting = { stop: false, last: 0 };
    const emitter = emitNumbers(fixture.hubA, emitting);
    try {
      const { socket, received } = await joinedClient(fixture.hubA, 'traveller');
      await receiveMore(received, 10);
      let current = fixture.hubA;
      for (let round = 1; round <= ROUNDS; round += 1) {
        const next = current === fixture.hubA ? fixture.hubB : fixture.hubA;
        await moveSocket(socket, current, next, `move ${round}`);
        current = next;
        await receiveMore(received, 20);
        assertConsecutive(received, `move ${round}`);
      }
      assert.ok(received.length > ROUNDS * 20, `only ${received.length} numbers received`);
    } finally {
      emitting.stop = true;
      await emitter;
    }
  });
});
