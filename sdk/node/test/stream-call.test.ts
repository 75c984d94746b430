// How uploads are cut into gRPC messages and encoded, checked with the generated decoders:
// every message but the last carries exactly chunkBytes bytes, the bytes arrive unchanged and in
// order, and a message stays valid after its source moves on.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';

import { UPLOAD_CHUNK_DATA_FIELD } from '../dist/files';
import { UploadChunk } from '../dist/gen/heavylift/v1/files';
import { TransformUploadChunk } from '../dist/gen/heavylift/v1/image';
import { TRANSFORM_UPLOAD_CHUNK_DATA_FIELD } from '../dist/image-stream';
import { encodeByteMessages, encodeBytesField } from '../dist/stream-call';

function pattern(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) data[i] = (i * 31 + seed) & 0xff;
  return data;
}

/** Returns the data of each upload message made from `source`, decoded by the generated decoder. */
async function uploadData(source: AsyncIterable<Uint8Array | string> | Uint8Array, chunkBytes: number): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  for await (const message of encodeByteMessages(source, chunkBytes, UPLOAD_CHUNK_DATA_FIELD)) {
    const decoded = UploadChunk.decode(message);
    assert.equal(decoded.options, undefined);
    pieces.push(Buffer.from(decoded.data));
  }
  return pieces;
}

describe('encodeByteMessages', () => {
  test('small chunks gathered, large ones split', async () => {
    const sizes = [1, 700, 1023, 1024, 1025, 5000, 0, 3, 4096, 17];
    const chunks = sizes.map((size, index) => pattern(size, index));
    const pieces = await uploadData(Readable.from(chunks), 1024);
    const expected = Buffer.concat(chunks);
    assert.ok(Buffer.concat(pieces).equals(expected));
    assert.equal(pieces.length, Math.ceil(expected.length / 1024));
    for (const piece of pieces.slice(0, -1)) assert.equal(piece.length, 1024);
    assert.equal(pieces.at(-1)?.length, expected.length % 1024 || 1024);
  });

  test('64 KiB reads become 1 MiB messages', async () => {
    const chunks = Array.from({ length: 40 }, (_, index) => pattern(65536, index));
    const pieces = await uploadData(Readable.from(chunks), 1 << 20);
    assert.deepEqual(
      pieces.map((piece) => piece.length),
      [1 << 20, 1 << 20, 8 * 65536],
    );
    assert.ok(Buffer.concat(pieces).equals(Buffer.concat(chunks)));
  });

  test('reused source buffer leaves messages intact', async () => {
    const reused = Buffer.alloc(100);
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 30; i += 1) {
        reused.fill(i);
        yield reused;
      }
    }
    const joined = Buffer.concat(await uploadData(source(), 1000));
    assert.equal(joined.length, 3000);
    for (let i = 0; i < 30; i += 1) assert.ok(joined.subarray(i * 100, i * 100 + 100).every((byte) => byte === i), `chunk ${i}`);
  });

  test('a Buffer, strings and an empty source', async () => {
    assert.deepEqual(
      (await uploadData(pattern(2500, 9), 1000)).map((piece) => piece.length),
      [1000, 1000, 500],
    );
    assert.equal(Buffer.concat(await uploadData(Readable.from(['ab', 'c', 'déf']), 4)).toString(), 'abcdéf');
    assert.deepEqual(await uploadData(Readable.from([]), 1000), []);
  });

  test('short last message has shorter varint', async () => {
    const messages: Buffer[] = [];
    for await (const message of encodeByteMessages(pattern(200, 1), 150, UPLOAD_CHUNK_DATA_FIELD)) messages.push(message);
    assert.deepEqual(
      messages.map((message) => message.length),
      [1 + 2 + 150, 1 + 1 + 50],
    );
  });
});

describe('encodeBytesField', () => {
  test('matches generated encoders at every varint length', () => {
    for (const length of [0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 4 << 20]) {
      const data = pattern(length, length);
      const upload = Buffer.from(UploadChunk.encode({ options: undefined, data }).finish());
      assert.ok(encodeBytesField(UPLOAD_CHUNK_DATA_FIELD, data).equals(upload), `UploadChunk of ${length} bytes`);
      const image = Buffer.from(TransformUploadChunk.encode({ request: undefined, data }).finish());
      assert.ok(encodeBytesField(TRANSFORM_UPLOAD_CHUNK_DATA_FIELD, data).equals(image), `TransformUploadChunk of ${length} bytes`);
    }
  });

  test('a field number above 15 takes a two-byte tag', () => {
    assert.deepEqual([...encodeBytesField(16, Buffer.from('ab'))], [0x82, 0x01, 2, 0x61, 0x62]);
  });
});
