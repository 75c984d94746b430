// Streaming image transforms through the Node SDK. A real photo larger than the daemon's unary
// message limit streams in with transformUpload, and outputs stream back with transformStream.
// The failures covered: a truncated source, a source stream that fails, a stream over the byte
// limit, a header over the pixel bound, an upload that stalls past the caller's deadline or
// past image.max_call_ms, and a client that stops reading.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import { DeadlineExceededError, InvalidArgumentError, UnauthenticatedError, createClient } from 'heavylift';

import { PHOTOS, readMetrics, readMetricsUntil, rejectionOf, sumSamples, useDaemon } from '../lib/helpers.mjs';
import { tool, withClaimedJpegSize } from './image-tools.mjs';

// The daemon's unary message limit is the largest of image.max_input_bytes and
// files.max_input_bytes plus 1 MiB of overhead: 5 MiB here.
const UNARY_LIMIT_BYTES = 5 << 20;
const MAX_STREAM_INPUT_BYTES = 24 << 20;
const STREAM_CHUNK_BYTES = 256 << 10;
const TOKEN = 'image-stream-token-0123456789abcdef';

let dir;
const file = (name) => path.join(dir, name);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-e2e-image-stream-'));
  // A 3840x2160 photo as PNG: about 22 MB, over the unary limit and under the stream limit.
  await tool('vips', ['copy', PHOTOS.elephants4k, file('big.png')]);
  // The same photo as a 1.6 MB JPEG, under image.max_input_bytes, for the output streams.
  await tool('convert', [PHOTOS.elephants4k, '-quality', '60', file('big.jpg')]);
  await tool('convert', [PHOTOS.dune, '-resize', '240x150!', '-strip', '-quality', '95', file('small.jpg')]);
  await writeFile(file('tokens'), `${TOKEN}\n`);
});

after(async () => {
  if (dir) {
    await rm(dir, { recursive: true, force: true });
  }
});

function assertInvalidArgument(error, field, reason) {
  assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.field, field, error.message);
  assert.equal(error.reason, reason, error.message);
}

/**
 * Reads the daemon's metrics until no streaming call is in flight, for at most 20 s, and returns
 * the last reading. The daemon counts a call done only after gRPC has sent its status,
 * so the client can see the end of a call before the gauge drops.
 */
async function metricsAfterStreamCallsEnd(httpAddress) {
  return readMetricsUntil(httpAddress, (metrics) => sumSamples(metrics, 'heavylift_stream_calls_in_flight') === 0);
}

/** Yields `buffer` in pieces of `size` bytes. */
async function* piecesOf(buffer, size) {
  for (let offset = 0; offset < buffer.length; offset += size) {
    yield buffer.subarray(offset, offset + size);
  }
}

/** Reads every piece of a transformStream Readable and returns the 'info' event and the outputs' bytes. */
async function collectStream(stream) {
  let info;
  stream.once('info', (value) => {
    info = value;
  });
  const outputs = [];
  for await (const piece of stream) {
    outputs[piece.outputIndex] ??= { width: piece.width, height: piece.height, format: piece.format, pieces: [], ended: false };
    assert.equal(outputs[piece.outputIndex].ended, false, `a piece of output ${piece.outputIndex} came after its end`);
    outputs[piece.outputIndex].pieces.push(piece.data);
    outputs[piece.outputIndex].ended = piece.outputEnd;
  }
  return { info, outputs: outputs.map(({ pieces, ...rest }) => ({ ...rest, pieces, data: Buffer.concat(pieces) })) };
}

