// Uploads stored in MongoDB GridFS on a real FerretDB, read back with the
// `mongodb` driver's GridFSBucket and with the Download stream: bytes and
// SHA-256 equal, identical uploads deduplicated, failed and cancelled
// uploads leave no chunks, chunks left by a killed daemon are deleted once
// stale, and the missing setting is named.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CancelledError, createClient, FailedPreconditionError, InvalidArgumentError, UnavailableError } from 'heavylift';
import { Binary, GridFSBucket, MongoClient, ObjectId } from 'mongodb';

import { FerretServer } from '../lib/ferretdb.mjs';
import { rejectionOf, startTestDaemon, useDaemon } from '../lib/helpers.mjs';

const MiB = 1 << 20;
const CHUNK = 255 * 1024;
const DATABASE = 'heavylift_files';
const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';
const WAIT_MS = SANITIZED ? 60_000 : 20_000;

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// An ObjectId created `ageS` seconds ago, unique by its random tail.
const objectIdAged = (ageS) =>
  new ObjectId((Math.floor(Date.now() / 1000) - ageS).toString(16).padStart(8, '0') + randomBytes(8).toString('hex'));

async function collect(readable) {
  const parts = [];
  for await (const part of readable) parts.push(part);
  return Buffer.concat(parts);
}

