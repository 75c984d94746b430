// The classic problem images of image pipelines, made here from a real photo with ImageMagick,
// vips and exiftool and sent through the Node SDK. Each gets a correct output or a clear
// INVALID_ARGUMENT naming the field, and the daemon keeps serving after every one.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { InvalidArgumentError } from 'heavylift';

import { makeRandomBytes, PHOTOS, readMetrics, rejectionOf, sumSamples, useDaemon } from '../lib/helpers.mjs';
import { adobeRgbProfile, meanAbsoluteError, regionMean, tool, withClaimedJpegSize } from './image-tools.mjs';

// Normalized mean absolute error allowed between an upright output and the upright original,
// both decoded by ImageMagick: JPEG re-encoding at quality 95 stays well under it, while a
// wrong orientation or a missing colour conversion is far above it.
const UPRIGHT_TOLERANCE = 0.02;

// ImageMagick operators that store an upright image so that EXIF orientation N shows it upright.
const STORE_FOR_ORIENTATION = {
  1: [],
  2: ['-flop'],
  3: ['-rotate', '180'],
  4: ['-flip'],
  5: ['-transpose'],
  6: ['-rotate', '270'],
  7: ['-transverse'],
  8: ['-rotate', '90'],
};

let dir;
const file = (name) => path.join(dir, name);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-e2e-image-'));
  // The upright original: a 240 x 150 rendition of a real photo, stored without EXIF.
  await tool('convert', [PHOTOS.dune, '-resize', '240x150!', '-strip', '-quality', '95', file('upright.jpg')]);
  await tool('convert', [file('upright.jpg'), file('upright.png')]);
});

after(async () => {
  if (dir) {
    await rm(dir, { recursive: true, force: true });
  }
});

