// FileService.Download through the real daemon. A large stored file streams
// with the daemon's RSS flat and the bytes equal. A client that stops reading
// does not make the daemon buffer the file, and a cancelled stream frees the
// call. Decompression on the way stops at its bound, and an Express route
// pipes the stream into its response.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import express from 'express';
import { InvalidArgumentError } from 'heavylift';

import { readMetrics, rejectionOf, sumSamples, useDaemon } from '../lib/helpers.mjs';

const MiB = 1 << 20;
const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';
// 1 GiB on the release daemon; HEAVYLIFT_E2E_DOWNLOAD_BYTES overrides.
const DOWNLOAD_BYTES = Number(process.env.HEAVYLIFT_E2E_DOWNLOAD_BYTES ?? (SANITIZED ? 64 * MiB : 1024 * MiB));
const WAIT_MS = SANITIZED ? 60_000 : 20_000;
if (SANITIZED) {
  // See upload.test.mjs: a small quarantine keeps RSS about the daemon's own buffering.
  process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=8'].filter(Boolean).join(':');
}

function residentBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match[1]) * 1024;
}

// Writes `total` bytes (a random block with a per-MiB counter) to `file` and
// returns their SHA-256.
async function writeLargeFile(file, total) {
  const hash = createHash('sha256');
  const block = randomBytes(MiB);
  async function* chunks() {
    for (let offset = 0, index = 0; offset < total; offset += MiB, index += 1) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, total - offset)));
      chunk.writeUInt32LE(index, 0);
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(chunks(), createWriteStream(file));
  return hash.digest('hex');
}

async function metricValue(httpAddress, name, labels = {}) {
  return sumSamples(await readMetrics(httpAddress), name, labels);
}

