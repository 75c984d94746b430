// Decompression bombs through the real daemon: a gzip and a zstd stream that
// would expand to 10 GiB stop at files.max_decompressed_bytes with an error
// naming the bound, and leave no partial output behind.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { constants, gzipSync } from 'node:zlib';

import { InvalidArgumentError } from 'heavylift';

import { rejectionOf, useDaemon } from '../lib/helpers.mjs';

const MiB = 1 << 20;
const BOUND = 256 * MiB;
const EXPANDED = 10 * 1024 * MiB;
const MEMBER = 64 * MiB;

// Concatenated members (gzip) or frames (zstd) of MEMBER zero bytes each,
// which decode in sequence to EXPANDED bytes.
function repeatedBomb(member) {
  return Buffer.concat(Array.from({ length: EXPANDED / MEMBER }, () => member));
}

describe('decompression bombs', () => {
  const blobRoot = mkdtempSync(path.join(os.tmpdir(), 'heavylift-bomb-e2e-'));
  const running = useDaemon(() => ['--blob-root', blobRoot, '--files-max-decompressed-bytes', String(BOUND)], {
    deadlineMs: 120_000,
  });
  after(async () => {
    await rm(blobRoot, { recursive: true, force: true });
  });

  test('gzip and zstd 10 GiB bombs stop at bound', async () => {
    const zeros = Buffer.alloc(MEMBER);
    const gzipMember = gzipSync(zeros, { level: constants.Z_BEST_COMPRESSION });
    const zstdMember = (await running.client.files.compress(zeros, { format: 'zstd', level: 19 })).data;
    for (const [format, bomb] of [
      ['gzip', repeatedBomb(gzipMember)],
      ['zstd', repeatedBomb(zstdMember)],
    ]) {
      const started = performance.now();
      const error = await rejectionOf(running.client.files.decompress(bomb, { outputPath: `bomb-${format}.out` }));
      const seconds = (performance.now() - started) / 1000;
      assert.ok(error instanceof InvalidArgumentError, `${format}: ${error?.name}: ${error?.message}`);
      assert.equal(error.reason, 'DECOMPRESSED_TOO_LARGE', format);
      assert.equal(error.protoField, 'files.max_decompressed_bytes', format);
      assert.equal(error.field, 'files.max_decompressed_bytes', format);
      assert.equal(error.bound, `<= ${BOUND} bytes`, format);
      assert.match(error.message, new RegExp(`files.max_decompressed_bytes = ${BOUND} bytes`), format);
      console.log(`# ${format} bomb of ${bomb.length} bytes stopped after ${seconds.toFixed(2)} s`);
    }
    // The partial outputs were removed.
    assert.deepEqual(await readdir(blobRoot), []);

    // A request bound below the setting stops earlier and names the request field.
    const error = await rejectionOf(running.client.files.decompress(gzipMember, { maxOutputBytes: MiB }));
    assert.equal(error.protoField, 'max_output_bytes');
    assert.equal(error.bound, `<= ${MiB} bytes`);
  });
});