function assertDaemonInvalidArgument(error, field) {
  assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error?.name}: ${error?.message}`);
  assert.ok(error.protoField, `the daemon sent no ErrorDetail: ${error.message}`);
  assert.equal(error.field, field, error.message);
}

describe('classic problem images', () => {
  const running = useDaemon(() => ['--blob-root', dir]);
  let goodInput;

  before(async () => {
    goodInput = await readFile(file('upright.jpg'));
  });

  // After every case the daemon must still be alive and return a good transform.
  async function assertStillServing() {
    assert.equal(running.daemon.process.exitCode, null, `daemon exited; logs:\n${running.daemon.logs()}`);
    const result = await running.client.image.transform({ input: goodInput, outputs: [{ format: 'webp', resize: { width: 60 } }] });
    assert.equal(result.outputs[0].width, 60);
  }

  // Transforms `input` to PNG, writes it next to the fixtures and returns its path and result.
  async function transformToPng(input, name, options = {}) {
    const result = await running.client.image.transform({ input, outputs: [{ format: 'png' }], ...options });
    const output = file(`${name}.out.png`);
    await writeFile(output, result.outputs[0].data);
    return { output, result };
  }

  for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`EXIF orientation ${orientation} comes out upright`, async () => {
      const stored = file(`orientation-${orientation}.jpg`);
      await tool('convert', [file('upright.jpg'), ...STORE_FOR_ORIENTATION[orientation], '-quality', '95', stored]);
      await tool('exiftool', ['-q', '-overwrite_original', `-Orientation#=${orientation}`, stored]);
      const { output, result } = await transformToPng(await readFile(stored), `orientation-${orientation}`);
      assert.equal(result.source.orientation, orientation);
      assert.deepEqual([result.outputs[0].width, result.outputs[0].height], [240, 150]);
      assert.ok((await meanAbsoluteError(output, file('upright.png'))) < UPRIGHT_TOLERANCE);
      await assertStillServing();
    });
  }

  test('CMYK JPEG converts to sRGB', async () => {
    // libvips' built-in CMYK profile makes the separation and is embedded in the file.
    await tool('vips', ['icc_export', file('upright.jpg'), `${file('cmyk.jpg')}[Q=95]`, '--output-profile', 'cmyk']);
    const { output, result } = await transformToPng(await readFile(file('cmyk.jpg')), 'cmyk');
    assert.equal(result.source.colorSpace, 'cmyk');
    assert.equal(result.source.channels, 4);
    const metadata = await running.client.image.metadata({ input: result.outputs[0].data });
    assert.equal(metadata.colorSpace, 'srgb');
    const error = await meanAbsoluteError(output, file('upright.png'));
    assert.ok(error < 0.05, `CMYK round trip differs by ${error}`);
    await assertStillServing();
  });

  test('Adobe RGB JPEG honours its ICC profile', async () => {
    await writeFile(file('adobergb.icc'), adobeRgbProfile());
    // vips assumes the source is sRGB and stores Adobe RGB values with the profile embedded.
    await tool('vips', ['icc_transform', file('upright.jpg'), `${file('adobe.jpg')}[Q=95]`, file('adobergb.icc')]);
    const input = await readFile(file('adobe.jpg'));
    const converted = await transformToPng(input, 'adobe');
    assert.ok(converted.result.source.hasIccProfile);
    const untouched = await transformToPng(input, 'adobe-raw', { toSrgb: false });
    const convertedError = await meanAbsoluteError(converted.output, file('upright.png'));
    const untouchedError = await meanAbsoluteError(untouched.output, file('upright.png'));
    assert.ok(convertedError < UPRIGHT_TOLERANCE, `converted output differs by ${convertedError}`);
    assert.ok(untouchedError > convertedError * 2, `ignoring the profile should differ more: ${untouchedError} vs ${convertedError}`);
    await assertStillServing();
  });

  test('16-bit PNG encodes to 8-bit outputs', async () => {
    await tool('vips', ['colourspace', file('upright.png'), file('sixteen.png'), 'rgb16']);
    const input = await readFile(file('sixteen.png'));
    const result = await running.client.image.transform({ input, outputs: [{ format: 'jpeg' }, { format: 'webp' }, { format: 'png' }] });
    assert.equal(result.source.bitsPerSample, 16);
    assert.deepEqual(result.outputs.map((o) => o.width), [240, 240, 240]);
    await writeFile(file('sixteen.out.png'), result.outputs[2].data);
    assert.ok((await meanAbsoluteError(file('sixteen.out.png'), file('upright.png'))) < UPRIGHT_TOLERANCE);
    await assertStillServing();
  });

  test('alpha PNG flattens onto the chosen background in JPEG', async () => {
    // The left 100 columns are fully transparent.
    await tool('convert', [file('upright.png'), '-alpha', 'set', '-region', '100x150+0+0', '-alpha', 'transparent', file('alpha.png')]);
    const result = await running.client.image.transform({ input: await readFile(file('alpha.png')), outputs: [{ format: 'jpeg', flatten: '#00ff00' }] });
    assert.ok(result.source.hasAlpha);
    await writeFile(file('alpha.out.jpg'), result.outputs[0].data);
    const [r, g, b] = await regionMean(file('alpha.out.jpg'), { left: 10, top: 10, width: 60, height: 120 });
    assert.ok(r < 0.05, `transparent area has red ${r}, expected green`);
    assert.ok(g > 0.95, `transparent area has green ${g}, expected green`);
    assert.ok(b < 0.05, `transparent area has blue ${b}, expected green`);
    await assertStillServing();
  });

  test('palette PNG decodes', async () => {
    await tool('convert', [file('upright.png'), '-colors', '64', `PNG8:${file('palette.png')}`]);
    const { output } = await transformToPng(await readFile(file('palette.png')), 'palette');
    assert.ok((await meanAbsoluteError(output, file('palette.png'))) < 0.005);
    await assertStillServing();
  });

  test('progressive JPEG decodes and encodes', async () => {
    await tool('convert', [file('upright.jpg'), '-interlace', 'JPEG', '-quality', '95', file('progressive.jpg')]);
    const input = await readFile(file('progressive.jpg'));
    assert.equal((await running.client.image.metadata({ input })).progressive, true);
    const result = await running.client.image.transform({ input, outputs: [{ format: 'jpeg', progressive: true }] });
    assert.equal((await running.client.image.metadata({ input: result.outputs[0].data })).progressive, true);
    await assertStillServing();
  });

  test('animated GIF and WebP stay animated', async () => {
    await tool('convert', ['-delay', '20', file('upright.jpg'), '(', file('upright.jpg'), '-flop', ')', '(', file('upright.jpg'), '-flip', ')', '-loop', '0', file('anim.gif')]);
    await tool('vips', ['copy', `${file('anim.gif')}[n=-1]`, file('anim.webp')]);
    for (const name of ['anim.gif', 'anim.webp']) {
      const result = await running.client.image.transform({
        input: await readFile(file(name)),
        operations: [{ resize: { width: 120 } }],
        outputs: [{ format: 'webp' }, { format: 'gif' }, { format: 'jpeg' }],
      });
      assert.equal(result.source.pages, 3, name);
      assert.deepEqual(result.outputs.map((o) => o.pages), [3, 3, 1], name);
      assert.deepEqual(result.outputs.map((o) => [o.width, o.height]), [[120, 75], [120, 75], [120, 75]], name);
      const reread = await running.client.image.metadata({ input: result.outputs[0].data });
      assert.equal(reread.pages, 3, name);
      assert.deepEqual(reread.delaysMs, [200, 200, 200], name);
    }
    await assertStillServing();
  });

  test('AVIF, HEIC, TIFF and WebP inputs decode', async () => {
    for (const [name, format] of [
      ['input.avif', 'heif'],
      ['input.heic[compression=hevc]', 'heif'],
      ['input.tif', 'tiff'],
      ['input.webp', 'webp'],
    ]) {
      await tool('vips', ['copy', file('upright.jpg'), file(name)]);
      const fileName = name.replace(/\[.*$/, '');
      const { output, result } = await transformToPng(await readFile(file(fileName)), fileName);
      assert.equal(result.source.format, format, name);
      const error = await meanAbsoluteError(output, file('upright.png'));
      assert.ok(error < 0.05, `${name} differs from the original by ${error}`);
    }
    await assertStillServing();
  });

  test('grayscale JPEG stays grey', async () => {
    await tool('convert', [file('upright.jpg'), '-colorspace', 'Gray', file('grey.jpg')]);
    const result = await running.client.image.transform({ input: await readFile(file('grey.jpg')), outputs: [{ format: 'jpeg' }, { format: 'webp' }] });
    assert.equal(result.source.colorSpace, 'b-w');
    assert.equal((await running.client.image.metadata({ input: result.outputs[0].data })).channels, 1);
    await assertStillServing();
  });

  for (const [name, extension] of [
    ['JPEG', 'jpg'],
    ['PNG', 'png'],
  ]) {
    test(`truncated ${name} fails, or decodes with a warning on request`, async () => {
      const whole = await readFile(file(`upright.${extension}`));
      const input = whole.subarray(0, Math.floor(whole.length * 0.6));
      const error = await rejectionOf(running.client.image.transform({ input, outputs: [{ format: 'jpeg' }] }));
      assertDaemonInvalidArgument(error, 'input.data');
      assert.equal(error.reason, 'CORRUPT_INPUT');
      const warned = await running.client.image.transform({ input, outputs: [{ format: 'jpeg' }], corruptInput: 'warn' });
      assert.equal(warned.outputs[0].width, 240);
      assert.equal(warned.warnings.length, 1);
      assert.match(warned.warnings[0], /input\.data/);
      await assertStillServing();
    });
  }

  test('zero bytes are EMPTY', async () => {
    const error = await rejectionOf(running.client.image.transform({ input: Buffer.alloc(0), outputs: [{ format: 'jpeg' }] }));
    assertDaemonInvalidArgument(error, 'input.data');
    assert.equal(error.reason, 'EMPTY');
    await assertStillServing();
  });

  test('random bytes are UNSUPPORTED_FORMAT', async () => {
    const input = makeRandomBytes(7)(4096);
    for (const call of [
      () => running.client.image.transform({ input, outputs: [{ format: 'jpeg' }] }),
      () => running.client.image.metadata({ input }),
      () => running.client.image.analyze({ input }),
    ]) {
      const error = await rejectionOf(call());
      assertDaemonInvalidArgument(error, 'input.data');
      assert.equal(error.reason, 'UNSUPPORTED_FORMAT');
    }
    await assertStillServing();
  });

  test('lying file extension is read by its bytes', async () => {
    await tool('cp', [file('upright.png'), file('really-a-png.jpg')]);
    const result = await running.client.image.transform({ input: { path: 'really-a-png.jpg' }, outputs: [{ format: 'webp' }] });
    assert.equal(result.source.format, 'png');
    assert.equal(result.outputs[0].width, 240);
    await assertStillServing();
  });

  test('header claiming 30000x30000 is rejected before decoding', async () => {
    const input = withClaimedJpegSize(goodInput, 30000, 30000);
    const metadata = await running.client.image.metadata({ input });
    assert.deepEqual([metadata.width, metadata.height], [30000, 30000]);
    const started = performance.now();
    const error = await rejectionOf(running.client.image.transform({ input, outputs: [{ format: 'jpeg' }] }));
    assertDaemonInvalidArgument(error, 'input.data');
    assert.equal(error.reason, 'TOO_MANY_PIXELS');
    assert.match(error.bound, /100000000 pixels/);
    assert.match(error.value, /900000000/);
    assert.ok(performance.now() - started < 2000, 'the pixel bound is checked from the header');
    const metrics = await readMetrics(running.daemon.httpAddress);
    assert.equal(sumSamples(metrics, 'heavylift_image_rejections_total', { task: 'image.transform', reason: 'TOO_MANY_PIXELS' }), 1);
    await assertStillServing();
  });

  test('1x1 image', async () => {
    await tool('convert', ['-size', '1x1', 'xc:#ff8000', file('one.png')]);
    const input = await readFile(file('one.png'));
    const result = await running.client.image.transform({
      input,
      outputs: [{ format: 'jpeg' }, { format: 'webp' }, { format: 'avif' }, { format: 'png', resize: { width: 10, height: 10 } }],
    });
    assert.deepEqual(result.outputs.map((o) => [o.width, o.height]), [[1, 1], [1, 1], [1, 1], [10, 10]]);
    const analysis = await running.client.image.analyze({ input });
    assert.deepEqual(analysis.dominant, { r: 248, g: 136, b: 8 });
    await assertStillServing();
  });

  test('1x20000 strip', async () => {
    // One column of the photo stretched to 20000 rows (ImageMagick's default policy refuses
    // images this tall, so vips makes it).
    await tool('vips', ['extract_area', file('upright.png'), file('column.png'), '120', '0', '1', '150']);
    await tool('vips', ['resize', file('column.png'), file('strip.png'), '1', '--vscale', '133.334']);
    const input = await readFile(file('strip.png'));
    const result = await running.client.image.transform({ input, outputs: [{ format: 'jpeg' }, { format: 'png', resize: { height: 100 } }] });
    assert.deepEqual(result.outputs.map((o) => [o.width, o.height]), [[1, 20000], [1, 100]]);
    // WebP stores at most 16383 pixels per side.
    const webp = await rejectionOf(running.client.image.transform({ input, outputs: [{ format: 'webp' }] }));
    assertDaemonInvalidArgument(webp, 'outputs[0]');
    assert.match(webp.bound, /16383/);
    // 100 pixels wide would be 2,000,000 tall: over the output pixel bound.
    const wide = await rejectionOf(running.client.image.transform({ input, operations: [{ resize: { width: 100 } }], outputs: [{ format: 'png' }] }));
    assertDaemonInvalidArgument(wide, 'operations[0].resize');
    assert.equal(wide.reason, 'OUTPUT_TOO_LARGE');
    await assertStillServing();
  });
});
