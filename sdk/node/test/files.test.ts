// client.files against a real daemon: validation before sending, upload from
// each kind of source with backpressure, abort, and the unary file tasks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { CancelledError, createClient, InvalidArgumentError, type HeavyliftClient } from 'heavylift';

import { useDaemon } from './support';

const blobRoot = mkdtempSync(join(tmpdir(), 'heavylift-files-sdk-'));

describe('client.files with a daemon', () => {
  const fixture = useDaemon(['--blob-root', blobRoot]);
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });
  after(async () => {
    client?.close();
    await rm(blobRoot, { recursive: true, force: true });
  });

  test('rejects invalid options before sending', async () => {
    const cases: [unknown, string][] = [
      [{ digests: ['md5'] }, 'digests[0]'],
      [{ digests: [] }, 'digests'],
      [{ compression: 'lz4' }, 'compression'],
      [{ compression: 'gzip', compressionLevel: 10 }, 'compressionLevel'],
      [{ compressionLevel: 3 }, 'compressionLevel'],
      [{ chunkBytes: 10 }, 'chunkBytes'],
      [{ profileCsv: { delimiter: '::' } }, 'profileCsv.delimiter'],
    ];
    for (const [options, field] of cases) {
      await assert.rejects(
        client.files.upload(Buffer.from('x'), options as never),
        (error: unknown) => error instanceof InvalidArgumentError && error.field === field,
        `expected an InvalidArgumentError for ${field}`,
      );
    }
    await assert.rejects(client.files.upload('not a stream' as never), InvalidArgumentError);
  });

  test('uploads a Buffer, a Readable and an async generator with the same digests', async () => {
    const data = Buffer.alloc(5 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 7) & 0xff;
    const sha256 = createHash('sha256').update(data).digest('hex');
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < data.length; offset += 300_000) yield data.subarray(offset, offset + 300_000);
    }
    for (const source of [data, Readable.from(pieces()), pieces()]) {
      const result = await client.files.upload(source, { digests: ['sha256', 'xxh3'], chunkBytes: 65536 });
      assert.equal(result.bytes, data.length);
      assert.equal(result.digests.sha256, sha256);
      assert.match(result.digests.xxh3 ?? '', /^[0-9a-f]{16}$/);
      assert.equal(result.digests.sha512, undefined);
    }
  });

  test('an aborted upload rejects with an AbortError and the source stops being read', async () => {
    const controller = new AbortController();
    let produced = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        produced += 1;
        yield Buffer.alloc(1 << 20);
      }
    }
    setTimeout(() => controller.abort(new Error('user left')), 200);
    await assert.rejects(client.files.upload(endless(), { signal: controller.signal }), (error: unknown) => {
      return error instanceof CancelledError && error.name === 'AbortError';
    });
    const atAbort = produced;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(produced <= atAbort + 1, `the source kept producing: ${atAbort} then ${produced}`);
  });

  test('compresses, decompresses and profiles through the unary tasks', async () => {
    const text = Buffer.from(`a,b\n${'1,x\n2,y\n'.repeat(1000)}`);
    const compressed = await client.files.compress(text, { format: 'brotli', level: 9 });
    assert.ok(compressed.data && compressed.data.length < text.length / 10);
    const back = await client.files.decompress(compressed.data!, { format: 'brotli' });
    assert.ok(back.data?.equals(text));

    const bomb = gzipSync(Buffer.alloc(4 << 20));
    await assert.rejects(client.files.decompress(bomb, { maxOutputBytes: 1 << 20 }), (error: unknown) => {
      return error instanceof InvalidArgumentError && error.reason === 'DECOMPRESSED_TOO_LARGE' && error.bound === '<= 1048576 bytes';
    });

    const profile = await client.files.profileCsv(text);
    assert.equal(profile.rows, 2000);
    assert.deepEqual(
      profile.columns.map((column) => [column.name, column.type, column.distinctEstimate]),
      [
        ['a', 'integer', 2],
        ['b', 'string', 2],
      ],
    );
    const ndjson = await client.files.profileNdjson(Buffer.from('{"k":1}\n{"k":"s"}\n'));
    assert.equal(ndjson.columns[0]?.type, 'mixed');
  });

  test('download rejects bad sources and options before sending', async () => {
    const cases: [unknown, unknown, string][] = [
      [{}, undefined, 'source'],
      [{ path: 'a', gridfsId: 'b' }, undefined, 'source'],
      [{ path: '' }, undefined, 'source.path'],
      [{ path: 'a' }, { decompress: 'lz4' }, 'decompress'],
      [{ path: 'a' }, { decompress: 1 }, 'decompress'],
      [{ path: 'a' }, { chunkBytes: 100 }, 'chunkBytes'],
      [{ path: 'a' }, { maxOutputBytes: 0 }, 'maxOutputBytes'],
    ];
    for (const [source, options, field] of cases) {
      assert.throws(
        () => client.files.download(source as never, options as never),
        (error: unknown) => error instanceof InvalidArgumentError && error.field === field,
        `expected an InvalidArgumentError for ${field}`,
      );
    }
    await assert.rejects(client.files.upload(Buffer.from('x'), { gridfs: 'yes' as never }), InvalidArgumentError);
  });

  test('stores an upload and downloads it back as a Readable, decompressed on the way', async () => {
    const text = Buffer.from(`id,n\n${'7,seven\n'.repeat(50_000)}`);
    const stored = await client.files.upload(text, { store: true, compression: 'gzip' });
    const parts: Buffer[] = [];
    const stream = client.files.download({ path: stored.storedPath! }, { decompress: true, chunkBytes: 4096 });
    let info: unknown;
    stream.on('info', (value) => {
      info = value;
    });
    for await (const part of stream) parts.push(part as Buffer);
    assert.ok(Buffer.concat(parts).equals(text));
    assert.ok(parts.every((part) => part.length <= 4096 + 128 * 1024));
    assert.deepEqual(info, { storedBytes: stored.compressedBytes, format: 'gzip' });

    const raw: Buffer[] = [];
    for await (const part of client.files.download({ path: stored.storedPath! })) raw.push(part as Buffer);
    assert.equal(Buffer.concat(raw).length, stored.compressedBytes);
  });

  test('an aborted download ends the Readable with an AbortError', async () => {
    const stored = await client.files.upload(Buffer.alloc(8 << 20, 1), { store: true });
    const controller = new AbortController();
    const stream = client.files.download({ path: stored.storedPath! }, { signal: controller.signal, chunkBytes: 65536 });
    await assert.rejects(
      (async () => {
        for await (const part of stream) {
          if ((part as Buffer).length > 0) controller.abort();
        }
      })(),
      (error: unknown) => error instanceof CancelledError && error.name === 'AbortError',
    );
  });
});
