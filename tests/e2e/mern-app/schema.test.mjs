// The app's Mongoose Activity model and server/schema.json, which heavylift
// loads to aggregate the collection, must describe the same fields:
// `heavylift schema check` compares them, as an app's CI would.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { exportModelSchemas } from 'heavylift';

import { DAEMON_BIN } from '../lib/helpers.mjs';
import { APP_DIR } from './lib.mjs';

test('Activity model matches schema.json', async () => {
  // The app's own mongoose, so the models are built as the app builds them.
  const { default: mongoose } = await import(path.join(APP_DIR, 'node_modules', 'mongoose', 'index.js'));
  const { defineModels } = await import(path.join(APP_DIR, 'server', 'models.mjs'));
  const connection = mongoose.createConnection();
  const { Activity } = defineModels(connection);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-mern-schema-'));
  try {
    const modelsFile = path.join(dir, 'models.json');
    await writeFile(modelsFile, JSON.stringify(exportModelSchemas([Activity])));
    const { stdout, stderr } = await promisify(execFile)(DAEMON_BIN, [
      'schema', 'check', '--schema-file', path.join(APP_DIR, 'server', 'schema.json'), '--models', modelsFile,
    ]);
    assert.doesNotMatch(`${stdout}${stderr}`, /drift:/);
  } finally {
    await connection.close();
    await rm(dir, { recursive: true, force: true });
  }
});
