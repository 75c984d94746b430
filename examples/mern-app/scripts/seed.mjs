// Seeds a running app through its own HTTP API with a demo user, a few real
// photos and a CSV. Two of the photos are the same picture at different sizes,
// to show the near-duplicate warning. Then waits for the background renditions
// and prints the dashboard's numbers. Exits 1 when a check fails.
// Usage: node scripts/seed.mjs http://127.0.0.1:PORT
import { openAsBlob } from 'node:fs';
import path from 'node:path';

const base = process.argv[2];
if (!base) {
  console.error('usage: node scripts/seed.mjs APP_URL');
  process.exit(2);
}
const PHOTOS_DIR = process.env.DEMO_PHOTOS ?? '/usr/share/backgrounds/mate';
const PHOTOS = ['nature/Dune.jpg', 'nature/LadyBird.jpg', 'nature/Storm.jpg', 'abstract/Elephants.jpg', 'abstract/Elephants_3840x2160.jpg'];
const USER = { name: process.env.DEMO_USER ?? 'demo', password: process.env.DEMO_PASSWORD ?? 'demo-password' };
const RENDITIONS_TIMEOUT_MS = Number(process.env.DEMO_RENDITIONS_TIMEOUT_MS ?? 120_000);

async function call(route, { method = 'GET', json, form, token } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  if (json) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}/api${route}`, { method, headers, body: json ? JSON.stringify(json) : form });
  const body = await response.json();
  return { status: response.status, body };
}

function check(condition, message) {
  if (!condition) {
    console.error(`seed: check failed: ${message}`);
    process.exit(1);
  }
}

let session = await call('/auth/signup', { method: 'POST', json: USER });
if (session.status === 409) session = await call('/auth/login', { method: 'POST', json: USER });
check(session.status === 200 || session.status === 201, `sign-up or log-in answered ${session.status} ${JSON.stringify(session.body)}`);
const { token } = session.body;
console.log(`seed: user ${USER.name} (password ${USER.password})`);

const uploaded = [];
for (const file of PHOTOS) {
  const form = new FormData();
  form.append('photo', await openAsBlob(path.join(PHOTOS_DIR, file), { type: 'image/jpeg' }), path.basename(file));
  const started = performance.now();
  const answer = await call('/photos', { method: 'POST', form, token });
  check(answer.status === 201, `upload of ${file} answered ${answer.status} ${JSON.stringify(answer.body)}`);
  const { photo } = answer.body;
  uploaded.push(photo.id);
  const duplicate = photo.nearDuplicates[0];
  console.log(
    `seed: uploaded ${file} (${photo.width}x${photo.height}, ${(photo.bytes / 1024).toFixed(0)} KiB) in ${(performance.now() - started).toFixed(0)} ms` +
      `, blurhash ${photo.blurhash}${duplicate ? `, near-duplicate of ${duplicate.filename} (${duplicate.distance} bits)` : ''}`,
  );
}

const csv = 'city,day,visitors,rating\nLyon,2026-01-02,120,4.5\nOslo,2026-01-03,98,\nLima,2026-01-04,143,3.9\nOslo,2026-01-05,77,4.1\n';
const csvForm = new FormData();
csvForm.append('file', new Blob([csv], { type: 'text/csv' }), 'visits.csv');
const profiled = await call('/csv', { method: 'POST', form: csvForm, token });
check(profiled.status === 200, `CSV import answered ${profiled.status} ${JSON.stringify(profiled.body)}`);
console.log(`seed: CSV profile: ${profiled.body.profile.columns.map((column) => `${column.name}:${column.type}`).join(', ')}`);

// Each photo gets 2 thumbnails over gRPC and 4 from the BullMQ jobs.
const deadline = Date.now() + RENDITIONS_TIMEOUT_MS;
for (;;) {
  const { body } = await call('/photos', { token });
  const ours = body.photos.filter((photo) => uploaded.includes(photo.id));
  const done = ours.filter((photo) => photo.renditions.length >= 6).length;
  if (done === uploaded.length) {
    console.log(`seed: background renditions done for ${done} photos`);
    break;
  }
  check(Date.now() < deadline, `background renditions: ${done} of ${uploaded.length} photos done after ${RENDITIONS_TIMEOUT_MS} ms`);
  await new Promise((resolve) => setTimeout(resolve, 500));
}

const stats = await call('/stats', { token });
check(stats.status === 200, `dashboard answered ${stats.status} ${JSON.stringify(stats.body)}`);
check(stats.body.uploads >= PHOTOS.length, `dashboard counts ${stats.body.uploads} uploads, expected at least ${PHOTOS.length}`);
console.log(
  `seed: dashboard: ${stats.body.uploads} uploads, p95 size ${(stats.body.p95UploadBytes / 1024).toFixed(0)} KiB, ` +
    `top uploaders ${stats.body.topUploaders.map((top) => `${top.name} (${top.uploads})`).join(', ')}`,
);
