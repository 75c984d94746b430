// Fixtures for the real-time hub tests: a daemon with the hub on a free
// loopback port and a key file in a temporary directory, JWTs signed the way
// a Node app signs them (HS256 with a shared secret, or EdDSA), and
// socket.io-client and raw WebSocket connections.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';

import { createClient } from 'heavylift';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { startTestDaemon } from '../lib/helpers.mjs';

/** True when the daemon under test is the ASan build, which is several times slower. */
export const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';

/** Returns the value of `key` in a logfmt line. */
function logField(line, key) {
  return new RegExp(`(?:^|\\s)${key}="?([^\\s"]+)`).exec(line)?.[1];
}

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** Signs `claims` as an HS256 JWT with `secret`. */
export function signHs256(claims, secret) {
  const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** Signs `claims` as an EdDSA (Ed25519) JWT with `privateKey`. */
export function signEdDsa(claims, privateKey) {
  const signingInput = `${base64url({ alg: 'EdDSA', typ: 'JWT' })}.${base64url(claims)}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
}

/** Claims for `userId` allowed into `rooms`, expiring `ttlSeconds` from now. */
export function claimsFor(userId, rooms = [], ttlSeconds = 600) {
  return { sub: userId, rooms, exp: Math.floor(Date.now() / 1000) + ttlSeconds };
}

/**
 * Starts a daemon whose hub listens on a free loopback port (unless `args` set
 * --realtime-address) and checks tokens with `keyFile`. Resolves with `daemon`,
 * `address` (host:port of the hub), `url` and an SDK `client`; the caller
 * closes the client and stops the daemon.
 */
export async function startHub(keyFile, args = []) {
  const address = args.includes('--realtime-address') ? [] : ['--realtime-address', '127.0.0.1:0'];
  const daemon = await startTestDaemon([...address, '--realtime-jwt-key-file', keyFile, ...args]);
  const line = await daemon.waitForLog('event=realtime.listening');
  const hubAddress = logField(line, 'address');
  return {
    daemon,
    address: hubAddress,
    url: `http://${hubAddress}`,
    client: createClient({ address: daemon.grpcAddress, deadlineMs: 15_000 }),
  };
}

/**
 * Starts a daemon with the hub before the enclosing tests and stops it after them, asserting a
 * clean exit. `extraArgs` may be a function called in the hook. With `key: 'eddsa'` the hub
 * checks EdDSA tokens against an Ed25519 public key; otherwise HS256 with a random secret.
 * Returns an object whose fields are set once the hook ran: `daemon`, `client` (SDK),
 * `address` (host:port of the hub), `url` and `token(userId, rooms, ttlSeconds)`.
 */
export function useHub(extraArgs = [], { key = 'hs256' } = {}) {
  const hub = { daemon: undefined, client: undefined, address: undefined, url: undefined, dir: undefined };

  before(async () => {
    hub.dir = mkdtempSync(path.join(tmpdir(), 'heavylift-hub-'));
    const keyFile = path.join(hub.dir, key === 'eddsa' ? 'jwt.pub.pem' : 'jwt.secret');
    if (key === 'eddsa') {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
      hub.sign = (claims) => signEdDsa(claims, privateKey);
    } else {
      const secret = randomBytes(32).toString('hex');
      writeFileSync(keyFile, `${secret}\n`);
      hub.secret = secret;
      hub.sign = (claims) => signHs256(claims, secret);
    }
    const args = typeof extraArgs === 'function' ? extraArgs() : extraArgs;
    Object.assign(hub, await startHub(keyFile, args));
  });

  after(async () => {
    hub.client?.close();
    if (hub.daemon) {
      const exit = await hub.daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${hub.daemon.logs()}`);
    }
    if (hub.dir) {
      rmSync(hub.dir, { recursive: true, force: true });
    }
  });

  hub.token = (userId, rooms = [], ttlSeconds = 600) => hub.sign(claimsFor(userId, rooms, ttlSeconds));
  return hub;
}

/**
 * Resolves once `hub` has logged that it registered a Subscribe call for `group` ('' for none),
 * which must be new to that daemon. The SDK's subscribe() returns before the call reaches the
 * hub, and the hub drops client events while no subscription exists.
 */
export function subscriptionRegistered(hub, group = '') {
  return hub.daemon.waitForLog(`event=realtime.subscribed group=${group || '-'} `, SANITIZED ? 20_000 : 5_000);
}

/** Sockets opened by `connectSocket`, closed by `closeSockets`. */
const openSockets = new Set();

/**
 * Connects socket.io-client to `url` over WebSocket with `auth` and resolves once connected;
 * rejects with the connect_error. Reconnection is off unless `options` turn it on.
 */
export function connectSocket(url, auth, options = {}) {
  const socket = io(url, {
    transports: ['websocket'],
    auth,
    reconnection: false,
    forceNew: true,
    timeout: 5_000,
    ...options,
  });
  openSockets.add(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Closes every socket opened by connectSocket. */
export function closeSockets() {
  for (const socket of openSockets) {
    socket.close();
  }
  openSockets.clear();
}

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `timeoutMs`. */
export function nextEvent(emitter, event, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, listener);
  });
}

/**
 * Opens a raw WebSocket to the hub's Socket.IO endpoint and collects its text and binary
 * messages, for tests that send what socket.io-client never would.
 */
export async function rawSocket(address, { query = 'EIO=4&transport=websocket', headers = {} } = {}) {
  const ws = new WebSocket(`ws://${address}/socket.io/?${query}`, { headers });
  const messages = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const message = isBinary ? data : data.toString();
    messages.push(message);
    for (const waiter of [...waiters]) waiter();
  });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    closed,
    /** Resolves with the first message (already received or not) matching `predicate`. */
    waitFor(predicate, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found !== undefined) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.map(String))}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}

/**
 * Resolves with the members once `hub` lists exactly the socket ids `expected` in `room`,
 * polling every 50 ms for at most `timeoutMs`. With Redis, a hub lists the members from the
 * room's presence set, which a background thread updates after the hub replied to a join or leave.
 */
export async function waitForMembers(hub, room, expected, timeoutMs = SANITIZED ? 20_000 : 10_000) {
  const deadline = Date.now() + timeoutMs;
  const expectedIds = JSON.stringify([...expected].sort());
  for (;;) {
    const members = await hub.client.realtime.members({ room });
    const ids = JSON.stringify(members.map((member) => member.socketId).sort());
    if (ids === expectedIds) return members;
    assert.ok(Date.now() < deadline, `room ${room} lists ${ids}, expected ${expectedIds}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Resolves once `hub` lists `socketId` among the members of `room`, polling every 25 ms for at
 * most `timeoutMs`. With Redis, a socket that the presence set does not list yet also looks
 * gone, so a wait for a dropped socket to be gone must come after this one.
 */
export async function waitUntilListed(hub, socketId, room, timeoutMs = SANITIZED ? 20_000 : 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await hub.client.realtime.members({ room })).some((member) => member.socketId === socketId)) {
    assert.ok(Date.now() < deadline, `socket ${socketId} not listed in ${room} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Returns the value of the Prometheus sample `name` with `labels` from `/metrics`, or 0. */
export async function metricValue(httpAddress, name, labels = {}) {
  const response = await fetch(`http://${httpAddress}/metrics`);
  const text = await response.text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) {
      return Number(match[3]);
    }
  }
  return 0;
}