describe('files download', () => {
  const blobRoot = mkdtempSync(path.join(os.tmpdir(), 'heavylift-download-e2e-'));
  const running = useDaemon(() => ['--blob-root', blobRoot], { deadlineMs: 600_000 });
  let largeSha256;
  after(async () => {
    await rm(blobRoot, { recursive: true, force: true });
  });

  test(`download of ${DOWNLOAD_BYTES / MiB} MiB keeps RSS flat, bytes equal`, async () => {
    largeSha256 = await writeLargeFile(path.join(blobRoot, 'large.bin'), DOWNLOAD_BYTES);
    const pid = running.daemon.process.pid;
    // One RSS sample per chunk: a timer shares the event loop with the reads and
    // fires only a few times when the download is fast.
    const samples = [];
    let received = 0;
    const hash = createHash('sha256');
    let info;
    const stream = running.client.files.download({ path: 'large.bin' }, { chunkBytes: MiB });
    stream.on('info', (value) => {
      info = value;
    });
    const started = performance.now();
    for await (const chunk of stream) {
      hash.update(chunk);
      received += chunk.length;
      samples.push({ received, rss: residentBytes(pid) });
    }
    const seconds = (performance.now() - started) / 1000;
    assert.equal(received, DOWNLOAD_BYTES);
    assert.equal(hash.digest('hex'), largeSha256);
    assert.deepEqual(info, { storedBytes: DOWNLOAD_BYTES });

    const warm = samples.filter((sample) => sample.received >= DOWNLOAD_BYTES / 10);
    assert.ok(warm.length >= 5, `only ${warm.length} RSS samples after warm-up`);
    const baseline = warm[0].rss;
    const peak = Math.max(...warm.map((sample) => sample.rss));
    console.log(
      `# download ${DOWNLOAD_BYTES / MiB} MiB in ${seconds.toFixed(1)} s (${(DOWNLOAD_BYTES / MiB / seconds).toFixed(0)} MiB/s); ` +
        `RSS ${(baseline / MiB).toFixed(0)} MiB after warm-up, peak ${(peak / MiB).toFixed(0)} MiB, ${samples.length} samples`,
    );
    assert.ok(peak - baseline < 48 * MiB, `RSS grew from ${baseline / MiB} MiB to ${peak / MiB} MiB`);
  });

  test('stalled download stays bounded, cancel frees call', async () => {
    const pid = running.daemon.process.pid;
    const httpAddress = running.daemon.httpAddress;
    const stream = running.client.files.download({ path: 'large.bin' }, { chunkBytes: 256 * 1024 });
    // Read a little, then stop reading.
    let received = 0;
    await new Promise((resolve) => {
      const onData = (chunk) => {
        received += chunk.length;
        if (received >= 4 * MiB) {
          stream.off('data', onData);
          stream.pause();
          resolve();
        }
      };
      stream.on('data', onData);
    });
    const before = residentBytes(pid);
    // Time for a daemon without flow control to read far ahead.
    await new Promise((resolve) => setTimeout(resolve, SANITIZED ? 4000 : 2000));
    const stalled = residentBytes(pid);
    console.log(`# stalled download: daemon RSS ${(before / MiB).toFixed(0)} -> ${(stalled / MiB).toFixed(0)} MiB`);
    assert.ok(stalled - before < 32 * MiB, `RSS grew from ${before / MiB} MiB to ${stalled / MiB} MiB while stalled`);
    assert.equal(await metricValue(httpAddress, 'heavylift_stream_calls_in_flight'), 1);

    // Destroying the Readable cancels the call, and the daemon frees it.
    const cancelledBefore = await metricValue(
      httpAddress,
      'heavylift_stream_calls_total',
      { code: 'CANCELLED', method: 'files.download' },
    );
    stream.destroy();
    const deadline = Date.now() + WAIT_MS;
    while ((await metricValue(httpAddress, 'heavylift_stream_calls_in_flight')) !== 0) {
      assert.ok(Date.now() < deadline, 'the cancelled download is still in flight');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cancelledAfter = await metricValue(
      httpAddress,
      'heavylift_stream_calls_total',
      { code: 'CANCELLED', method: 'files.download' },
    );
    assert.equal(cancelledAfter, cancelledBefore + 1);
  });

  test('an Express route pipes a download into its response', async () => {
    const app = express();
    app.get('/files/:name', async (req, res) => {
      const stream = running.client.files.download({ path: req.params.name });
      stream.once('info', (info) => res.setHeader('content-length', String(info.storedBytes)));
      try {
        await pipeline(stream, res);
      } catch {
        // The client went away or the daemon failed; pipeline destroyed both ends.
      }
    });
    const server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const response = await fetch(`http://127.0.0.1:${server.address().port}/files/large.bin`);
      assert.equal(response.status, 200);
      assert.equal(Number(response.headers.get('content-length')), DOWNLOAD_BYTES);
      const hash = createHash('sha256');
      for await (const chunk of response.body) hash.update(chunk);
      assert.equal(hash.digest('hex'), largeSha256);
    } finally {
      server.close();
    }
  });

  test('decompresses gzip and stops a bomb at its bound', async () => {
    const text = Buffer.from(Array.from({ length: 100_000 }, (_, i) => `line ${i}\n`).join(''));
    await writeFile(path.join(blobRoot, 'text.gz'), gzipSync(text));
    const chunks = [];
    for await (const chunk of running.client.files.download({ path: 'text.gz' }, { decompress: true })) chunks.push(chunk);
    assert.ok(Buffer.concat(chunks).equals(text));

    // 256 MiB of zeros compress to about 256 KiB.
    await writeFile(path.join(blobRoot, 'bomb.gz'), gzipSync(Buffer.alloc(256 * MiB), { level: 9 }));
    let received = 0;
    const error = await rejectionOf(
      (async () => {
        for await (const chunk of running.client.files.download(
          { path: 'bomb.gz' },
          { decompress: 'gzip', maxOutputBytes: 16 * MiB },
        )) {
          received += chunk.length;
        }
      })(),
    );
    assert.ok(error instanceof InvalidArgumentError, `${error?.name}: ${error?.message}`);
    assert.equal(error.reason, 'DECOMPRESSED_TOO_LARGE');
    assert.equal(error.protoField, 'max_output_bytes');
    assert.equal(error.bound, `<= ${16 * MiB} bytes`);
    assert.ok(received <= 16 * MiB, `${received} bytes arrived past the bound`);
  });

  test('bad requests name the field', async () => {
    const missing = await rejectionOf(running.client.files.download({ path: 'no-such-file' }).toArray());
    assert.ok(missing instanceof InvalidArgumentError, `${missing?.name}: ${missing?.message}`);
    assert.equal(missing.protoField, 'path');
    assert.equal(missing.reason, 'NOT_FOUND');

    const outside = await rejectionOf(running.client.files.download({ path: '../etc/passwd' }).toArray());
    assert.equal(outside.protoField, 'path');
    assert.equal(outside.reason, 'PATH_OUTSIDE_ROOT');

    const plain = await rejectionOf(running.client.files.download({ path: 'large.bin' }, { decompress: true }).toArray());
    assert.ok(plain instanceof InvalidArgumentError, `${plain?.name}: ${plain?.message}`);
    assert.equal(plain.reason, 'UNSUPPORTED_FORMAT');

    assert.throws(() => running.client.files.download({ path: 'a', gridfsId: 'b' }), InvalidArgumentError);
    assert.throws(() => running.client.files.download({ path: 'a' }, { chunkBytes: 10 }), InvalidArgumentError);
  });
});
