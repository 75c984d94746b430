// Two hubs sharing rooms through a real redis-server: gRPC emits and
// @socket.io/redis-emitter broadcasts reach clients on both, emitter
// requests (socketsJoin, disconnectSockets) and gRPC joins, leaves and
// disconnects by user id apply on both, presence lists
// members of both, and two hub processes can share one port.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { Emitter } from '@socket.io/redis-emitter';
import { createClient as createRedisClient } from 'redis';

import { RedisServer } from '../lib/redis.mjs';
import { claimsFor, closeSockets, connectSocket, nextEvent, signHs256, startHub, waitForMembers } from './lib.mjs';

describe('two hubs sharing Redis', () => {
  const cluster = { redis: undefined, hubs: [], dir: undefined, secret: undefined, publisher: undefined };
  const token = (user, rooms = []) => signHs256(claimsFor(user, rooms), cluster.secret);

  before(async () => {
    cluster.redis = await RedisServer.start();
    cluster.dir = mkdtempSync(path.join(tmpdir(), 'heavylift-cluster-'));
    cluster.secret = randomBytes(32).toString('hex');
    const keyFile = path.join(cluster.dir, 'jwt.secret');
    writeFileSync(keyFile, cluster.secret);
    const redisAddress = `127.0.0.1:${cluster.redis.port}`;
    const first = await startHub(keyFile, ['--realtime-redis-address', redisAddress, '--realtime-reuse-port', '1']);
    cluster.hubs.push(first);
    // The second hub binds the first one's port: SO_REUSEPORT on both.
    cluster.hubs.push(await startHub(keyFile, ['--realtime-redis-address', redisAddress, '--realtime-reuse-port', '1']));
    cluster.keyFile = keyFile;
    cluster.redisAddress = redisAddress;
    cluster.publisher = createRedisClient({ url: cluster.redis.url });
    await cluster.publisher.connect();
    // Subscriptions start asynchronously; give both hubs a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
  });

  after(async () => {
    await cluster.publisher?.quit();
    for (const hub of cluster.hubs) {
      hub.client.close();
      const exit = await hub.daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${hub.daemon.logs()}`);
    }
    await cluster.redis?.stop();
    if (cluster.dir) rmSync(cluster.dir, { recursive: true, force: true });
  });

  afterEach(closeSockets);

  async function socketsOnBothHubs(room) {
    const [first, second] = cluster.hubs;
    const a = await connectSocket(first.url, { token: token('ann', [room]) });
    const b = await connectSocket(second.url, { token: token('ben', [room]) });
    assert.equal((await a.emitWithAck('heavylift:join', room)).ok, true);
    assert.equal((await b.emitWithAck('heavylift:join', room)).ok, true);
    return [a, b];
  }

  test('gRPC emit on one hub reaches other hub', async () => {
    const [a, b] = await socketsOnBothHubs('cross');
    const both = Promise.all([nextEvent(a, 'update'), nextEvent(b, 'update')]);
    const delivered = await cluster.hubs[0].client.realtime.emit({ rooms: ['cross'], event: 'update', args: [{ n: 1 }] });
    assert.equal(delivered, 1, 'one local delivery; the other hub delivers its own');
    const [[fromFirst], [fromSecond]] = await both;
    assert.deepEqual(fromFirst, { n: 1 });
    assert.deepEqual(fromSecond, { n: 1 });
  });

  test('redis-emitter broadcast reaches both hubs', async () => {
    const [a, b] = await socketsOnBothHubs('emitted');
    const emitter = new Emitter(cluster.publisher);
    const both = Promise.all([nextEvent(a, 'note'), nextEvent(b, 'note')]);
    emitter.to('emitted').emit('note', 'text', 7, Buffer.from([1, 2]));
    const [[text, number, bytes], second] = await both;
    assert.equal(text, 'text');
    assert.equal(number, 7);
    assert.deepEqual([...new Uint8Array(bytes)], [1, 2]);
    assert.equal(second[0], 'text');
  });

  test('redis-emitter except rooms are honoured', async () => {
    const [a, b] = await socketsOnBothHubs('partial');
    await cluster.hubs[1].client.realtime.join({ socketId: b.id, room: 'quiet' });
    let bGot = false;
    b.on('partial-note', () => {
      bGot = true;
    });
    const received = nextEvent(a, 'partial-note');
    new Emitter(cluster.publisher).to('partial').except('quiet').emit('partial-note');
    await received;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(bGot, false);
  });

  test('redis-emitter socketsJoin and disconnectSockets apply', async () => {
    const [first, second] = cluster.hubs;
    const a = await connectSocket(first.url, { token: token('cat') });
    const b = await connectSocket(second.url, { token: token('dan') });
    const emitter = new Emitter(cluster.publisher);
    emitter.in([a.id, b.id]).socketsJoin('joined-by-emitter');
    // Each hub applies the request when it arrives over Redis, then adds the member to the room's
    // presence set in the background.
    await waitForMembers(first, 'joined-by-emitter', [a.id, b.id]);

    const gone = nextEvent(b, 'disconnect');
    emitter.in(b.id).disconnectSockets();
    const [reason] = await gone;
    assert.equal(reason, 'io server disconnect');
    assert.equal(a.connected, true);
  });

  test('join by user id reaches both hubs', async () => {
    const [first, second] = cluster.hubs;
    const a = await connectSocket(first.url, { token: token('kim') });
    const b = await connectSocket(second.url, { token: token('kim') });
    const other = await connectSocket(second.url, { token: token('lou') });

    const joined = await first.client.realtime.join({ userId: 'kim', room: 'kim-team' });
    assert.equal(joined, 1, 'the receiving hub counts its own sockets');
    await waitForMembers(first, 'kim-team', [a.id, b.id]);
    const both = Promise.all([nextEvent(a, 'team'), nextEvent(b, 'team')]);
    await first.client.realtime.emit({ rooms: ['kim-team'], event: 'team', args: ['hello'] });
    const [[toFirst], [toSecond]] = await both;
    assert.equal(toFirst, 'hello');
    assert.equal(toSecond, 'hello');

    await first.client.realtime.leave({ userId: 'kim', room: 'kim-team' });
    await waitForMembers(first, 'kim-team', []);
    assert.equal(other.connected, true);
  });

  test('disconnect by user id reaches both hubs', async () => {
    const [first, second] = cluster.hubs;
    const a = await connectSocket(first.url, { token: token('max') });
    const b = await connectSocket(second.url, { token: token('max') });
    const other = await connectSocket(second.url, { token: token('ned') });
    const gone = Promise.all([nextEvent(a, 'disconnect'), nextEvent(b, 'disconnect')]);
    await first.client.realtime.disconnect({ userId: 'max' });
    const [[firstReason], [secondReason]] = await gone;
    assert.equal(firstReason, 'io server disconnect');
    assert.equal(secondReason, 'io server disconnect');
    assert.equal(other.connected, true);
  });

  test('presence lists members on both hubs', async () => {
    const [a, b] = await socketsOnBothHubs('lobby');
    // A hub acknowledges a join before it adds the member to the room's presence set.
    for (const hub of cluster.hubs) {
      const members = await waitForMembers(hub, 'lobby', [a.id, b.id]);
      assert.deepEqual(
        members.map((member) => `${member.socketId}:${member.userId}`).sort(),
        [`${a.id}:ann`, `${b.id}:ben`].sort(),
      );
    }
    b.close();
    await waitForMembers(cluster.hubs[0], 'lobby', [a.id]);
  });

  test('two hub processes share one port', async () => {
    // Started here, so the other tests know which hub each client reaches.
    const shared = await startHub(cluster.keyFile, ['--realtime-redis-address', cluster.redisAddress,
      '--realtime-reuse-port', '1', '--realtime-address', cluster.hubs[0].address]);
    try {
      assert.equal(shared.address, cluster.hubs[0].address);
      const sockets = [];
      for (let i = 0; i < 8; i += 1) {
        sockets.push(await connectSocket(cluster.hubs[0].url, { token: token(`port-${i}`, ['shared-port']) }));
      }
      for (const socket of sockets) {
        assert.equal((await socket.emitWithAck('heavylift:join', 'shared-port')).ok, true);
      }
      const received = Promise.all(sockets.map((socket) => nextEvent(socket, 'everyone')));
      await shared.client.realtime.emit({ rooms: ['shared-port'], event: 'everyone' });
      await received;
    } finally {
      closeSockets();
      shared.client.close();
      const exit = await shared.daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${shared.daemon.logs()}`);
    }
  });
});
