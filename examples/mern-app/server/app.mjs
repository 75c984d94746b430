// Builds the Express app: the JSON API under /api, the thumbnails under
// /media and the Vite-built front end. Every heavy step runs in heavylift
// through the public SDK; MongoDB stores users, photos and activity, and
// Redis the BullMQ queue that heavylift's worker reads.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Queue, QueueEvents } from 'bullmq';
import express from 'express';
import { createClient } from 'heavylift';
import mongoose from 'mongoose';

import { createAnalytics } from './analytics.mjs';
import { createAuth } from './auth.mjs';
import { createCsv } from './csv.mjs';
import { errorHandler } from './errors.mjs';
import { defineModels } from './models.mjs';
import { createPhotos } from './photos.mjs';

const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Reads the configuration from `env` (process.env by default). */
export function configFromEnv(env = process.env) {
  const required = (name) => {
    if (!env[name]) throw new Error(`Set ${name} (see examples/mern-app/README.md)`);
    return env[name];
  };
  const number = (name, fallback) => {
    const value = env[name] === undefined ? fallback : Number(env[name]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0, got ${env[name]}`);
    return value;
  };
  return {
    host: env.HOST ?? '127.0.0.1',
    port: number('PORT', 0),
    mongoUri: required('MONGODB_URI'),
    mongoDatabase: env.MONGODB_DATABASE ?? 'mernapp',
    redisUrl: required('REDIS_URL'),
    heavyliftAddress: required('HEAVYLIFT_ADDRESS'),
    realtimeUrl: required('HEAVYLIFT_REALTIME_URL'),
    queueName: env.HEAVYLIFT_QUEUE ?? 'heavylift',
    jwtKeyId: env.JWT_KEY_ID ?? 'app',
    sessionSeconds: number('SESSION_SECONDS', 8 * 3600),
    passwordPolicy: env.PASSWORD_POLICY ? JSON.parse(env.PASSWORD_POLICY) : { algorithm: 'argon2id' },
    maxUploadBytes: number('MAX_UPLOAD_BYTES', 25 * 1024 * 1024),
    maxCsvBytes: number('MAX_CSV_BYTES', 50 * 1024 * 1024),
    dataDir: path.resolve(env.DATA_DIR ?? path.join(APP_DIR, 'data')),
    timeZone: env.STATS_TIME_ZONE ?? 'UTC',
    webDir: env.WEB_DIR ?? path.join(APP_DIR, 'dist'),
  };
}

function redisConnection(url) {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379), maxRetriesPerRequest: null };
}

/** Connects to MongoDB, Redis and heavylift and returns { app, start, close }. */
export async function createApp(config, { log = (line) => console.log(line) } = {}) {
  const connection = await mongoose.createConnection(config.mongoUri, { dbName: config.mongoDatabase }).asPromise();
  const models = defineModels(connection);
  await Promise.all(Object.values(models).map((model) => model.init()));

  const client = createClient({ address: config.heavyliftAddress, deadlineMs: 30_000 });
  const queue = new Queue(config.queueName, { connection: redisConnection(config.redisUrl) });
  const queueEvents = new QueueEvents(config.queueName, { connection: redisConnection(config.redisUrl) });

  // Emits through heavylift's hub (RealtimeService.Emit). A lost live update
  // is not worth failing a request for: the pages reload what they show. While
  // the hub is unreachable, the first failure is logged and the rest counted.
  let failedEmits = 0;
  const realtime = {
    emit(event, ...args) {
      client.realtime.emit({ rooms: ['activity'], event, args }).then(
        () => {
          if (failedEmits > 0) log(`realtime emit resumed after ${failedEmits} failed emits`);
          failedEmits = 0;
        },
        (error) => {
          if (failedEmits === 0) log(`realtime emit ${event} failed, dropping live updates until the hub is back: ${error.message}`);
          failedEmits += 1;
        },
      );
    },
  };

  async function record(user, type, bytes) {
    await models.Activity.create({ user: user._id, userName: user.name, type, bytes, at: new Date() });
    realtime.emit('stats:changed', { type });
  }

  const auth = createAuth({ client, models, config, record });
  const photos = createPhotos({ client, models, config, realtime, record, requireUser: auth.requireUser, queue, queueEvents, log });
  const analytics = createAnalytics({ client, config, requireUser: auth.requireUser });
  const csv = createCsv({ client, config, realtime, record, requireUser: auth.requireUser });

  const app = express();
  app.disable('x-powered-by');
  const api = express.Router();
  api.use(express.json({ limit: '16kb' }));
  api.get('/config', (_request, response) => {
    response.json({ realtimeUrl: config.realtimeUrl, maxUploadBytes: config.maxUploadBytes });
  });
  api.get('/health', async (_request, response) => {
    const heavylift = await client.health({ deadlineMs: 2000 }).catch((error) => `unreachable: ${error.message}`);
    const jobs = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed').catch(() => null);
    response.json({ api: 'ok', heavylift, jobs });
  });
  api.use('/auth', auth.router);
  api.use('/photos', photos.router);
  api.use('/stats', analytics.router);
  api.use('/csv', csv.router);
  api.get('/activity', auth.requireUser, async (_request, response) => {
    const events = await models.Activity.find().sort({ at: -1 }).limit(30);
    response.json({ events: events.map((event) => ({ type: event.type, user: event.userName, bytes: event.bytes, at: event.at })) });
  });
  api.use((_request, response) => response.status(404).json({ error: 'No such API route.' }));
  api.use(errorHandler(log));
  app.use('/api', api);
  app.use('/media', express.static(photos.mediaDir, { immutable: true, maxAge: '1d', fallthrough: false }));

  if (existsSync(config.webDir)) {
    app.use(express.static(config.webDir, { index: false }));
    app.get('/{*page}', (_request, response) => response.sendFile(path.join(config.webDir, 'index.html')));
  }

  let server;
  return {
    app,
    models,
    client,
    queue,
    /** Listens on config.host:config.port and resolves with the URL. */
    async start() {
      photos.start();
      await queueEvents.waitUntilReady();
      await new Promise((resolve, reject) => {
        server = app.listen(config.port, config.host, (error) => (error ? reject(error) : resolve()));
      });
      const { address, port } = server.address();
      return `http://${address}:${port}`;
    },
    async close() {
      await new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections?.();
      await queueEvents.close();
      await queue.close();
      client.close();
      await connection.close();
    },
  };
}
