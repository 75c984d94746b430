// FileService through the real daemon. A large streamed upload keeps the
// daemon's memory flat, and its digests equal sha256sum, b2sum and xxhsum.
// An Express route pipes a busboy file stream into the upload. The tests also
// cover the byte limit and CSV profiling while uploading.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import busboy from 'busboy';
import express from 'express';
import { createClient, FailedPreconditionError, InvalidArgumentError } from 'heavylift';

import { rejectionOf, startTestDaemon, useDaemon, waitFor } from '../lib/helpers.mjs';

const MiB = 1 << 20;
const SANITIZED = process.env.HEAVYLIFT_E2E_SANITIZED === '1';
// 2 GiB on the release daemon; HEAVYLIFT_E2E_UPLOAD_BYTES overrides.
const UPLOAD_BYTES = Number(process.env.HEAVYLIFT_E2E_UPLOAD_BYTES ?? (SANITIZED ? 64 * MiB : 2048 * MiB));
if (SANITIZED) {
  // AddressSanitizer keeps freed memory in a quarantine of 256 MiB by default,
  // which would read as RSS growth; a small quarantine keeps the check about
  // the daemon's own buffering. The daemon inherits this environment.
  process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=8'].filter(Boolean).join(':');
}

// Returns VmRSS of process `pid` in bytes.
function residentBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match[1]) * 1024;
}

