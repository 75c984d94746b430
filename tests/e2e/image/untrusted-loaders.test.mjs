// Loaders that libvips marks untrusted (ImageMagick's for PPM, and SVG here) are blocked by
// default and accepted only with --image-allow-untrusted-loaders true.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { InvalidArgumentError } from 'heavylift';

import { PHOTOS, rejectionOf, useDaemon } from '../lib/helpers.mjs';
import { tool } from './image-tools.mjs';

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="#0a0"/></svg>');

let dir;
let ppm;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-e2e-untrusted-'));
  await tool('convert', [PHOTOS.dune, '-resize', '64x40!', path.join(dir, 'photo.ppm')]);
  ppm = await readFile(path.join(dir, 'photo.ppm'));
});

after(async () => {
  if (dir) {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('untrusted loaders blocked by default', () => {
  const running = useDaemon();

  for (const [name, input] of [
    ['PPM', () => ppm],
    ['SVG', () => SVG],
  ]) {
    test(`${name} is UNSUPPORTED_FORMAT`, async () => {
      const error = await rejectionOf(running.client.image.transform({ input: input(), outputs: [{ format: 'png' }] }));
      assert.ok(error instanceof InvalidArgumentError, `${error?.name}: ${error?.message}`);
      assert.equal(error.field, 'input.data');
      assert.equal(error.reason, 'UNSUPPORTED_FORMAT');
    });
  }
});

describe('untrusted loaders allowed by the setting', () => {
  const running = useDaemon(['--image-allow-untrusted-loaders', 'true']);

  test('PPM and SVG decode', async () => {
    const fromPpm = await running.client.image.transform({ input: ppm, outputs: [{ format: 'png' }] });
    // libvips reads PPM from memory through its ImageMagick loader, itself untrusted.
    assert.equal(fromPpm.source.format, 'magick');
    assert.deepEqual([fromPpm.outputs[0].width, fromPpm.outputs[0].height], [64, 40]);
    const fromSvg = await running.client.image.transform({ input: SVG, outputs: [{ format: 'png' }] });
    assert.equal(fromSvg.source.format, 'svg');
    assert.deepEqual([fromSvg.outputs[0].width, fromSvg.outputs[0].height], [40, 30]);
  });
});
