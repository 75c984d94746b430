// Shared helpers of the test files: the daemon under test, sample photos and image header parsers.
import { after, before } from 'node:test';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { startDaemon, type RunningDaemon } from 'heavylift/testing';

/** Folder of Debian's mate-backgrounds package, whose JPEG photos the image tests use. */
export const PHOTO_ROOT = '/usr/share/backgrounds/mate';

/** Reason to skip photo tests, or false when photos exist. */
export function photoSkipReason(): string | false {
  return findPhotos().length > 0 ? false : `no JPEG photos under ${PHOTO_ROOT}; install Debian's mate-backgrounds package`;
}

/** Returns the JPEG files under PHOTO_ROOT, smallest first. */
export function findPhotos(): string[] {
  const photos: string[] = [];
  const visit = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        visit(path);
      } else if (entry.isFile() && entry.name.toLowerCase().endsWith('.jpg')) {
        photos.push(path);
      }
    }
  };
  visit(PHOTO_ROOT);
  return photos.sort((a, b) => statSync(a).size - statSync(b).size);
}

/** The daemon of one test file, set once the file's `before` hook has started it. */
export interface DaemonFixture {
  daemon: RunningDaemon;
}

/**
 * Registers file-level hooks that start the daemon with `args` before the file's tests and
 * stop it after them. Call at the top level of a test file. When the binary is missing, the
 * hook rejects and every test of the file fails with startDaemon's message.
 */
export function useDaemon(args: string[] = []): DaemonFixture {
  const fixture = {} as DaemonFixture;
  before(async () => {
    fixture.daemon = await startDaemon({ args });
  });
  after(async () => {
    await fixture.daemon?.stop();
  });
  return fixture;
}

/** Width and height in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/** Returns the size in a JPEG's start-of-frame segment, or throws when the bytes are not a JPEG. */
export function jpegSize(bytes: Buffer): ImageSize {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new Error('not a JPEG: missing the FF D8 start-of-image marker');
  }
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw new Error(`corrupt JPEG: expected a marker at byte ${offset}`);
    }
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    // Markers C0..CF start a frame header with the image size, except C4 (DHT), C8 (JPG) and CC (DAC).
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) {
      return { height: bytes.readUInt16BE(offset + 5), width: bytes.readUInt16BE(offset + 7) };
    }
    offset += 2 + bytes.readUInt16BE(offset + 2);
  }
  throw new Error('corrupt JPEG: no start-of-frame segment');
}

/** Returns the size in a WebP's first chunk (VP8, VP8L or VP8X), or throws when the bytes are not a WebP. */
export function webpSize(bytes: Buffer): ImageSize {
  if (bytes.length < 30 || bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WEBP') {
    throw new Error('not a WebP: missing the RIFF....WEBP header');
  }
  const chunk = bytes.toString('latin1', 12, 16);
  switch (chunk) {
    case 'VP8 ':
      return { width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff };
    case 'VP8L': {
      const bits = bytes.readUInt32LE(21);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    case 'VP8X':
      return { width: bytes.readUIntLE(24, 3) + 1, height: bytes.readUIntLE(27, 3) + 1 };
    default:
      throw new Error(`unknown WebP chunk ${JSON.stringify(chunk)}`);
  }
}
