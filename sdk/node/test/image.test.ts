// image.thumbnail against a real daemon, on photos from Debian's mate-backgrounds package.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createClient, InvalidArgumentError, type HeavyliftClient, type ThumbnailResult } from 'heavylift';

import { findPhotos, jpegSize, photoSkipReason, useDaemon, webpSize, type ImageSize } from './support';

const skip = photoSkipReason();
if (skip) {
  console.log(`# Skipping image tests: ${skip}`);
}

// Created when the file loads, because the daemon's flags name it.
const blobRoot = mkdtempSync(join(tmpdir(), 'heavylift-blobs-'));

describe('image.thumbnail with a daemon', () => {
  const fixture = useDaemon(['--blob-root', blobRoot]);
  let client: HeavyliftClient;
  let photo: Buffer;
  let photoSize: ImageSize;

  after(async () => {
    client?.close();
    await rm(blobRoot, { recursive: true, force: true });
  });

  before(async () => {
    client = createClient({ address: fixture.daemon.grpcAddress });
    if (!skip) {
      const photoPath = findPhotos()[0]!;
      photo = await readFile(photoPath);
      photoSize = jpegSize(photo);
      await copyFile(photoPath, join(blobRoot, 'photo.jpg'));
    }
  });

  /** Returns the source size as seen after auto-orientation: EXIF orientations 5..8 swap the axes. */
  function uprightSize(result: ThumbnailResult): ImageSize {
    const swapped = result.orientation >= 5 && result.orientation <= 8;
    return swapped ? { width: result.sourceHeight, height: result.sourceWidth } : { width: result.sourceWidth, height: result.sourceHeight };
  }

  function assertAspectHeight(height: number, width: number, source: ImageSize): void {
    const expected = (width * source.height) / source.width;
    assert.ok(Math.abs(height - expected) <= 1, `height ${height} for width ${width} should be about ${expected.toFixed(1)}`);
  }

  describe('image.thumbnail', { skip }, () => {
    test('one JPEG thumbnail from bytes', async () => {
      const result = await client.image.thumbnail({ input: photo, widths: [320] });

      assert.equal(result.sourceFormat, 'jpeg');
      assert.equal(result.sourceWidth, photoSize.width);
      assert.equal(result.sourceHeight, photoSize.height);
      assert.ok(result.orientation >= 1, `orientation ${result.orientation} should be at least 1`);
    assert.ok(result.orientation <= 8, `orientation ${result.orientation} should be at most 8`);
      assert.equal(result.thumbnails.length, 1);

      const [thumbnail] = result.thumbnails;
      assert.equal(thumbnail!.format, 'jpeg');
      assert.ok(Buffer.isBuffer(thumbnail!.data));
      assert.deepEqual([...thumbnail!.data.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic bytes');
      assert.equal(thumbnail!.width, 320);
      assert.deepEqual(jpegSize(thumbnail!.data), { width: thumbnail!.width, height: thumbnail!.height });
      assertAspectHeight(thumbnail!.height, 320, uprightSize(result));
    });

    test('several WebP widths from one call', async () => {
      const widths = [640, 160, 320];
      const result = await client.image.thumbnail({ input: { data: photo }, widths, format: 'webp', quality: 60 });

      assert.deepEqual(
        result.thumbnails.map((thumbnail) => thumbnail.width),
        widths,
        'one thumbnail per width, in request order',
      );
      for (const thumbnail of result.thumbnails) {
        assert.equal(thumbnail.format, 'webp');
        assert.equal(thumbnail.data.toString('latin1', 0, 4), 'RIFF');
        assert.equal(thumbnail.data.toString('latin1', 8, 12), 'WEBP');
        assert.deepEqual(webpSize(thumbnail.data), { width: thumbnail.width, height: thumbnail.height });
        assertAspectHeight(thumbnail.height, thumbnail.width, uprightSize(result));
      }
    });

    test('lower quality gives a smaller JPEG', async () => {
      const low = await client.image.thumbnail({ input: photo, widths: [640], quality: 20 });
      const high = await client.image.thumbnail({ input: photo, widths: [640], quality: 95 });

      assert.ok(low.thumbnails[0]!.data.length < high.thumbnails[0]!.data.length);
    });

    test('width above the source is not enlarged', async () => {
      const result = await client.image.thumbnail({ input: photo, widths: [photoSize.width + 500] });

      assert.equal(result.thumbnails[0]!.width, uprightSize(result).width);
    });

    test('blob path under the blob root', async () => {
      const fromPath = await client.image.thumbnail({ input: { path: 'photo.jpg' }, widths: [200] });
      const fromBytes = await client.image.thumbnail({ input: photo, widths: [200] });

      assert.equal(fromPath.sourceWidth, photoSize.width);
      assert.equal(fromPath.sourceHeight, photoSize.height);
      assert.equal(fromPath.thumbnails[0]!.width, 200);
      assert.deepEqual(fromPath.thumbnails[0]!.data, fromBytes.thumbnails[0]!.data);
    });

    test('blob path outside the root is rejected', async () => {
      await assert.rejects(client.image.thumbnail({ input: { path: '../../../../etc/hostname' }, widths: [200] }), (error) => {
        assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
        assert.equal(error.field, 'input.path');
        assert.equal(error.protoField, 'input.path');
        assert.equal(error.reason, 'PATH_OUTSIDE_ROOT');
        return true;
      });
    });

    test('corrupt input is InvalidArgumentError', async () => {
      const corrupt = Buffer.concat([photo.subarray(0, 2), Buffer.alloc(512, 0x42)]);
      await assert.rejects(client.image.thumbnail({ input: corrupt, widths: [200] }), (error) => {
        assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(error)}`);
        assert.match(error.field ?? '', /^input\b/);
        assert.match(error.reason ?? '', /^[A-Z_]+$/);
        return true;
      });
    });

    test('text file under the blob root is rejected', async () => {
      await writeFile(join(blobRoot, 'notes.txt'), 'not an image\n');
      await assert.rejects(client.image.thumbnail({ input: { path: 'notes.txt' }, widths: [200] }), InvalidArgumentError);
    });
  });
});
