// image.analyze against the reference encoders: the npm packages blurhash and thumbhash encode
// the same pixels in this process, and the daemon's BlurHash and ThumbHash must equal theirs.
// The pixels travel as a PNG built here, which the daemon decodes without resizing (it is
// under the 100-pixel analysis size).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { describe, test } from 'node:test';

import { encode as blurhashEncode } from 'blurhash';
import { hammingDistance } from 'heavylift';
import { rgbaToThumbHash } from 'thumbhash';

import { makeRandomBytes, PHOTOS, useDaemon } from '../lib/helpers.mjs';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

// Encodes 8-bit RGBA pixels as a PNG (colour type 6, no filtering).
function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 6;
  const rows = [];
  for (let y = 0; y < height; y += 1) {
    rows.push(Buffer.from([0]), Buffer.from(rgba.subarray(y * width * 4, (y + 1) * width * 4)));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// Smooth colour gradients plus seeded noise, opaque unless `translucent`. Translucent pixels
// get noisy alpha values: a regular on/off pattern would put some ThumbHash terms exactly on a
// rounding tie, where the last bit of Math.cos and the C library's cos decide the nibble.
function makePixels(width, height, seed, translucent = false) {
  const noise = makeRandomBytes(seed)(width * height);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const i = y * width + x;
      rgba[i * 4] = (x * 255) / width + (noise[i] % 32);
      rgba[i * 4 + 1] = (y * 255) / height;
      rgba[i * 4 + 2] = 128 + (noise[i] % 64);
      rgba[i * 4 + 3] = translucent ? 255 - (noise[(i * 7) % noise.length] % 200) : 255;
    }
  }
  return rgba;
}

describe('image.analyze placeholders', () => {
  const running = useDaemon();

  for (const [width, height, seed] of [
    [32, 24, 1],
    [17, 60, 2],
    [100, 100, 3],
  ]) {
    test(`BlurHash of ${width}x${height} equals the blurhash package`, async () => {
      const rgba = makePixels(width, height, seed);
      for (const [x, y] of [
        [4, 3],
        [9, 9],
        [1, 1],
      ]) {
        const result = await running.client.image.analyze({ input: encodePng(width, height, rgba), blurhashComponents: { x, y } });
        assert.equal(result.blurhash, blurhashEncode(rgba, width, height, x, y), `${x}x${y} components`);
      }
    });

    test(`ThumbHash of ${width}x${height} equals the thumbhash package`, async () => {
      for (const translucent of [false, true]) {
        const rgba = makePixels(width, height, seed, translucent);
        const result = await running.client.image.analyze({ input: encodePng(width, height, rgba) });
        assert.equal(result.thumbhash.toString('hex'), Buffer.from(rgbaToThumbHash(width, height, rgba)).toString('hex'), `translucent ${translucent}`);
      }
    });
  }

  test('perceptual hash survives re-encoding and tells photos apart', async () => {
    const photo = await readFile(PHOTOS.dune);
    const { outputs } = await running.client.image.transform({ input: photo, outputs: [{ format: 'jpeg', quality: 40, resize: { width: 300 } }] });
    const original = await running.client.image.analyze({ input: photo });
    const reencoded = await running.client.image.analyze({ input: outputs[0].data });
    const other = await running.client.image.analyze({ input: await readFile(PHOTOS.aqua) });
    assert.ok(hammingDistance(original.phash, reencoded.phash) <= 6, `${original.phash} vs ${reencoded.phash}`);
    assert.ok(hammingDistance(original.phash, other.phash) >= 16, `${original.phash} vs ${other.phash}`);
  });
});
