// Every route of the reference MERN app's API against real FerretDB, Redis
// and heavylift: accounts (wrong password, rehash on a policy change, expired
// and forged tokens), uploads (real photos, oversized, not an image),
// background renditions, the near-duplicate warning, the dashboard's
// aggregates and the CSV profile.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { createClient } from 'heavylift';

import { PHOTOS, PHOTOS_DIR } from '../lib/helpers.mjs';
import { call, eventually, fileForm, signUp, startStack } from './lib.mjs';

const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
const ELEPHANTS = `${PHOTOS_DIR}/abstract/Elephants.jpg`;
const ELEPHANTS_4K = PHOTOS.elephants4k;

// Linear interpolation between closest ranks, as heavylift's quantiles compute it.
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

describe('mern-app API', () => {
  let stack;
  let alice;
  let bob;
  const uploads = [];

  before(async () => {
    stack = await startStack({ env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) } });
    alice = await signUp(stack, 'alice');
    bob = await signUp(stack, 'bob');
  });
  after(async () => {
    await stack?.close();
  });

  async function upload(session, file, name = file.split('/').pop()) {
    const answer = await call(stack, '/photos', { method: 'POST', token: session.token, form: fileForm('photo', await readFile(file), name, 'image/jpeg') });
    if (answer.status === 201) uploads.push({ user: session.user.name, bytes: answer.body.photo.bytes });
    return answer;
  }

  test('config and health routes', async () => {
    const config = await call(stack, '/config');
    assert.equal(config.status, 200);
    assert.equal(config.body.realtimeUrl, stack.config.realtimeUrl);
    const health = await call(stack, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.heavylift, 'SERVING');
  });

  test('sign-up input checks', async () => {
    const shortName = await call(stack, '/auth/signup', { method: 'POST', json: { name: 'x', password: 'long enough pw' } });
    assert.equal(shortName.status, 400);
    assert.equal(shortName.body.field, 'name');
    const shortPassword = await call(stack, '/auth/signup', { method: 'POST', json: { name: 'carol', password: 'short' } });
    assert.equal(shortPassword.status, 400);
    assert.match(shortPassword.body.error, /password must be 8 to 256 characters; got 5/);
    const taken = await call(stack, '/auth/signup', { method: 'POST', json: { name: 'alice', password: 'another password' } });
    assert.equal(taken.status, 409);
    const user = await stack.app.models.User.findOne({ name: 'alice' });
    assert.match(user.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test('log-in with right and wrong passwords', async () => {
    const ok = await call(stack, '/auth/login', { method: 'POST', json: { name: 'alice', password: 'correct horse battery' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.user.name, 'alice');
    assert.equal(ok.body.rehashed, undefined);
    const me = await call(stack, '/auth/me', { token: ok.body.token });
    assert.deepEqual(me.body.user, { id: alice.user.id, name: 'alice' });

    const wrong = await call(stack, '/auth/login', { method: 'POST', json: { name: 'alice', password: 'wrong horse battery' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'Wrong name or password.');
    const unknown = await call(stack, '/auth/login', { method: 'POST', json: { name: 'nobody', password: 'wrong horse battery' } });
    assert.deepEqual([unknown.status, unknown.body.error], [401, 'Wrong name or password.']);
    const short = await call(stack, '/auth/login', { method: 'POST', json: { name: 'alice', password: 'x' } });
    assert.deepEqual([short.status, short.body.error], [401, 'Wrong name or password.']);
    const empty = await call(stack, '/auth/login', { method: 'POST', json: { name: 'alice', password: '' } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.field, 'password');
  });

  test('rehash at log-in', async () => {
    const client = createClient({ address: stack.config.heavyliftAddress });
    try {
      const weak = await client.crypto.password.hash('old policy password', { algorithm: 'bcrypt', cost: 10 });
      await stack.app.models.User.create({ name: 'olduser', passwordHash: weak });
    } finally {
      client.close();
    }
    const login = await call(stack, '/auth/login', { method: 'POST', json: { name: 'olduser', password: 'old policy password' } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.ok(login.body.rehashed, 'the answer says why the hash was replaced');
    const user = await stack.app.models.User.findOne({ name: 'olduser' });
    assert.match(user.passwordHash, /^\$argon2id\$/);
    const again = await call(stack, '/auth/login', { method: 'POST', json: { name: 'olduser', password: 'old policy password' } });
    assert.equal(again.status, 200);
    assert.equal(again.body.rehashed, undefined);
  });

  test('expired, forged and missing tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = stack.signToken({ sub: alice.user.id, name: 'alice', exp: now - 600, iat: now - 1200 });
    const answer = await call(stack, '/photos', { token: expired });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.reason, 'EXPIRED');
    assert.equal(answer.body.error, 'Your session expired; log in again.');

    const [header, , signature] = alice.token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: bob.user.id, name: 'bob', exp: now + 600 })).toString('base64url')}.${signature}`;
    const refused = await call(stack, '/photos', { token: forged });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.reason, 'BAD_SIGNATURE');

    const missing = await call(stack, '/photos');
    assert.equal(missing.status, 401);
    assert.match(missing.body.error, /Log in first/);
  });

  test('photo upload over gRPC', async () => {
    const answer = await upload(alice, PHOTOS.dune);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const { photo } = answer.body;
    assert.equal(photo.filename, 'Dune.jpg');
    assert.equal(photo.bytes, (await stat(PHOTOS.dune)).size);
    assert.deepEqual([photo.width, photo.height], [1680, 1050]);
    assert.match(photo.blurhash, /^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{6,}$/);
    assert.match(photo.phash, /^[0-9a-f]{16}$/);
    assert.deepEqual(photo.renditions.map((r) => [r.format, r.width, r.height, r.via]), [['jpeg', 320, 200, 'grpc'], ['webp', 320, 200, 'grpc']]);
    assert.equal(photo.storedPath, undefined, 'the blob path stays on the server');
    for (const rendition of photo.renditions) {
      const image = await fetch(`${stack.url}${rendition.url}`);
      assert.equal(image.status, 200);
      assert.equal(image.headers.get('content-type'), rendition.format === 'webp' ? 'image/webp' : 'image/jpeg');
    }
    assert.deepEqual(photo.nearDuplicates, []);
    assert.equal(photo.jobs.length, 2);
  });

  test('background renditions by BullMQ jobs', async () => {
    const listed = await call(stack, '/photos', { token: bob.token });
    const id = listed.body.photos.find((photo) => photo.filename === 'Dune.jpg').id;
    const photo = await eventually(async () => {
      const { body } = await call(stack, `/photos/${id}`, { token: bob.token });
      return body.photo.renditions.length === 6 && body.photo;
    }, 'the background renditions');
    const fromJobs = photo.renditions.filter((r) => r.via === 'job').map((r) => `${r.format} ${r.width}x${r.height}`).sort();
    assert.deepEqual(fromJobs, ['jpeg 1280x800', 'jpeg 640x400', 'webp 1280x800', 'webp 640x400']);
    assert.deepEqual(photo.jobs.map((job) => job.state), ['completed', 'completed']);
    const big = await fetch(`${stack.url}${photo.renditions.find((r) => r.width === 1280 && r.format === 'jpeg').url}`);
    assert.equal(big.status, 200);

    const again = await call(stack, `/photos/${id}/renditions`, { method: 'POST', token: bob.token });
    assert.equal(again.status, 202);
    assert.equal(again.body.jobs.length, 2);
    const missing = await call(stack, '/photos/0123456789abcdef01234567', { token: bob.token });
    assert.equal(missing.status, 404);
    const malformed = await call(stack, '/photos/not-an-id/renditions', { method: 'POST', token: bob.token });
    assert.equal(malformed.status, 404);
  });

  test('near-duplicate warning', async () => {
    const first = await upload(bob, ELEPHANTS);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const second = await upload(alice, ELEPHANTS_4K);
    assert.equal(second.status, 201, JSON.stringify(second.body));
    const [match] = second.body.photo.nearDuplicates;
    assert.equal(match?.filename, 'Elephants.jpg', JSON.stringify(second.body.photo.nearDuplicates));
    assert.ok(match.distance <= 10, `distance ${match.distance}`);
    assert.ok(!second.body.photo.nearDuplicates.some((other) => other.filename === 'Dune.jpg'));
  });

  test('upload of a rotated photo', async () => {
    // Aqua.jpg (2560x1600) tagged with EXIF orientation 6: shown rotated by 90 degrees.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-mern-exif-'));
    try {
      const rotated = path.join(dir, 'rotated.jpg');
      await copyFile(PHOTOS.aqua, rotated);
      await promisify(execFile)('exiftool', ['-q', '-overwrite_original', '-n', '-Orientation=6', rotated]);
      const answer = await upload(bob, rotated);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const { photo } = answer.body;
      assert.deepEqual([photo.width, photo.height], [1600, 2560]);
      assert.deepEqual(photo.renditions.map((r) => [r.width, r.height]), [[320, 512], [320, 512]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('oversized upload', async () => {
    const before = await stack.app.models.Photo.countDocuments();
    const answer = await upload(alice, PHOTOS.elephantsLarge);
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error, `The file is larger than the limit of ${MAX_UPLOAD_BYTES} bytes.`);
    assert.equal(await stack.app.models.Photo.countDocuments(), before);
  });

  test('non-image upload', async () => {
    const answer = await call(stack, '/photos', { method: 'POST', token: alice.token, form: fileForm('photo', Buffer.from('just some text\n'.repeat(20)), 'fake.jpg', 'image/jpeg') });
    assert.equal(answer.status, 415);
    assert.equal(answer.body.error, 'The file is not an image: heavylift sniffed text/plain.');
    const noFile = await call(stack, '/photos', { method: 'POST', token: alice.token, form: fileForm('other', Buffer.from('x'), 'x.jpg') });
    assert.equal(noFile.status, 400);
    const notMultipart = await call(stack, '/photos', { method: 'POST', token: alice.token, json: { photo: 'x' } });
    assert.equal(notMultipart.status, 400);
  });

  test('dashboard aggregates', async () => {
    const answer = await call(stack, '/stats', { token: bob.token });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const stats = answer.body;
    const sizes = uploads.map((upload) => upload.bytes);
    assert.equal(stats.uploads, uploads.length);
    assert.equal(stats.p95UploadBytes, quantile(sizes, 0.95));
    assert.equal(stats.medianUploadBytes, quantile(sizes, 0.5));
    assert.equal(stats.uploaders, 2);
    assert.deepEqual(stats.topUploaders, [{ name: 'alice', uploads: 2 }, { name: 'bob', uploads: 2 }]);
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(stats.uploadsPerDay.map((day) => [day.day, day.uploads]), [[today, uploads.length]]);
    assert.equal(stats.uploadsPerDay[0].bytes, sizes.reduce((a, b) => a + b, 0));
    assert.equal(stats.eventsByType.signup, 2);
    assert.equal(stats.recordsRejected, 0);
  });

  test('CSV profile', async () => {
    const csv = 'city,visitors,rating\nLyon,120,4.5\nOslo,98,\nLima,143,3.9\nOslo,77,4.1\n';
    const answer = await call(stack, '/csv', { method: 'POST', token: alice.token, form: fileForm('file', Buffer.from(csv), 'visits.csv', 'text/csv') });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { profile } = answer.body;
    assert.equal(profile.rows, 4);
    assert.deepEqual(profile.columns.map((column) => [column.name, column.type]), [['city', 'string'], ['visitors', 'integer'], ['rating', 'number']]);
    const visitors = profile.columns[1];
    assert.equal(visitors.mean, (120 + 98 + 143 + 77) / 4);
    assert.equal(profile.columns[2].nullCount, 1);
    assert.deepEqual(profile.columns[0].topValues[0], { value: 'Oslo', count: 2 });

    const photo = await call(stack, '/csv', { method: 'POST', token: alice.token, form: fileForm('file', await readFile(PHOTOS.aqua), 'aqua.csv', 'text/csv') });
    assert.equal(photo.status, 415);
    assert.equal(photo.body.error, 'The file is not CSV: heavylift sniffed image/jpeg.');
  });

  test('activity list and unknown routes', async () => {
    const answer = await call(stack, '/activity', { token: alice.token });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.events[0].type, 'csv');
    assert.ok(answer.body.events.filter((event) => event.type === 'upload').length >= 3);
    const unknown = await call(stack, '/nothing-here', { token: alice.token });
    assert.equal(unknown.status, 404);
  });

  test('no errors logged by the app', () => {
    assert.deepEqual(stack.logLines, []);
  });
});
