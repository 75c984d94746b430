// The schema's generated files are current, and `heavylift schema check`
// accepts the generated Mongoose models and names a renamed or retyped field.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { exportModelSchemas } from 'heavylift';
import mongoose from 'mongoose';

import { DAEMON_BIN } from '../lib/helpers.mjs';
import { defineModels, SCHEMA_DIR, SCHEMA_FILE } from '../lib/records.mjs';

const run = promisify(execFile);

// Runs `heavylift schema check` and returns its exit code and output.
async function schemaCheck(modelsFile) {
  try {
    const { stdout, stderr } = await run(DAEMON_BIN, ['schema', 'check', '--schema-file', SCHEMA_FILE, '--models', modelsFile]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    return { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
}

describe('schema: generated files and drift', () => {
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-schema-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('generated files match schema/models', async () => {
    const { stderr } = await run(process.execPath, [path.join(SCHEMA_DIR, 'generate.mjs'), '--check']);
    assert.equal(stderr, '');
  });

  test('the generated Mongoose models pass schema check', async () => {
    const models = defineModels(new mongoose.Mongoose());
    const file = path.join(dir, 'models.json');
    await writeFile(file, JSON.stringify(exportModelSchemas(Object.values(models))));
    const result = await schemaCheck(file);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /the Node models match .*schema\.json \(2 models\)/);
  });

  test('a retyped and a renamed field fail schema check, named', async () => {
    // The app's Event model after someone edited it by hand: amount became a
    // Number and quantity was renamed to qty.
    const local = new mongoose.Mongoose();
    const { Schema } = local;
    const { Specimen } = defineModels(local);
    local.deleteModel('Event');
    const Event = local.model('Event', new Schema({
      user: { type: Schema.Types.ObjectId, required: true },
      type: { type: String, required: true, enum: ['view', 'click', 'purchase', 'refund'] },
      amount: { type: Number, required: true },
      qty: { type: Schema.Types.Int32, required: true },
      at: { type: Date, required: true },
    }, { versionKey: false }));
    const file = path.join(dir, 'drifted.json');
    await writeFile(file, JSON.stringify(exportModelSchemas([Event, Specimen])));

    const result = await schemaCheck(file);
    assert.equal(result.code, 1);
    // Other libraries may print to stderr too, so only the drift lines count.
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('drift:'));
    assert.deepEqual(lines, [
      'drift: model Event field amount: the schema has double (Double), the Node model has number',
      'drift: model Event field quantity: the field is in the schema but not in the Node model',
      'drift: model Event field qty: the field is in the Node model but not in the schema',
    ]);
    assert.match(result.stderr, /3 difference\(s\)/);
  });
});