describe('streaming transforms', () => {
  const running = useDaemon(() => [
    '--blob-root', dir,
    '--image-max-input-bytes', String(4 << 20),
    '--files-max-input-bytes', String(4 << 20),
    '--files-max-chunk-bytes', String(1 << 20),
    '--image-max-stream-input-bytes', String(MAX_STREAM_INPUT_BYTES),
    '--image-max-stream-chunk-bytes', String(STREAM_CHUNK_BYTES),
  ], { deadlineMs: 120_000 });
  let small;

  before(async () => {
    small = await readFile(file('small.jpg'));
  });

  async function assertStillServing() {
    const { outputs } = await running.client.image.transform({ input: small, outputs: [{ format: 'png', resize: { width: 60 } }] });
    assert.deepEqual([outputs[0].width, outputs[0].height], [60, 37]);
  }

  test('upload of a photo over the unary limit', async () => {
    const { size } = await stat(file('big.png'));
    assert.ok(size > UNARY_LIMIT_BYTES, `the test photo is ${size} bytes`);
    assert.ok(size < MAX_STREAM_INPUT_BYTES, `the test photo is ${size} bytes`);
    const unary = await rejectionOf(running.client.image.transform({ input: await readFile(file('big.png')), outputs: [{ format: 'jpeg' }] }));
    assert.equal(unary.code, 8, `a unary call over the message limit fails with RESOURCE_EXHAUSTED: ${unary.message}`);

    const result = await running.client.image.transformUpload({
      input: createReadStream(file('big.png')),
      outputs: [{ format: 'webp', resize: { width: 1600 } }, { format: 'jpeg', resize: { width: 320 } }],
    });
    assert.equal(result.source.format, 'png');
    assert.deepEqual([result.source.width, result.source.height], [3840, 2160]);
    assert.deepEqual(result.outputs.map((o) => [o.format, o.width, o.height]), [['webp', 1600, 900], ['jpeg', 320, 180]]);
    const decoded = await running.client.image.metadata({ input: result.outputs[0].data });
    assert.deepEqual([decoded.format, decoded.width, decoded.height], ['webp', 1600, 900]);
    const metrics = await readMetrics(running.daemon.httpAddress);
    assert.equal(sumSamples(metrics, 'heavylift_stream_bytes_total', { method: 'image.transform_upload' }), size);
  });

  test('upload output equals the unary transform', async () => {
    const request = { operations: [{ rotate: { angle: 90 } }], outputs: [{ format: 'png' }] };
    const unary = await running.client.image.transform({ input: small, ...request });
    const fromBuffer = await running.client.image.transformUpload({ input: small, chunkBytes: 1024, ...request });
    const fromIterable = await running.client.image.transformUpload({ input: piecesOf(small, 5000), ...request });
    assert.ok(fromBuffer.outputs[0].data.equals(unary.outputs[0].data));
    assert.ok(fromIterable.outputs[0].data.equals(unary.outputs[0].data));
  });

  test('upload over the stream byte limit', async () => {
    const png = await readFile(file('big.png'));
    const error = await rejectionOf(
      running.client.image.transformUpload({ input: Readable.from([png, png]), outputs: [{ format: 'jpeg' }] }),
    );
    assert.ok(error instanceof InvalidArgumentError, `${error.name}: ${error.message}`);
    assert.equal(error.protoField, 'image.max_stream_input_bytes');
    assert.equal(error.reason, 'TOO_LARGE');
    assert.equal(error.bound, `<= ${MAX_STREAM_INPUT_BYTES} bytes`);
    await assertStillServing();
  });

  test('upload chunk over the chunk limit', async () => {
    const png = await readFile(file('big.png'));
    const error = await rejectionOf(
      running.client.image.transformUpload({ input: png, chunkBytes: STREAM_CHUNK_BYTES + 1024, outputs: [{ format: 'jpeg' }] }),
    );
    assertInvalidArgument(error, 'data', 'TOO_LARGE');
    assert.match(error.bound, /image\.max_stream_chunk_bytes/);
  });

  test('upload header over the pixel bound', async () => {
    // The header claims 30000x30000 and zeros follow past the stream byte limit: the pixel
    // bound must fail the call from the header, before the byte limit is reached.
    const header = withClaimedJpegSize(small, 30000, 30000);
    async function* claimedThenZeros() {
      yield header;
      const zeros = Buffer.alloc(1 << 20);
      for (let sent = 0; sent < 2 * MAX_STREAM_INPUT_BYTES; sent += zeros.length) {
        yield zeros;
      }
    }
    const error = await rejectionOf(running.client.image.transformUpload({ input: claimedThenZeros(), outputs: [{ format: 'jpeg' }] }));
    assertInvalidArgument(error, 'data', 'TOO_MANY_PIXELS');
    assert.match(error.value, /900000000/);
    await assertStillServing();
  });

  test('upload of a truncated image', async () => {
    const png = await readFile(file('big.png'));
    const truncated = png.subarray(0, Math.floor(png.length * 0.6));
    const error = await rejectionOf(running.client.image.transformUpload({ input: truncated, outputs: [{ format: 'jpeg', resize: { width: 320 } }] }));
    assertInvalidArgument(error, 'data', 'CORRUPT_INPUT');

    const warned = await running.client.image.transformUpload({
      input: truncated,
      corruptInput: 'warn',
      outputs: [{ format: 'jpeg', resize: { width: 320 } }],
    });
    assert.deepEqual([warned.outputs[0].width, warned.outputs[0].height], [320, 180]);
    assert.ok(warned.warnings.length > 0, 'the decoder warning is returned');
  });

  test('upload whose source stream fails', async () => {
    const failure = new Error('disk read failed');
    async function* failingSource() {
      yield small.subarray(0, 4096);
      throw failure;
    }
    const error = await rejectionOf(running.client.image.transformUpload({ input: failingSource(), outputs: [{ format: 'jpeg' }] }));
    assert.equal(error, failure);
    await assertStillServing();
  });

  test('upload that stalls past the deadline', async () => {
    async function* stalled() {
      yield small.subarray(0, 4096);
      await sleep(60_000);
    }
    const error = await rejectionOf(
      running.client.image.transformUpload({ input: stalled(), outputs: [{ format: 'jpeg' }] }, { deadlineMs: 1500 }),
    );
    assert.ok(error instanceof DeadlineExceededError, `${error.name}: ${error.message}`);
    await assertStillServing();
  });

  test('upload options are checked before sending', async () => {
    const misspelt = await rejectionOf(running.client.image.transformUpload({ input: small, chunkByte: 4096, outputs: [{ format: 'jpeg' }] }));
    assert.ok(misspelt instanceof InvalidArgumentError);
    assert.equal(misspelt.field, 'options.chunkByte');
    assert.match(misspelt.message, /allowed: .*chunkBytes/);

    const path = await rejectionOf(running.client.image.transformUpload({ input: { path: 'big.png' }, outputs: [{ format: 'jpeg' }] }));
    assert.equal(path.field, 'input');
    const tiny = await rejectionOf(running.client.image.transformUpload({ input: small, chunkBytes: 10, outputs: [{ format: 'jpeg' }] }));
    assert.equal(tiny.field, 'chunkBytes');
    const fit = await rejectionOf(
      running.client.image.transformUpload({ input: small, outputs: [{ format: 'jpeg', resize: { width: 10, fit: 'stretch' } }] }),
    );
    assert.equal(fit.field, 'outputs[0].resize.fit');
  });

  test('empty upload', async () => {
    const error = await rejectionOf(running.client.image.transformUpload({ input: Buffer.alloc(0), outputs: [{ format: 'jpeg' }] }));
    assertInvalidArgument(error, 'data', 'EMPTY');
  });

  test('stream of outputs in pieces', async () => {
    const request = { input: { path: 'big.jpg' }, outputs: [{ format: 'png', resize: { width: 1920 } }, { format: 'jpeg', resize: { width: 320 } }] };

    const { info, outputs } = await collectStream(running.client.image.transformStream(request));
    assert.deepEqual([info.source.format, info.source.width, info.source.height], ['jpeg', 3840, 2160]);
    assert.deepEqual(outputs.map((o) => [o.format, o.width, o.height, o.ended]), [['png', 1920, 1080, true], ['jpeg', 320, 180, true]]);
    assert.ok(outputs[0].pieces.length > 1, `the PNG output came in ${outputs[0].pieces.length} piece(s)`);
    assert.ok(outputs[0].pieces.every((piece) => piece.length <= STREAM_CHUNK_BYTES));
    await writeFile(file('streamed.png'), outputs[0].data);
    assert.equal(await tool('identify', ['-format', '%m %w %h', file('streamed.png')]), 'PNG 1920 1080');

    // The same request by the unary method gives the same bytes.
    const unary = await running.client.image.transform(request);
    assert.ok(unary.outputs[0].data.equals(outputs[0].data));
    assert.ok(unary.outputs[1].data.equals(outputs[1].data));
  });

  test('stream errors come before any piece', async () => {
    const stream = running.client.image.transformStream({ input: withClaimedJpegSize(small, 30000, 30000), outputs: [{ format: 'jpeg' }] });
    const error = await rejectionOf(collectStream(stream));
    assertInvalidArgument(error, 'input.data', 'TOO_MANY_PIXELS');
  });

  test('stream to a client that stops reading', async () => {
    const stream = running.client.image.transformStream({ input: { path: 'big.jpg' }, outputs: [{ format: 'png' }] });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    // The client reads nothing more; the daemon keeps serving other calls meanwhile.
    await assertStillServing();
    let metrics = await readMetrics(running.daemon.httpAddress);
    assert.equal(sumSamples(metrics, 'heavylift_stream_calls_in_flight'), 1);

    stream.destroy();
    // The cancellation reaches the daemon asynchronously.
    metrics = await metricsAfterStreamCallsEnd(running.daemon.httpAddress);
    assert.equal(sumSamples(metrics, 'heavylift_stream_calls_in_flight'), 0);
    assert.equal(sumSamples(metrics, 'heavylift_stream_calls_total', { method: 'image.transform_stream', code: 'CANCELLED' }), 1);
    await assertStillServing();
  });
});