// Polls `check` until it returns true or WAIT_MS pass.
async function eventually(check, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('files in GridFS', () => {
  let ferret;
  let mongo;
  const blobRoot = mkdtempSync(path.join(os.tmpdir(), 'heavylift-gridfs-e2e-'));
  before(async () => {
    ferret = await FerretServer.start();
    mongo = new MongoClient(ferret.url);
    await mongo.connect();
  });
  const running = useDaemon(() => ['--files-gridfs-uri', `${ferret.url}${DATABASE}`, '--blob-root', blobRoot], {
    deadlineMs: 300_000,
  });
  after(async () => {
    await mongo?.close();
    await ferret?.stop();
    await rm(blobRoot, { recursive: true, force: true });
  });

  const bucket = () => new GridFSBucket(mongo.db(DATABASE));
  const temporaryChunks = () => mongo.db(DATABASE).collection('fs.chunks').countDocuments({ files_id: /^tmp-/ });

  test('stores by SHA-256, reads back with GridFSBucket, deduplicates', async () => {
    // Not a multiple of the chunk size, so the last chunk is short.
    const data = randomBytes(3 * MiB + 12_345);
    const first = await running.client.files.upload(data, { gridfs: true, digests: ['sha256'], chunkBytes: 64 * 1024 });
    assert.equal(first.digests.sha256, sha256(data));
    assert.equal(first.gridfsId, sha256(data));
    assert.equal(first.gridfsDeduplicated, false);
    assert.equal(first.deduplicated, false);

    const back = await collect(bucket().openDownloadStream(first.gridfsId));
    assert.equal(back.length, data.length);
    assert.equal(sha256(back), sha256(data));
    const [file] = await bucket().find({ _id: first.gridfsId }).toArray();
    assert.equal(file.length, data.length);
    assert.equal(file.filename, first.gridfsId);
    assert.equal(file.metadata.sha256, sha256(data));
    assert.equal(file.metadata.contentType, 'application/octet-stream');
    const chunks = await mongo.db(DATABASE).collection('fs.chunks').countDocuments({ files_id: first.gridfsId });
    assert.equal(chunks, Math.ceil(data.length / CHUNK));

    const again = await running.client.files.upload(data, { gridfs: true });
    assert.equal(again.gridfsId, first.gridfsId);
    assert.equal(again.gridfsDeduplicated, true);
    assert.equal(again.deduplicated, true);
    assert.equal(await mongo.db(DATABASE).collection('fs.files').countDocuments({ _id: first.gridfsId }), 1);
    assert.equal(
      await mongo.db(DATABASE).collection('fs.chunks').countDocuments({ files_id: first.gridfsId }),
      Math.ceil(data.length / CHUNK),
    );
    assert.equal(await temporaryChunks(), 0);
    const indexes = await mongo.db(DATABASE).collection('fs.chunks').indexes();
    assert.ok(
      indexes.some((index) => index.unique && index.key.files_id === 1 && index.key.n === 1),
      `no unique {files_id, n} index: ${JSON.stringify(indexes)}`,
    );

    // The Download stream reads the same file by its id.
    const streamed = await collect(running.client.files.download({ gridfsId: first.gridfsId }));
    assert.equal(sha256(streamed), sha256(data));
  });

  test('compressed upload to GridFS and the blob root; Download decompresses', async () => {
    const text = Buffer.from('id,value\n' + Array.from({ length: 200_000 }, (_, i) => `${i},${i * 7}\n`).join(''));
    const result = await running.client.files.upload(text, { gridfs: true, store: true, compression: 'zstd' });
    assert.equal(result.gridfsId, `${sha256(text)}.zst`);
    assert.equal(result.contentType, 'text/csv');
    const stored = await collect(bucket().openDownloadStream(result.gridfsId));
    assert.equal(stored.length, result.compressedBytes);
    const [file] = await bucket().find({ _id: result.gridfsId }).toArray();
    assert.equal(file.metadata.compression, 'zstd');
    assert.equal(file.metadata.uncompressedLength, text.length);

    let info;
    const decoded = running.client.files.download({ gridfsId: result.gridfsId }, { decompress: true });
    decoded.on('info', (value) => {
      info = value;
    });
    const bytes = await collect(decoded);
    assert.ok(bytes.equals(text));
    assert.deepEqual(info, { storedBytes: result.compressedBytes, format: 'zstd' });
  });

  test('concurrent identical uploads store one file', async () => {
    const data = randomBytes(2 * MiB);
    const settled = await Promise.allSettled(
      [0, 1, 2].map(() => running.client.files.upload(data, { gridfs: true, digests: ['sha256'], chunkBytes: 128 * 1024 })),
    );
    for (const outcome of settled) {
      if (outcome.status === 'rejected') {
        // The loser of a race may get UNAVAILABLE, a retry hint, while the winner commits.
        assert.ok(outcome.reason instanceof UnavailableError, `${outcome.reason?.name}: ${outcome.reason?.message}`);
      } else {
        assert.equal(outcome.value.gridfsId, sha256(data));
      }
    }
    const stored = settled.filter((outcome) => outcome.status === 'fulfilled' && !outcome.value.gridfsDeduplicated);
    assert.equal(stored.length, 1);
    assert.equal(await mongo.db(DATABASE).collection('fs.files').countDocuments({ _id: sha256(data) }), 1);
    assert.equal(
      await mongo.db(DATABASE).collection('fs.chunks').countDocuments({ files_id: sha256(data) }),
      Math.ceil(data.length / CHUNK),
    );
    assert.equal(await temporaryChunks(), 0);
    assert.equal(sha256(await collect(bucket().openDownloadStream(sha256(data)))), sha256(data));
  });

  test('a failed upload and a cancelled upload leave no chunks', async () => {
    const data = randomBytes(2 * MiB);
    const failed = await rejectionOf(running.client.files.upload(data, { gridfs: true, expectedBytes: MiB }));
    assert.ok(failed instanceof InvalidArgumentError, `${failed?.name}: ${failed?.message}`);
    assert.equal(failed.protoField, 'options.expected_bytes');
    await eventually(async () => (await temporaryChunks()) === 0, 'the failed upload to delete its chunks');
    assert.equal(await mongo.db(DATABASE).collection('fs.files').countDocuments({ _id: sha256(data) }), 0);

    const controller = new AbortController();
    let sent = 0;
    async function* slow() {
      for (;;) {
        const chunk = randomBytes(256 * 1024);
        sent += chunk.length;
        yield chunk;
        if (sent >= 2 * MiB) {
          // Wait until chunks reached the bucket, then abort mid-stream.
          await eventually(async () => (await temporaryChunks()) > 0, 'the first chunks to be stored');
          controller.abort();
          return;
        }
      }
    }
    const cancelled = await rejectionOf(running.client.files.upload(slow(), { gridfs: true, signal: controller.signal }));
    assert.ok(cancelled instanceof CancelledError, `${cancelled?.name}: ${cancelled?.message}`);
    await eventually(async () => (await temporaryChunks()) === 0, 'the cancelled upload to delete its chunks');
    assert.equal(await mongo.db(DATABASE).collection('fs.files').countDocuments({ _id: /^tmp-/ }), 0);
  });

  test('an unknown id is INVALID_ARGUMENT naming gridfs_id', async () => {
    const error = await rejectionOf(collect(running.client.files.download({ gridfsId: 'f'.repeat(64) })));
    assert.ok(error instanceof InvalidArgumentError, `${error?.name}: ${error?.message}`);
    assert.equal(error.protoField, 'gridfs_id');
    assert.equal(error.reason, 'NOT_FOUND');
  });
});

describe('files in GridFS without the setting', () => {
  const running = useDaemon([]);

  test('upload and download name files.gridfs_uri', async () => {
    const upload = await rejectionOf(running.client.files.upload(Buffer.from('x'), { gridfs: true }));
    assert.ok(upload instanceof FailedPreconditionError, `${upload?.name}: ${upload?.message}`);
    assert.equal(upload.protoField, 'files.gridfs_uri');
    const download = await rejectionOf(collect(running.client.files.download({ gridfsId: 'abc' })));
    assert.ok(download instanceof FailedPreconditionError, `${download?.name}: ${download?.message}`);
    assert.equal(download.protoField, 'files.gridfs_uri');
  });
});

describe('stale GridFS chunks', () => {
  const STALE_DATABASE = 'heavylift_stale';
  const TWO_DAYS_S = 2 * 86_400;
  // Chunks that a daemon left when killed between moving them to the key and inserting the files document.
  const killedBeforeCommit = randomBytes(600 * 1024);
  // Chunks of an identical upload that is committing right now.
  const committing = randomBytes(300 * 1024);
  let ferret;
  let mongo;
  const chunks = () => mongo.db(STALE_DATABASE).collection('fs.chunks');
  const chunk = (ageS, filesId, n, uploadId) => ({
    _id: ageS === 0 ? new ObjectId() : objectIdAged(ageS),
    files_id: filesId,
    n,
    data: new Binary(randomBytes(1024)),
    upload_id: uploadId,
  });

  before(async () => {
    ferret = await FerretServer.start();
    mongo = new MongoClient(ferret.url);
    await mongo.connect();
    await chunks().insertMany([
      chunk(TWO_DAYS_S, 'tmp-killed-mid-upload', 0, 'tmp-killed-mid-upload'),
      chunk(0, 'tmp-still-running', 0, 'tmp-still-running'),
      ...[0, 1, 2].map((n) => chunk(TWO_DAYS_S, sha256(killedBeforeCommit), n, 'tmp-killed-before-commit')),
      chunk(0, sha256(committing), 0, 'tmp-committing'),
    ]);
  });
  const running = useDaemon(() => ['--files-gridfs-uri', `${ferret.url}${STALE_DATABASE}`], { deadlineMs: 120_000 });
  after(async () => {
    await mongo?.close();
    await ferret?.stop();
  });

  test('first upload deletes old temporary chunks only', async () => {
    const result = await running.client.files.upload(Buffer.from('sweep'), { gridfs: true });
    assert.equal(result.gridfsDeduplicated, false);
    assert.equal(await chunks().countDocuments({ files_id: 'tmp-killed-mid-upload' }), 0);
    assert.equal(await chunks().countDocuments({ files_id: 'tmp-still-running' }), 1);
  });

  test('old chunks under a key give way to an upload', async () => {
    const key = sha256(killedBeforeCommit);
    const result = await running.client.files.upload(killedBeforeCommit, { gridfs: true, chunkBytes: 64 * 1024 });
    assert.equal(result.gridfsId, key);
    assert.equal(result.gridfsDeduplicated, false);
    assert.equal(await chunks().countDocuments({ upload_id: 'tmp-killed-before-commit' }), 0);
    assert.equal(await chunks().countDocuments({ files_id: key }), Math.ceil(killedBeforeCommit.length / CHUNK));
    const back = await collect(new GridFSBucket(mongo.db(STALE_DATABASE)).openDownloadStream(key));
    assert.equal(sha256(back), key);
  });

  test('recent chunks under a key are kept', async () => {
    const key = sha256(committing);
    const error = await rejectionOf(running.client.files.upload(committing, { gridfs: true }));
    assert.ok(error instanceof UnavailableError, `${error?.name}: ${error?.message}`);
    assert.equal(await chunks().countDocuments({ files_id: key, upload_id: 'tmp-committing' }), 1);
    // The rejected upload deleted its own chunks.
    assert.equal(await chunks().countDocuments({ files_id: key }), 1);
    assert.equal(await chunks().countDocuments({ files_id: /^tmp-/ }), 1);
  });

  test('chunks of a killed daemon are deleted by the next', async () => {
    const database = 'heavylift_killed';
    const args = ['--files-gridfs-uri', `${ferret.url}${database}`, '--files-gridfs-stale-upload-s', '1'];
    const temporary = () => mongo.db(database).collection('fs.chunks').countDocuments({ files_id: /^tmp-/ });
    const first = await startTestDaemon(args);
    const firstClient = createClient({ address: first.grpcAddress, deadlineMs: 120_000 });
    try {
      async function* endless() {
        for (;;) yield randomBytes(256 * 1024);
      }
      const upload = rejectionOf(firstClient.files.upload(endless(), { gridfs: true }));
      await eventually(async () => (await temporary()) > 0, 'the first chunks to be stored');
      const exit = await first.stop('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      await upload;
    } finally {
      firstClient.close();
    }
    const left = await temporary();
    assert.ok(left > 0, 'the killed daemon left no chunks');

    // Waits until the left chunks are older than the next daemon's stale age of one second.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const second = await startTestDaemon(args);
    const secondClient = createClient({ address: second.grpcAddress, deadlineMs: 120_000 });
    try {
      const result = await secondClient.files.upload(Buffer.from('after the kill'), { gridfs: true });
      assert.equal(result.gridfsDeduplicated, false);
      assert.equal(await temporary(), 0);
    } finally {
      secondClient.close();
      const exit = await second.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${second.logs()}`);
    }
    // libmongoc's own warnings (FerretDB lacks endSessions, which the driver sends on close) come
    // through the daemon's log format too.
    const lines = second.logs().split('\n').filter((line) => line !== '');
    assert.deepEqual(lines.filter((line) => !line.startsWith('ts=')), []);
  });
});
