// The four measured operations. Each one checks its own output, so a side that
// fails or returns empty data shows up as errors instead of fast numbers.
import argon2 from 'argon2';
import sharp from 'sharp';

const JPEG_SOI = [0xff, 0xd8];

/**
 * Makes a heavylift thumbnail operation: the photo at `index` (round-robin)
 * goes inline in one request that returns one JPEG per width.
 * Adds the encoded bytes to `tally.outputBytes`.
 */
export function makeHeavyliftThumbnail(client, photos, { widths, quality }, tally) {
  return async (index) => {
    const photo = photos[index % photos.length];
    const result = await client.image.thumbnail({
      input: photo.data,
      widths,
      format: 'jpeg',
      quality,
      autoOrient: true,
    });
    const outputs = result.thumbnails.map((thumbnail) => ({
      width: thumbnail.width,
      data: thumbnail.data,
    }));
    checkThumbnails(outputs, widths, photo);
    tally.outputBytes += sumBytes(outputs);
  };
}

/**
 * Makes the in-process sharp equivalent, written as a Node app would: one
 * pipeline per width, cloned from one input and run together. Each clone
 * decodes the input itself, with shrink-on-load.
 */
export function makeSharpThumbnail(photos, { widths, quality }, tally) {
  return async (index) => {
    const photo = photos[index % photos.length];
    const source = sharp(photo.data).autoOrient();
    const results = await Promise.all(
      widths.map((width) =>
        source
          .clone()
          .resize({ width, withoutEnlargement: true })
          .jpeg({ quality })
          .toBuffer({ resolveWithObject: true }),
      ),
    );
    const outputs = results.map(({ data, info }) => ({ width: info.width, data }));
    checkThumbnails(outputs, widths, photo);
    tally.outputBytes += sumBytes(outputs);
  };
}

/** Makes a heavylift argon2id hash operation with the given parameters. */
export function makeHeavyliftArgon2(client, parameters) {
  return async (index) => {
    const hash = await client.crypto.argon2id.hash(`bench-password-${index}`, parameters);
    checkPhcString(hash, parameters);
  };
}

/** Makes the in-process `argon2` package equivalent with the same parameters. */
export function makeNodeArgon2(parameters) {
  return async (index) => {
    const hash = await argon2.hash(`bench-password-${index}`, {
      type: argon2.argon2id,
      ...parameters,
    });
    checkPhcString(hash, parameters);
  };
}

function checkThumbnails(outputs, widths, photo) {
  if (outputs.length !== widths.length) {
    throw new Error(`${photo.name}: expected ${widths.length} thumbnails, got ${outputs.length}`);
  }
  outputs.forEach((output, i) => {
    const isJpeg = output.data.length > 2 && JPEG_SOI.every((byte, j) => output.data[j] === byte);
    if (!isJpeg) {
      throw new Error(`${photo.name}: thumbnail ${i} is not a JPEG (${output.data.length} bytes)`);
    }
    if (output.width < 1 || output.width > widths[i]) {
      throw new Error(`${photo.name}: thumbnail ${i} is ${output.width} pixels wide, expected at most ${widths[i]}`);
    }
  });
}

// Checks that a PHC string is argon2id with the requested m, t and p, in any order.
function checkPhcString(hash, { memoryCost, timeCost, parallelism }) {
  const match = /^\$argon2id\$v=19\$([^$]+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(hash);
  if (!match) {
    throw new Error(`invalid argon2id PHC string: ${hash}`);
  }
  const parameters = new Map(match[1].split(',').map((pair) => pair.split('=')));
  const expected = { m: memoryCost, t: timeCost, p: parallelism };
  for (const [key, value] of Object.entries(expected)) {
    if (parameters.get(key) !== String(value)) {
      throw new Error(`PHC string has ${key}=${parameters.get(key)}, expected ${value}: ${hash}`);
    }
  }
}

function sumBytes(outputs) {
  return outputs.reduce((total, output) => total + output.data.length, 0);
}