describe('streaming transforms under image.max_call_ms', () => {
  const MAX_CALL_MS = 1500;
  // The client's own deadline is far away, so only the daemon's bound can end these calls.
  const running = useDaemon(() => ['--image-max-call-ms', String(MAX_CALL_MS)], { deadlineMs: 120_000 });

  test('stalled upload ends at image.max_call_ms', async () => {
    const small = await readFile(file('small.jpg'));
    const stalls = {
      'after the options': async function* () {
        await sleep(20_000);
      },
      'after 4 KiB of the source': async function* () {
        yield small.subarray(0, 4096);
        await sleep(20_000);
      },
    };
    for (const [when, source] of Object.entries(stalls)) {
      const started = Date.now();
      const error = await rejectionOf(running.client.image.transformUpload({ input: source(), outputs: [{ format: 'jpeg' }] }));
      const elapsedMs = Date.now() - started;
      assert.ok(error instanceof DeadlineExceededError, `${when}: ${error.name}: ${error.message}`);
      assert.equal(error.protoField, 'image.max_call_ms', when);
      assert.equal(error.bound, `<= ${MAX_CALL_MS} ms`, when);
      assert.ok(elapsedMs >= MAX_CALL_MS - 100, `${when}: ended after ${elapsedMs} ms`);
      assert.ok(elapsedMs < MAX_CALL_MS + 5_000, `${when}: ended after ${elapsedMs} ms`);
    }
    const metrics = await metricsAfterStreamCallsEnd(running.daemon.httpAddress);
    assert.equal(
      sumSamples(metrics, 'heavylift_stream_calls_total', { method: 'image.transform_upload', code: 'DEADLINE_EXCEEDED' }),
      2,
    );
    assert.equal(sumSamples(metrics, 'heavylift_stream_calls_in_flight'), 0);

    const { outputs } = await running.client.image.transformUpload({ input: small, outputs: [{ format: 'png', resize: { width: 60 } }] });
    assert.deepEqual([outputs[0].width, outputs[0].height], [60, 37]);
  });
});

