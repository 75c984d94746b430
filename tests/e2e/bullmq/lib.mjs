// Shared steps of the BullMQ end-to-end tests: a real redis-server, heavylift
// started as a BullMQ worker against it, and bullmq's own Queue and
// QueueEvents on the Node side.
import { Queue, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { startTestDaemon, waitFor } from '../lib/helpers.mjs';
import { RedisServer } from '../lib/redis.mjs';

export const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';

let queueCounter = 0;

/** A queue name unique to this test process. */
export function uniqueQueueName(label) {
  queueCounter += 1;
  return `${label}-${process.pid}-${queueCounter}`;
}

/** ioredis connection options for `redis`, as bullmq takes them. */
export function connectionOf(redis) {
  return { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
}

/**
 * Starts heavylift as a BullMQ worker on `queueName` with the testing tasks
 * and a journal in a temporary directory. `extra` adds flags.
 */
export async function startWorker(redis, queueName, extra = [], { journalDir } = {}) {
  const dir = journalDir ?? (await mkdtemp(path.join(os.tmpdir(), 'heavylift-bullmq-')));
  const daemon = await startTestDaemon([
    '--testing-tasks', 'true',
    '--bullmq-redis-url', redis.url,
    '--bullmq-queue', queueName,
    '--bullmq-journal-path', path.join(dir, 'journal'),
    ...extra,
  ]);
  await daemon.waitForLog('event=bullmq.worker_started', 10_000);
  daemon.journalDir = dir;
  return daemon;
}

/**
 * Opens QueueEvents on `queue` that deliver every event from this moment on.
 * By default QueueEvents reads from '$', which Redis resolves at its first
 * XREAD, some time after waitUntilReady: a job that the worker finishes in
 * between never reports, and waitUntilFinished times out.
 */
export async function openQueueEvents(queue, connection) {
  const client = new IORedis(connection);
  let last;
  try {
    last = await client.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
  } finally {
    client.disconnect();
  }
  const events = new QueueEvents(queue.name, { connection, lastEventId: last[0]?.[0] ?? '0-0' });
  await events.waitUntilReady();
  return events;
}

/** Creates a bullmq Queue and QueueEvents on `queueName`, ready to use. */
export async function openQueue(redis, queueName) {
  const queue = new Queue(queueName, { connection: connectionOf(redis) });
  await queue.waitUntilReady();
  const events = await openQueueEvents(queue, connectionOf(redis));
  return { queue, events, close: async () => { await events.close(); await queue.close(); } };
}

export async function removeDir(dir) {
  if (dir) await rm(dir, { recursive: true, force: true });
}

export { RedisServer, waitFor };