// Runs `command args` with the upload's bytes on stdin and returns its first
// hex word, so each tool reads the very bytes the daemon receives.
function digestTool(command, args) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (data) => {
    output += data;
  });
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}`))));
  });
  return {
    stdin: child.stdin,
    digest: async () => {
      const text = await done;
      // sha256sum and b2sum print "<hex>  -", `xxhsum -H2` "<hex>  stdin" and
      // `xxhsum -H3` "XXH3 (stdin) = <hex>".
      const match = /^([0-9a-f]{32,128})\s+(?:-|stdin)\s*$/.exec(text) ?? /=\s*([0-9a-f]{16})\s*$/.exec(text);
      assert.ok(match, `unexpected ${command} output: ${text}`);
      return match[1];
    },
  };
}

// Yields `total` bytes in 1 MiB chunks made of a random block with a
// per-chunk counter, writing each chunk to every tool's stdin as well.
async function* generate(total, tools) {
  const block = randomBytes(MiB);
  for (let offset = 0, index = 0; offset < total; offset += MiB, index += 1) {
    const chunk = Buffer.from(block.subarray(0, Math.min(MiB, total - offset)));
    chunk.writeUInt32LE(index, 0);
    for (const tool of tools) {
      if (!tool.stdin.write(chunk)) {
        await new Promise((resolve) => tool.stdin.once('drain', resolve));
      }
    }
    yield chunk;
  }
  for (const tool of tools) tool.stdin.end();
}

describe('files upload', () => {
  const blobRoot = mkdtempSync(path.join(os.tmpdir(), 'heavylift-files-e2e-'));
  const running = useDaemon(() => ['--blob-root', blobRoot], { deadlineMs: 600_000 });
  after(async () => {
    await rm(blobRoot, { recursive: true, force: true });
  });

  test(`upload of ${UPLOAD_BYTES / MiB} MiB keeps RSS flat, digests match tools`, async () => {
    const pid = running.daemon.process.pid;
    const tools = {
      sha256: digestTool('sha256sum', []),
      blake2b512: digestTool('b2sum', []),
      xxh3: digestTool('xxhsum', ['-H3', '-']),
      xxh128: digestTool('xxhsum', ['-H2', '-']),
    };
    // One RSS sample per chunk: a timer shares the event loop with the sends and
    // fires only a few times when the upload is fast.
    const samples = [];
    let sent = 0;
    const counted = (async function* () {
      for await (const chunk of generate(UPLOAD_BYTES, Object.values(tools))) {
        sent += chunk.length;
        samples.push({ sent, rss: residentBytes(pid) });
        yield chunk;
      }
    })();

    const started = performance.now();
    const result = await running.client.files.upload(counted, {
      digests: ['sha256', 'blake2b512', 'xxh3', 'xxh128'],
      expectedBytes: UPLOAD_BYTES,
    });
    const seconds = (performance.now() - started) / 1000;

    assert.equal(result.bytes, UPLOAD_BYTES);
    assert.equal(result.contentType, 'application/octet-stream');
    for (const [name, tool] of Object.entries(tools)) {
      assert.equal(result.digests[name], await tool.digest(), `${name} differs from the command-line tool`);
    }

    // Flat: after the first 10% of the bytes, RSS grows by less than 48 MiB
    // however many bytes follow.
    const warm = samples.filter((sample) => sample.sent >= UPLOAD_BYTES / 10);
    assert.ok(warm.length >= 5, `only ${warm.length} RSS samples after warm-up`);
    const baseline = warm[0].rss;
    const peak = Math.max(...warm.map((sample) => sample.rss));
    console.log(
      `# upload ${UPLOAD_BYTES / MiB} MiB in ${seconds.toFixed(1)} s (${(UPLOAD_BYTES / MiB / seconds).toFixed(0)} MiB/s); ` +
        `RSS ${(baseline / MiB).toFixed(0)} MiB after warm-up, peak ${(peak / MiB).toFixed(0)} MiB, ${samples.length} samples`,
    );
    assert.ok(peak - baseline < 48 * MiB, `RSS grew from ${baseline / MiB} MiB to ${peak / MiB} MiB`);
  });

  test('busboy stream from Express route uploads and stores', async () => {
    const client = running.client;
    const app = express();
    app.post('/upload', (req, res) => {
      const bb = busboy({ headers: req.headers });
      const uploads = [];
      bb.on('file', (name, file, info) => {
        uploads.push(client.files.uploadMultipartFile(file, info, { store: true, compression: 'zstd' }));
      });
      bb.on('close', async () => {
        try {
          res.json(await Promise.all(uploads));
        } catch (error) {
          res.status(400).json({ message: error.message, field: error.field });
        }
      });
      req.pipe(bb);
    });
    const server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    try {
      const data = Buffer.concat([Buffer.from('id,name\n'), randomBytes(12 * MiB).toString('hex').match(/.{1,40}/g).map((s, i) => `${i},${s}\n`).join('')].map((part) => Buffer.from(part)));
      const form = new FormData();
      form.append('report', new Blob([data], { type: 'text/csv' }), 'report.csv');
      const response = await fetch(`http://127.0.0.1:${server.address().port}/upload`, { method: 'POST', body: form });
      assert.equal(response.status, 200, await response.clone().text());
      const [result] = await response.json();
      assert.equal(result.filename, 'report.csv');
      assert.equal(result.bytes, data.length);
      assert.equal(result.contentType, 'text/csv');
      assert.equal(result.digests.sha256, createHash('sha256').update(data).digest('hex'));
      assert.match(result.storedPath, /^files\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}\.zst$/);
      const stored = await stat(path.join(blobRoot, result.storedPath));
      assert.equal(stored.size, result.compressedBytes);

      // The stored copy decompresses to the uploaded bytes.
      const back = await client.files.decompress({ path: result.storedPath }, { maxOutputBytes: data.length });
      assert.equal(back.format, 'zstd');
      assert.ok(back.data.equals(data));
    } finally {
      server.close();
    }
  });

  test('profiles CSV while uploading and by path', async () => {
    const csv = '\uFEFFid;amount;city\r\n1;2.50;"Oslo"\r\n2;;"Lima;Peru"\r\n3;4\r\n4;-1;"Multi\r\nline"\r\n';
    const uploaded = await running.client.files.upload(Buffer.from(csv), { profileCsv: true, store: true, chunkBytes: 1024 });
    const profile = uploaded.profile;
    assert.equal(profile.delimiter, ';');
    assert.equal(profile.rows, 4);
    assert.deepEqual(profile.columns.map((column) => column.name), ['id', 'amount', 'city']);
    assert.equal(profile.columns[1].type, 'number');
    assert.equal(profile.columns[1].min, '-1');
    assert.equal(profile.columns[1].max, '4');
    assert.equal(profile.columns[1].nullCount, 1);
    assert.equal(profile.badRowCount, 1);
    assert.deepEqual(profile.badRows[0], { line: 4, reason: 'expected 3 fields, got 2', excerpt: '3;4' });

    const byPath = await running.client.files.profileCsv({ path: uploaded.storedPath });
    assert.deepEqual(byPath, profile);

    const converted = await running.client.files.csvToNdjson({ path: uploaded.storedPath });
    const lines = converted.data.toString().trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines[1], { id: 2, amount: null, city: 'Lima;Peru' });
    assert.deepEqual(lines[3], { id: 4, amount: -1, city: 'Multi\r\nline' });
  });
});