describe('streaming transforms with bearer tokens', () => {
  const running = useDaemon(() => ['--auth-token-file', file('tokens')]);

  test('calls without a token are rejected', async () => {
    const small = await readFile(file('small.jpg'));
    const withToken = createClient({ address: running.daemon.grpcAddress, token: TOKEN });
    try {
      const upload = await rejectionOf(running.client.image.transformUpload({ input: small, outputs: [{ format: 'jpeg' }] }));
      assert.ok(upload instanceof UnauthenticatedError, `${upload.name}: ${upload.message}`);
      assert.equal(upload.reason, 'MISSING_TOKEN');
      const stream = await rejectionOf(collectStream(running.client.image.transformStream({ input: small, outputs: [{ format: 'jpeg' }] })));
      assert.ok(stream instanceof UnauthenticatedError, `${stream.name}: ${stream.message}`);

      const allowed = await withToken.image.transformUpload({ input: small, outputs: [{ format: 'jpeg', resize: { width: 60 } }] });
      assert.equal(allowed.outputs[0].width, 60);
      const pieces = await collectStream(withToken.image.transformStream({ input: small, outputs: [{ format: 'jpeg', resize: { width: 60 } }] }));
      assert.equal(pieces.outputs[0].width, 60);
    } finally {
      withToken.close();
    }
  });
});
