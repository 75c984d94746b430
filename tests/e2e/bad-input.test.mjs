// Bad input through the real daemon: every case must fail with
// INVALID_ARGUMENT naming the field (and the bound, where a value broke one)
// and leave the daemon serving.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { InvalidArgumentError } from 'heavylift';

import { makeRandomBytes, PHOTOS, readJpegSize, rejectionOf, useDaemon } from './lib/helpers.mjs';

const MAX_INPUT_PIXELS = 1_000_000;
const MAX_MEMORY_COST_KIB = 65_536;

const GOOD_WIDTH = 320;

// Checks that `daemon` is alive, reports SERVING through `client` and
// thumbnails `goodJpeg`.
async function assertStillServing(daemon, client, goodJpeg) {
  assert.equal(daemon.process.exitCode, null, `daemon exited; logs:\n${daemon.logs()}`);
  assert.equal(await client.health(), 'SERVING');

  const result = await client.image.thumbnail({ input: goodJpeg, widths: [GOOD_WIDTH], format: 'jpeg' });
  assert.equal(result.thumbnails.length, 1);
  assert.equal(result.thumbnails[0].width, GOOD_WIDTH);
  assert.equal(readJpegSize(result.thumbnails[0].data).width, GOOD_WIDTH);
}

// Checks the parts of a daemon-sent INVALID_ARGUMENT that every case shares.
// A defined protoField shows the error came from the daemon, not from the
// SDK's own checks.
function assertDaemonInvalidArgument(error) {
  assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.codeName, 'INVALID_ARGUMENT');
  assert.ok(error.protoField, `error has no protoField, so the daemon did not send an ErrorDetail: ${error.message}`);
  assert.ok(error.reason, `error has no reason: ${error.message}`);
}

// Checks that the error names the bound that the input broke.
function assertHasBound(error) {
  assert.ok(error.bound, `error has no bound: ${error.message}`);
}

let blobRoot;
// A real photo scaled to 960x600, below MAX_INPUT_PIXELS, made by the first
// daemon and sent to both daemons as the good input.
let goodJpeg;

before(async () => {
  blobRoot = await mkdtemp(path.join(os.tmpdir(), 'heavylift-e2e-blobs-'));
  await writeFile(path.join(blobRoot, 'empty.jpg'), Buffer.alloc(0));
  await copyFile(PHOTOS.elephantsLarge, path.join(blobRoot, 'large.jpg'));
  await symlink(PHOTOS.dune, path.join(blobRoot, 'outside-link.jpg'));
});

after(async () => {
  if (blobRoot) {
    await rm(blobRoot, { recursive: true, force: true });
  }
});

describe('corrupt, empty and escaping input', () => {
  // blobRoot is made by the file's first before hook, so the flags are read in the daemon's hook.
  const running = useDaemon(() => ['--blob-root', blobRoot, '--crypto-argon2-max-memory-cost', String(MAX_MEMORY_COST_KIB)]);

  before(async () => {
    const result = await running.client.image.thumbnail({ input: await readFile(PHOTOS.dune), widths: [960] });
    goodJpeg = result.thumbnails[0].data;
    const size = readJpegSize(goodJpeg);
    assert.ok(size.width * size.height < MAX_INPUT_PIXELS, `good input is ${size.width}x${size.height}`);
  });

  test('photo header followed by garbage', async () => {
    const photo = await readFile(PHOTOS.aqua);
    const input = Buffer.concat([photo.subarray(0, 2048), makeRandomBytes(1)(200_000)]);

    const error = await rejectionOf(running.client.image.thumbnail({ input, widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.match(error.field, /^input(\.data)?$/);
    assert.equal(error.reason, 'CORRUPT_INPUT');
    assertHasBound(error);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  test('photo truncated mid-scan', async () => {
    const photo = await readFile(PHOTOS.aqua);
    const input = photo.subarray(0, 50_000);

    const error = await rejectionOf(running.client.image.thumbnail({ input, widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.match(error.field, /^input(\.data)?$/);
    assert.equal(error.reason, 'CORRUPT_INPUT');
    assertHasBound(error);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  test('JPEG SOI marker then random bytes', async () => {
    const input = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), makeRandomBytes(2)(50_000)]);

    const error = await rejectionOf(running.client.image.thumbnail({ input, widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.match(error.field, /^input(\.data)?$/);
    assert.match(error.reason, /^(CORRUPT_INPUT|UNSUPPORTED_FORMAT)$/);
    assertHasBound(error);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  test('zero-byte inline input', async () => {
    const error = await rejectionOf(running.client.image.thumbnail({ input: Buffer.alloc(0), widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.equal(error.field, 'input.data');
    assert.equal(error.reason, 'EMPTY');
    assertHasBound(error);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  test('zero-byte file under blob root', async () => {
    const error = await rejectionOf(running.client.image.thumbnail({ input: { path: 'empty.jpg' }, widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.equal(error.field, 'input.path');
    assert.equal(error.reason, 'EMPTY');
    assertHasBound(error);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  test('argon2 memory cost over bound', async () => {
    const error = await rejectionOf(
      running.client.crypto.argon2id.hash('correct horse battery staple', { memoryCost: 1_048_576 }),
    );

    assertDaemonInvalidArgument(error);
    assert.equal(error.field, 'memoryCost');
    assert.equal(error.protoField, 'memory_cost');
    assert.equal(error.reason, 'OUT_OF_RANGE');
    assertHasBound(error);
    assert.match(error.bound, new RegExp(`\\b${MAX_MEMORY_COST_KIB}\\b`));
    assert.match(error.value ?? '', /^1048576\b/);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  // The contract rejects `..` components, absolute paths outside the root and
  // symbolic links leaving it, whether or not the target exists.
  const escapingPaths = [
    { name: 'parent directory', path: '../etc/passwd' },
    { name: 'parent directory after a name', path: 'sub/../../etc/passwd' },
    { name: 'absolute path outside root', path: '/etc/passwd' },
    { name: 'symbolic link out of root', path: 'outside-link.jpg' },
  ];
  for (const { name, path: escapingPath } of escapingPaths) {
    test(`path escaping blob root: ${name}`, async () => {
      const error = await rejectionOf(running.client.image.thumbnail({ input: { path: escapingPath }, widths: [320] }));

      assertDaemonInvalidArgument(error);
      assert.equal(error.field, 'input.path');
      assert.equal(error.reason, 'PATH_OUTSIDE_ROOT');
      await assertStillServing(running.daemon, running.client, goodJpeg);
    });
  }
});

describe('input over pixel limit', () => {
  const running = useDaemon(() => ['--blob-root', blobRoot, '--image-max-input-pixels', String(MAX_INPUT_PIXELS)]);

  test('inline 5640x3172 photo', async () => {
    const input = await readFile(PHOTOS.elephantsLarge);

    const error = await rejectionOf(running.client.image.thumbnail({ input, widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.match(error.field, /^input(\.data)?$/);
    assertHasBound(error);
    assert.match(error.bound, /\b1000000\b/);
    assert.match(error.value ?? '', /\b17890080\b/);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });

  test('5640x3172 photo as file', async () => {
    const error = await rejectionOf(running.client.image.thumbnail({ input: { path: 'large.jpg' }, widths: [320] }));

    assertDaemonInvalidArgument(error);
    assert.match(error.field, /^input(\.path)?$/);
    assertHasBound(error);
    assert.match(error.bound, /\b1000000\b/);
    await assertStillServing(running.daemon, running.client, goodJpeg);
  });
});