describe('files upload limit', () => {
  const running = useDaemon(['--files-max-upload-bytes', String(4 * MiB)]);

  test('an upload over files.max_upload_bytes fails naming the setting and the bound', async () => {
    async function* tooMuch() {
      for (let i = 0; i < 8; i += 1) yield Buffer.alloc(MiB, i);
    }
    const error = await rejectionOf(running.client.files.upload(tooMuch()));
    assert.ok(error instanceof InvalidArgumentError, `${error?.name}: ${error?.message}`);
    assert.equal(error.protoField, 'files.max_upload_bytes');
    assert.equal(error.field, 'files.max_upload_bytes');
    assert.equal(error.bound, `<= ${4 * MiB} bytes`);
    assert.equal(error.reason, 'TOO_LARGE');
    // The daemon still serves.
    const small = await running.client.files.upload(Buffer.from('fine'), { digests: ['sha256'] });
    assert.equal(small.digests.sha256, createHash('sha256').update('fine').digest('hex'));
  });
});

describe('files without a blob root', () => {
  const running = useDaemon([]);

  test('paths fail as a precondition naming the field', async () => {
    const cases = {
      'upload with store': [() => running.client.files.upload(Buffer.from('a,b\n1,2\n'), { store: true }), 'options.store'],
      'digest of a path': [() => running.client.files.digest({ path: 'a.csv' }), 'input.path'],
      'compress to a path': [() => running.client.files.compress(Buffer.from('text'), { format: 'gzip', outputPath: 'a.gz' }), 'output_path'],
      'thumbnail of a path': [() => running.client.image.thumbnail({ input: { path: 'a.jpg' }, widths: [64] }), 'input.path'],
    };
    for (const [name, [call, field]] of Object.entries(cases)) {
      const error = await rejectionOf(call());
      assert.ok(error instanceof FailedPreconditionError, `${name}: ${error?.name}: ${error?.message}`);
      assert.equal(error.protoField, field, name);
      assert.equal(error.reason, 'PATHS_DISABLED', name);
      assert.match(error.message, /--blob-root/, name);
    }
  });
});

describe('files under a killed daemon', () => {
  const blobRoot = mkdtempSync(path.join(os.tmpdir(), 'heavylift-killed-e2e-'));
  after(async () => {
    await rm(blobRoot, { recursive: true, force: true });
  });

  // Starts a daemon on blobRoot, runs `start(client)` until `ready()` returns true, kills the
  // daemon with SIGKILL and returns the rejection of the call.
  async function killDuring(start, ready) {
    const daemon = await startTestDaemon(['--blob-root', blobRoot]);
    const client = createClient({ address: daemon.grpcAddress, deadlineMs: 120_000 });
    try {
      const call = rejectionOf(start(client));
      await waitFor(ready, 60_000, 'the call to get going', 50);
      const exit = await daemon.stop('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      return await call;
    } finally {
      client.close();
    }
  }

  test('a killed upload leaves no file', async () => {
    let sent = 0;
    async function* endless() {
      for (;;) {
        sent += MiB;
        yield randomBytes(MiB);
      }
    }
    const error = await killDuring(
      (client) => client.files.upload(endless(), { store: true }),
      async () => sent >= 16 * MiB,
    );
    assert.ok(error instanceof Error);
    assert.deepEqual(await readdir(path.join(blobRoot, 'files', 'tmp')), []);
    assert.deepEqual(await readdir(blobRoot), ['files']);
  });

  test('a killed task leaves no output file', async () => {
    await writeFile(path.join(blobRoot, 'input.bin'), randomBytes((SANITIZED ? 8 : 64) * MiB));
    const started = Date.now();
    const error = await killDuring(
      (client) => client.files.compress({ path: 'input.bin' }, { format: 'brotli', level: 11, outputPath: 'output.br' }),
      async () => Date.now() - started >= 1_500,
    );
    assert.ok(error instanceof Error);
    assert.deepEqual((await readdir(blobRoot)).sort(), ['files', 'input.bin']);
  });
});
