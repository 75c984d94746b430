// Renders every photo under DEMO_PHOTOS at several widths in JPEG and WebP
// through a running heavylift daemon, one image.transform call (one decode)
// per photo, then hashes and verifies a password with argon2id, and prints a
// summary.
//
// Environment:
//   HEAVYLIFT_ADDRESS  daemon gRPC address (default 127.0.0.1:50051)
//   DEMO_PHOTOS        folder searched recursively for .jpg, .jpeg and .png
//                      (default /usr/share/backgrounds/mate)
//   DEMO_OUT           output folder (default out/thumbnails at the repository root)
// Exits 1 when any call fails or returns an unexpected result.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { createClient } from 'heavylift';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ADDRESS = process.env.HEAVYLIFT_ADDRESS || '127.0.0.1:50051';
const PHOTOS_DIR = process.env.DEMO_PHOTOS || '/usr/share/backgrounds/mate';
const OUT_DIR = process.env.DEMO_OUT || path.join(REPO_ROOT, 'out', 'thumbnails');

const WIDTHS = [320, 640, 1280];
const FORMATS = [
  { name: 'jpeg', extension: 'jpg' },
  { name: 'webp', extension: 'webp' },
];
const CONCURRENCY = 4;

async function findPhotos(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(jpe?g|png)$/i.test(entry.name))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

// Runs `worker` over `items` with at most `limit` calls in flight, keeping order.
async function mapWithConcurrency(items, limit, worker) {
  const results = new Array(items.length);
  let next = 0;
  async function runLane() {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await worker(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runLane));
  return results;
}

