// Uploads stored in MongoDB GridFS on a real FerretDB, read back with the
// `mongodb` driver's GridFSBucket and with the Download stream: bytes and
// SHA-256 equal, identical uploads deduplicated, failed and cancelled
// uploads leave no chunks, and the missing setting is named.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CancelledError, FailedPreconditionError, InvalidArgumentError, UnavailableError } from 'heavylift';
import { GridFSBucket, MongoClient } from 'mongodb';

import { FerretServer } from '../lib/ferretdb.mjs';
import { rejectionOf, useDaemon } from '../lib/helpers.mjs';

const MiB = 1 << 20;
const CHUNK = 255 * 1024;
const DATABASE = 'heavylift_files';
const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';
const WAIT_MS = SANITIZED ? 60_000 : 20_000;

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

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
