// image.transform, image.metadata and image.analyze through the SDK: option validation before
// sending, and one call against a real daemon on a mate-backgrounds photo.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, after, describe, test } from 'node:test';

import { createClient, hammingDistance, InvalidArgumentError, type HeavyliftClient, type TransformOptions } from 'heavylift';

import { findPhotos, photoSkipReason, useDaemon } from './support';

const skip = photoSkipReason();

// The address is never dialled: validation fails before any call is sent.
const offline = createClient({ address: '127.0.0.1:1' });
const tiny = Buffer.from([0xff, 0xd8, 0xff]);

async function rejection(
  options: unknown,
  call: (options: never) => Promise<unknown> = offline.image.transform,
): Promise<InvalidArgumentError> {
  try {
    await call(options as never);
  } catch (error) {
    assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call resolved for invalid options');
}

describe('image.transform option validation', () => {
  after(() => offline.close());

  const cases: Array<{ name: string; options: unknown; field: string; expected: RegExp; received: RegExp }> = [
    { name: 'missing input', options: { outputs: [{ format: 'jpeg' }] }, field: 'input', expected: /Buffer/, received: /undefined/ },
    { name: 'empty outputs', options: { input: tiny, outputs: [] }, field: 'outputs', expected: /non-empty array/, received: /\[\]/ },
    { name: 'unknown format', options: { input: tiny, outputs: [{ format: 'bmp' }] }, field: 'outputs[0].format', expected: /'jpeg'/, received: /'bmp'/ },
    { name: 'option of another format', options: { input: tiny, outputs: [{ format: 'webp', progressive: true }] }, field: 'outputs[0].progressive', expected: /no such option/, received: /true/ },
    { name: 'quality above 100', options: { input: tiny, outputs: [{ format: 'jpeg', quality: 101 }] }, field: 'outputs[0].quality', expected: /between 1 and 100/, received: /101/ },
    { name: 'bad fit', options: { input: tiny, operations: [{ resize: { width: 10, fit: 'stretch' } }], outputs: [{ format: 'png' }] }, field: 'operations[0].resize.fit', expected: /'cover'/, received: /'stretch'/ },
    { name: 'resize without sides', options: { input: tiny, operations: [{ resize: {} }], outputs: [{ format: 'png' }] }, field: 'operations[0].resize.width', expected: /width, a height/, received: /\{\}/ },
    { name: 'two operations in one entry', options: { input: tiny, operations: [{ flip: true, flop: true }], outputs: [{ format: 'png' }] }, field: 'operations[0]', expected: /exactly one/, received: /flip/ },
    { name: 'bad colour', options: { input: tiny, operations: [{ tint: '#12' }], outputs: [{ format: 'png' }] }, field: 'operations[0].tint', expected: /#rrggbb/, received: /'#12'/ },
    { name: 'blur sigma too small', options: { input: tiny, operations: [{ blur: { sigma: 0 } }], outputs: [{ format: 'png' }] }, field: 'operations[0].blur.sigma', expected: /between 0.3 and 1000/, received: /0/ },
    { name: 'smart gravity on contain', options: { input: tiny, operations: [{ resize: { width: 5, height: 5, fit: 'contain', position: 'attention' } }], outputs: [{ format: 'png' }] }, field: 'operations[0].resize.position', expected: /'north'/, received: /'attention'/ },
    { name: 'composite left without top', options: { input: tiny, operations: [{ composite: { overlay: tiny, left: 3 } }], outputs: [{ format: 'png' }] }, field: 'operations[0].composite.top', expected: /both left and top/, received: /3/ },
    { name: 'bad corrupt policy', options: { input: tiny, outputs: [{ format: 'png' }], corruptInput: 'ignore' }, field: 'corruptInput', expected: /'fail', 'warn'/, received: /'ignore'/ },
    { name: 'misspelt top-level option', options: { input: tiny, outputs: [{ format: 'png' }], autorotate: true }, field: 'options.autorotate', expected: /no such option/, received: /true/ },
  ];
  for (const { name, options, field, expected, received } of cases) {
    test(name, async () => {
      const error = await rejection(options);
      assert.equal(error.field, field);
      assert.match(error.message, expected);
      assert.match(error.message, received);
      assert.match(error.message, new RegExp(`for ${field.replace(/[[\].]/g, '\\$&')} but received`));
    });
  }

  test('hammingDistance counts differing bits', () => {
    assert.equal(hammingDistance('0000000000000000', 'ffffffffffffffff'), 64);
    assert.equal(hammingDistance('00000000000000f0', '0000000000000010'), 3);
    assert.throws(() => hammingDistance('xyz', '0000000000000000'), /16 lower-case hex digits for a/);
  });
});

describe('image.transformUpload and transformStream option validation', () => {

  const cases: Array<{ name: string; options: unknown; field: string; expected: RegExp }> = [
    { name: 'misspelt chunkBytes', options: { input: tiny, outputs: [{ format: 'png' }], chunkByte: 4096 }, field: 'options.chunkByte', expected: /allowed: .*chunkBytes/ },
    { name: 'path input', options: { input: { path: 'a.jpg' }, outputs: [{ format: 'png' }] }, field: 'input', expected: /Readable stream/ },
    { name: 'chunkBytes too small', options: { input: tiny, outputs: [{ format: 'png' }], chunkBytes: 10 }, field: 'chunkBytes', expected: /1024/ },
    { name: 'bad output format', options: { input: tiny, outputs: [{ format: 'bmp' }] }, field: 'outputs[0].format', expected: /'jpeg'/ },
  ];
  for (const { name, options, field, expected } of cases) {
    test(`upload: ${name}`, async () => {
      const error = await rejection(options, offline.image.transformUpload);
      assert.equal(error.field, field);
      assert.match(error.message, expected);
    });
  }

  test('upload: an async iterable input is accepted', async () => {
    async function* pieces(): AsyncGenerator<Buffer> {
      yield tiny;
    }
    // Validation passes, so the call reaches the unreachable address and fails there instead.
    const error = await offline.image.transformUpload({ input: pieces(), outputs: [{ format: 'png' }] }, { deadlineMs: 2000 }).catch((e: unknown) => e);
    assert.ok(!(error instanceof InvalidArgumentError), `validation rejected an async iterable: ${String(error)}`);
  });

  test('stream: misspelt option throws before sending', () => {
    assert.throws(
      () => offline.image.transformStream({ input: tiny, outputs: [{ format: 'png' }], autorotate: true } as unknown as TransformOptions),
      (error: unknown) => error instanceof InvalidArgumentError && error.field === 'options.autorotate',
    );
  });
});

describe('image.transform with a daemon', { skip }, () => {
  const fixture = useDaemon([]);
  let client: HeavyliftClient;
  let photo: Buffer;

  before(async () => {
    client = createClient({ address: fixture.daemon.grpcAddress });
    photo = await readFile(findPhotos()[0]!);
  });
  after(() => client?.close());

  test('one call gives every requested output', async () => {
    const result = await client.image.transform({
      input: photo,
      operations: [{ resize: { width: 400, height: 300, fit: 'cover', position: 'attention' } }, { modulate: { saturation: 1.2 } }],
      outputs: [
        { format: 'jpeg', quality: 70, progressive: true },
        { format: 'webp', resize: { width: 200 } },
        { format: 'png', palette: true, colors: 64 },
        { format: 'avif', quality: 40 },
      ],
    });
    assert.deepEqual(
      result.outputs.map((output) => [output.format, output.width, output.height]),
      [
        ['jpeg', 400, 300],
        ['webp', 200, 150],
        ['png', 400, 300],
        ['avif', 400, 300],
      ],
    );
    assert.equal(result.source.format, 'jpeg');
    assert.deepEqual(result.warnings, []);
  });

  test('metadata and analyze describe the photo', async () => {
    const metadata = await client.image.metadata({ input: photo });
    assert.equal(metadata.format, 'jpeg');
    assert.ok(metadata.width > 0 && metadata.height > 0);
    const analysis = await client.image.analyze({ input: photo });
    assert.match(analysis.blurhash, /^L.{27}$/);
    assert.match(analysis.phash, /^[0-9a-f]{16}$/);
    assert.ok(analysis.thumbhash.length >= 5);
  });
});
