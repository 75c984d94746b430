// Fixtures for the reference MERN app's tests: real FerretDB, Redis and
// heavylift (hub, BullMQ worker, blob root, the app's schema) on loopback
// ports, and the app's Express server from examples/mern-app in this process.
// heavylift's ports are fixed at the first start, so a restarted daemon is
// found again by the API and by the browsers.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { FerretServer } from '../lib/ferretdb.mjs';
import { REPO_ROOT, startTestDaemon } from '../lib/helpers.mjs';
import { freePort, RedisServer } from '../lib/redis.mjs';

export const APP_DIR = path.join(REPO_ROOT, 'examples', 'mern-app');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'build', 'test-artifacts', 'mern-app');
/** True when the daemon under test is the ASan build, which is several times slower. */
export const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';
/** Waits scale with the build under test. */
export const WAIT_MS = SANITIZED ? 120_000 : 40_000;

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/**
 * A running stack. `url` is the app's base URL; `daemon` the heavylift
 * process; `stopHeavylift()` and `startHeavylift()` stop and restart it on
 * the same ports; `close()` stops everything.
 */
export async function startStack({ env = {} } = {}) {
  const stack = { dir: await mkdtemp(path.join(os.tmpdir(), 'heavylift-mern-')) };
  stack.secret = randomBytes(32);
  stack.jwksFile = path.join(stack.dir, 'jwks.json');
  await writeFile(stack.jwksFile, JSON.stringify({ keys: [{ kty: 'oct', kid: 'app', alg: 'HS256', k: stack.secret.toString('base64url') }] }));
  stack.redis = await RedisServer.start();
  stack.mongo = await FerretServer.start();
  const grpcPort = await freePort();
  const hubPort = await freePort();
  stack.daemonArgs = [
    '--grpc-address', `127.0.0.1:${grpcPort}`,
    '--realtime-address', `127.0.0.1:${hubPort}`,
    '--realtime-jwt-key-file', stack.jwksFile,
    '--crypto-jwt-keys-file', stack.jwksFile,
    '--bullmq-redis-url', stack.redis.url,
    '--bullmq-queue', 'heavylift',
    '--bullmq-journal-path', path.join(stack.dir, 'bullmq.journal'),
    '--blob-root', path.join(stack.dir, 'blobs'),
    '--schema-file', path.join(APP_DIR, 'server', 'schema.json'),
  ];
  await mkdir(path.join(stack.dir, 'blobs'));

  stack.startHeavylift = async () => {
    stack.daemon = await startTestDaemon(stack.daemonArgs);
    await stack.daemon.waitForLog('event=realtime.listening', WAIT_MS);
  };
  stack.stopHeavylift = async () => {
    const exit = await stack.daemon.stop();
    assert.equal(exit.code, 0, `heavylift exited with ${JSON.stringify(exit)}; logs:\n${stack.daemon.logs()}`);
    stack.daemon = undefined;
  };
  await stack.startHeavylift();

  const { configFromEnv, createApp } = await import(path.join(APP_DIR, 'server', 'app.mjs'));
  stack.config = configFromEnv({
    MONGODB_URI: stack.mongo.url,
    REDIS_URL: stack.redis.url,
    HEAVYLIFT_ADDRESS: `127.0.0.1:${grpcPort}`,
    HEAVYLIFT_REALTIME_URL: `http://127.0.0.1:${hubPort}`,
    DATA_DIR: path.join(stack.dir, 'app'),
    ...env,
  });
  stack.logLines = [];
  stack.app = await createApp(stack.config, { log: (line) => stack.logLines.push(line) });
  stack.url = await stack.app.start();

  /** Signs claims with the stack's key the way heavylift does, for tokens the API must refuse. */
  stack.signToken = (claims) => {
    const input = `${base64url({ alg: 'HS256', typ: 'JWT', kid: 'app' })}.${base64url(claims)}`;
    return `${input}.${createHmac('sha256', stack.secret).update(input).digest('base64url')}`;
  };

  stack.close = async () => {
    await stack.app?.close();
    if (stack.daemon) await stack.stopHeavylift();
    await stack.redis?.stop();
    await stack.mongo?.stop();
    await rm(stack.dir, { recursive: true, force: true });
  };
  return stack;
}

/** Calls the app's API; `json` or `form` is the body. Resolves with { status, headers, body }. */
export async function call(stack, route, { method = 'GET', json, form, token, body: raw, headers: extra = {} } = {}) {
  const headers = { ...extra };
  if (token) headers.authorization = `Bearer ${token}`;
  let body = raw;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(`${stack.url}/api${route}`, { method, headers, body, signal: AbortSignal.timeout(WAIT_MS) });
  const text = await response.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Signs up `name` and returns the session { token, user }. */
export async function signUp(stack, name, password = 'correct horse battery') {
  const answer = await call(stack, '/auth/signup', { method: 'POST', json: { name, password } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

/** A multipart form with one file. */
export function fileForm(field, bytes, filename, type = 'application/octet-stream') {
  const form = new FormData();
  form.append(field, new Blob([bytes], { type }), filename);
  return form;
}

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs` with `what`. */
export async function eventually(probe, what, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms; last probe: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
