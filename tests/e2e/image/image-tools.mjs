// Helpers of the image e2e tests: the command-line tools that make test inputs from real photos
// (ImageMagick, vips, exiftool), a pixel metric, and an Adobe RGB (1998) ICC profile built here.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `command` with `args` and returns its stdout; fails with its stderr. */
export async function tool(command, args) {
  try {
    const { stdout } = await run(command, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    error.message = `${command} ${args.join(' ')} failed: ${error.stderr || error.message}`;
    throw error;
  }
}

/**
 * Returns ImageMagick's normalized mean absolute error between two image files (0 = equal,
 * 1 = opposite), over their colour channels. Both must have the same size.
 */
export async function meanAbsoluteError(fileA, fileB) {
  // compare prints "<absolute> (<normalized>)" on stderr and exits 1 when the images differ.
  const output = await new Promise((resolve) => {
    execFile('compare', ['-metric', 'MAE', fileA, fileB, 'null:'], (error, stdout, stderr) => resolve(stderr));
  });
  const match = /\(([0-9.e-]+)\)/.exec(output);
  if (!match) {
    throw new Error(`compare ${fileA} ${fileB} printed no metric: ${output}`);
  }
  return Number(match[1]);
}

/** Returns the mean of each channel (0..1) of a region of an image file, through ImageMagick. */
export async function regionMean(file, { left, top, width, height }) {
  const output = await tool('convert', [file, '-crop', `${width}x${height}+${left}+${top}`, '-format', '%[fx:mean.r] %[fx:mean.g] %[fx:mean.b]', 'info:']);
  return output.trim().split(/\s+/).map(Number);
}

function s15Fixed16(value) {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(Math.round(value * 65536));
  return bytes;
}

function xyzTag(x, y, z) {
  return Buffer.concat([Buffer.from('XYZ '), Buffer.alloc(4), s15Fixed16(x), s15Fixed16(y), s15Fixed16(z)]);
}

function padTo4(buffer) {
  return buffer.length % 4 === 0 ? buffer : Buffer.concat([buffer, Buffer.alloc(4 - (buffer.length % 4))]);
}

/**
 * Builds a version 2 ICC display profile for Adobe RGB (1998): its published primaries adapted
 * to the D50 connection space and a pure gamma curve of 563/256 (about 2.2).
 */
export function adobeRgbProfile() {
  const description = 'Adobe RGB (1998) compatible test profile';
  const desc = Buffer.concat([
    Buffer.from('desc'),
    Buffer.alloc(4),
    (() => {
      const count = Buffer.alloc(4);
      count.writeUInt32BE(description.length + 1);
      return count;
    })(),
    Buffer.from(`${description}\0`, 'latin1'),
    // Unicode language and count, ScriptCode code and count, then 67 bytes of ScriptCode.
    Buffer.alloc(4 + 4 + 2 + 1 + 67),
  ]);
  const curve = Buffer.concat([Buffer.from('curv'), Buffer.alloc(4), Buffer.from([0, 0, 0, 1, 0x02, 0x33])]);
  const tags = [
    ['desc', desc],
    ['cprt', Buffer.concat([Buffer.from('text'), Buffer.alloc(4), Buffer.from('No copyright, test data\0')])],
    ['wtpt', xyzTag(0.9642, 1.0, 0.8249)],
    ['rXYZ', xyzTag(0.60974, 0.31111, 0.01947)],
    ['gXYZ', xyzTag(0.20528, 0.62567, 0.06087)],
    ['bXYZ', xyzTag(0.14919, 0.06322, 0.74457)],
    ['rTRC', curve],
    ['gTRC', curve],
    ['bTRC', curve],
  ];

  const tableSize = 4 + tags.length * 12;
  let offset = 128 + tableSize;
  const table = Buffer.alloc(tableSize);
  table.writeUInt32BE(tags.length, 0);
  const bodies = [];
  tags.forEach(([signature, body], index) => {
    const padded = padTo4(body);
    table.write(signature, 4 + index * 12, 'latin1');
    table.writeUInt32BE(offset, 8 + index * 12);
    table.writeUInt32BE(body.length, 12 + index * 12);
    bodies.push(padded);
    offset += padded.length;
  });

  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write('mntr', 12, 'latin1');
  header.write('RGB ', 16, 'latin1');
  header.write('XYZ ', 20, 'latin1');
  header.writeUInt16BE(2026, 24);
  header.writeUInt16BE(1, 26);
  header.writeUInt16BE(1, 28);
  header.write('acsp', 36, 'latin1');
  s15Fixed16(0.9642).copy(header, 68);
  s15Fixed16(1.0).copy(header, 72);
  s15Fixed16(0.8249).copy(header, 76);
  return Buffer.concat([header, table, ...bodies]);
}

/**
 * Returns a copy of a baseline JPEG whose frame header (SOF0) claims `width` x `height`, so a
 * reader that trusts the header sees that size without any pixel data to match.
 */
export function withClaimedJpegSize(jpeg, width, height) {
  const copy = Buffer.from(jpeg);
  let offset = 2;
  while (offset + 9 < copy.length) {
    if (copy[offset] !== 0xff) {
      throw new Error(`no JPEG marker at byte ${offset}`);
    }
    const marker = copy[offset + 1];
    const length = copy.readUInt16BE(offset + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      copy.writeUInt16BE(height, offset + 5);
      copy.writeUInt16BE(width, offset + 7);
      return copy;
    }
    offset += 2 + length;
  }
  throw new Error('no SOF marker found');
}