// Prints one progress line per finished photo on stderr, rewriting a single
// line when stderr is a terminal.
function reportProgress(finished, total, row) {
  const text = `  ${finished}/${total} ${row.error ? 'FAILED' : 'done'}: ${row.photo}`;
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${text}${finished === total ? '\n\n' : ''}`);
  } else {
    process.stderr.write(`${text}\n`);
  }
}

// Renders one photo at every width in every format with one transform call,
// writes the files and returns a summary row. A failure is returned in the
// row, so the other photos still run.
async function thumbnailPhoto(client, file) {
  const relative = path.relative(PHOTOS_DIR, file);
  const row = { photo: relative, sourceBytes: 0, outputs: 0, outputBytes: 0, ms: 0, error: undefined };
  try {
    const input = await readFile(file);
    row.sourceBytes = input.length;
    const outputStem = path.join(OUT_DIR, relative.replace(/\.[^.]+$/, ''));
    await mkdir(path.dirname(outputStem), { recursive: true });

    // Widths never enlarge the photo, as thumbnails should not.
    const requested = FORMATS.flatMap((format) =>
      WIDTHS.map((width) => ({ format, width, output: { format: format.name, quality: 80, resize: { width, withoutEnlargement: true } } })),
    );
    const startMs = performance.now();
    const result = await client.image.transform({ input, outputs: requested.map((entry) => entry.output) });
    row.ms = performance.now() - startMs;
    row.source = `${result.source.width}x${result.source.height} ${result.source.format}`;

    checkOutputs(result, requested);
    for (const [i, image] of result.outputs.entries()) {
      await writeFile(`${outputStem}-${requested[i].width}.${requested[i].format.extension}`, image.data);
      row.outputs += 1;
      row.outputBytes += image.data.length;
    }
  } catch (error) {
    row.error = error.codeName ? `${error.codeName}: ${error.message}` : error.message;
  }
  return row;
}

function checkOutputs(result, requested) {
  if (result.outputs.length !== requested.length) {
    throw new Error(`expected ${requested.length} outputs, got ${result.outputs.length}`);
  }
  result.outputs.forEach((image, i) => {
    const { format, width } = requested[i];
    if (image.format !== format.name || image.data.length === 0) {
      throw new Error(`output ${i} is ${image.data.length} bytes of ${image.format}, expected ${format.name}`);
    }
    if (image.width < 1 || image.width > width) {
      throw new Error(`output ${i} is ${image.width} pixels wide, expected at most ${width}`);
    }
  });
}

// Hashes a password and verifies it with the right and a wrong password.
async function runArgon2id(client) {
  const password = 'correct horse battery staple';
  const timings = {};
  let startMs = performance.now();
  const hash = await client.crypto.argon2id.hash(password);
  timings.hashMs = performance.now() - startMs;

  startMs = performance.now();
  const rightMatches = await client.crypto.argon2id.verify(hash, password);
  timings.verifyRightMs = performance.now() - startMs;

  startMs = performance.now();
  const wrongMatches = await client.crypto.argon2id.verify(hash, 'incorrect horse battery staple');
  timings.verifyWrongMs = performance.now() - startMs;

  const problems = [];
  if (!rightMatches) {
    problems.push('verify returned false for the right password');
  }
  if (wrongMatches) {
    problems.push('verify returned true for a wrong password');
  }
  return { hash, rightMatches, wrongMatches, ...timings, problems };
}

function printPhotoTable(rows) {
  const header = ['photo', 'source bytes', 'source', 'outputs', 'output bytes', 'ms'];
  const lines = rows.map((row) => [
    row.photo,
    formatBytes(row.sourceBytes),
    row.error ? `FAILED: ${row.error}` : row.source,
    String(row.outputs),
    formatBytes(row.outputBytes),
    row.ms.toFixed(0),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
  // The first and third columns are text, and the others are numbers aligned right.
  const format = (cells) =>
    cells.map((cell, i) => (i === 0 || i === 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) {
    console.log(format(line).trimEnd());
  }
}

function formatBytes(bytes) {
  if (bytes >= 2 ** 20) {
    return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  }
  return `${(bytes / 2 ** 10).toFixed(0)} KiB`;
}

async function main() {
  const photos = await findPhotos(PHOTOS_DIR);
  if (photos.length === 0) {
    throw new Error(`no .jpg, .jpeg or .png files found under ${PHOTOS_DIR}; set DEMO_PHOTOS`);
  }
  await mkdir(OUT_DIR, { recursive: true });

  const client = createClient({ address: ADDRESS, deadlineMs: 30_000 });
  try {
    const health = await client.health();
    if (health !== 'SERVING') {
      throw new Error(`daemon at ${ADDRESS} reports ${health}, expected SERVING`);
    }
    console.log(`heavylift at ${ADDRESS}: ${photos.length} photos from ${PHOTOS_DIR}`);
    console.log(
      `widths ${WIDTHS.join(', ')} in ${FORMATS.map((format) => format.name).join(' and ')} from one call per photo, ` +
        `${CONCURRENCY} photos in flight\n`,
    );

    const startMs = performance.now();
    let finished = 0;
    const rows = await mapWithConcurrency(photos, CONCURRENCY, async (file) => {
      const row = await thumbnailPhoto(client, file);
      finished += 1;
      reportProgress(finished, photos.length, row);
      return row;
    });
    const wallSeconds = (performance.now() - startMs) / 1000;
    printPhotoTable(rows);

    const failedRows = rows.filter((row) => row.error);
    const sourceBytes = rows.reduce((total, row) => total + row.sourceBytes, 0);
    const outputBytes = rows.reduce((total, row) => total + row.outputBytes, 0);
    const outputs = rows.reduce((total, row) => total + row.outputs, 0);
    console.log(
      `\nTotal: ${rows.length - failedRows.length}/${rows.length} photos, ${outputs} thumbnails, ` +
        `${formatBytes(sourceBytes)} in, ${formatBytes(outputBytes)} out, in ${wallSeconds.toFixed(2)} s ` +
        `(${(rows.length / wallSeconds).toFixed(1)} photos/s, ${(outputs / wallSeconds).toFixed(1)} thumbnails/s)`,
    );
    console.log(`Thumbnails written to ${OUT_DIR}`);

    const argon2 = await runArgon2id(client);
    console.log(
      `\nargon2id (daemon defaults): hash ${argon2.hashMs.toFixed(0)} ms, ` +
        `verify right password ${argon2.verifyRightMs.toFixed(0)} ms (match: ${argon2.rightMatches}), ` +
        `verify wrong password ${argon2.verifyWrongMs.toFixed(0)} ms (match: ${argon2.wrongMatches})`,
    );
    // The PHC string up to its parameters: algorithm, version and m, t, p.
    console.log(`  ${argon2.hash.split('$').slice(0, 4).join('$')}$...`);

    const problems = [...failedRows.map((row) => `${row.photo}: ${row.error}`), ...argon2.problems];
    if (problems.length > 0) {
      console.error(`\n${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
      process.exitCode = 1;
    }
  } finally {
    client.close();
  }
}

try {
  await main();
} catch (error) {
  const code = error.codeName ? `${error.codeName}: ` : '';
  console.error(`demo failed: ${code}${error.message}`);
  if (error.codeName === 'UNAVAILABLE') {
    console.error(`Check that heavylift is running at ${ADDRESS}, or set HEAVYLIFT_ADDRESS.`);
  }
  process.exitCode = 1;
}
