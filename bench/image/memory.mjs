// Measures the daemon's resident memory under a steady mixed image load with each allocator
// setting. glibc keeps one arena per thread and returns freed memory lazily, so libvips' large
// short-lived buffers can look like a leak. The release daemon is linked with jemalloc; the
// glibc settings need a daemon built with -DHEAVYLIFT_JEMALLOC=OFF, given as --glibc-bin.
// Prints RSS at the start of the load, at half time, at the end and the peak, the growth over
// the last half, and per quarter of the run the 10th percentile, median and maximum of the
// once-a-second RSS samples. One sample moves with the calls in flight at that second, so the
// medians of the third and fourth quarters are the steadier measure of growth.
// Usage: node image/memory.mjs [--seconds=120] [--concurrency=16] [--glibc-bin=PATH]
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

import { formatTable } from '../lib/report.mjs';
import { PHOTOS } from './cases.mjs';
import { peakRssBytes, rssBytes } from './rss.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.BENCH_MEMORY_SECONDS ?? '120' },
    concurrency: { type: 'string', default: '16' },
    bin: { type: 'string', default: process.env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift') },
    'glibc-bin': { type: 'string', default: process.env.HEAVYLIFT_GLIBC_BIN ?? '' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

// Allocator settings by name: the daemon binary and its extra environment.
const VARIANTS = { jemalloc: { bin: values.bin, env: {} } };
if (values['glibc-bin']) {
  VARIANTS.glibc = { bin: values['glibc-bin'], env: {} };
  VARIANTS['glibc, MALLOC_ARENA_MAX=2'] = { bin: values['glibc-bin'], env: { MALLOC_ARENA_MAX: '2' } };
} else {
  console.log('No --glibc-bin given: measuring the jemalloc daemon only.');
}

// The mixed load, in turn: eight renditions of a 1920 px photo, a thumbnail of a 5640 px
// photo, a rotate + blur to PNG, and an analysis.
function makeOperations(client, small, large) {
  return [
    () => client.image.transform({ input: small, outputs: [320, 640, 960, 1280].flatMap((width) => [{ format: 'webp', resize: { width } }, { format: 'jpeg', resize: { width } }]) }),
    () => client.image.transform({ input: large, outputs: [{ format: 'jpeg', resize: { width: 320 } }] }),
    () => client.image.transform({ input: small, operations: [{ rotate: { angle: 10 } }, { blur: { sigma: 2 } }], outputs: [{ format: 'png' }] }),
    () => client.image.analyze({ input: small }),
  ];
}

async function measure(name) {
  const daemon = await startDaemon({ bin: VARIANTS[name].bin, env: VARIANTS[name].env });
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 120_000 });
  const small = await readFile(PHOTOS.photo1920);
  const large = await readFile(PHOTOS.photo5640);
  const operations = makeOperations(client, small, large);
  const samples = [];
  let calls = 0;
  let failures = 0;
  const failureReasons = new Map();
  const endAt = Date.now() + seconds * 1000;
  const sampler = setInterval(() => samples.push(rssBytes(daemon.process.pid)), 1000);
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async (_, lane) => {
        for (let i = lane; Date.now() < endAt; i += concurrency) {
          try {
            await operations[i % operations.length]();
            calls += 1;
          } catch (error) {
            failures += 1;
            const reason = `${error?.name ?? 'Error'}: ${error?.message ?? error}`.slice(0, 160);
            failureReasons.set(reason, (failureReasons.get(reason) ?? 0) + 1);
          }
        }
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  const peak = peakRssBytes(daemon.process.pid);
  client.close();
  await daemon.stop();
  const half = samples[Math.floor(samples.length / 2)];
  const end = samples[samples.length - 1];
  const quarters = [0, 1, 2, 3].map((quarter) => quantiles(samples.slice(Math.floor((quarter * samples.length) / 4), Math.floor(((quarter + 1) * samples.length) / 4))));
  return { name, calls, failures, failureReasons, start: samples[0], half, end, peak, growth: (end - half) / half, quarters };
}

// Returns the 10th percentile, median and maximum of `values`.
function quantiles(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p10: at(0.1), median: at(0.5), max: sorted[sorted.length - 1] };
}

const rows = [];
for (const name of Object.keys(VARIANTS)) {
  rows.push(await measure(name));
}
const mib = (bytes) => bytes / 2 ** 20;
console.log(`${seconds} s of mixed image calls, ${concurrency} callers, per allocator setting:\n`);
console.log(
  formatTable(
    [
      { header: 'allocator', value: (row) => row.name },
      { header: 'calls', value: (row) => row.calls, digits: 0 },
      { header: 'failed', value: (row) => row.failures, digits: 0 },
      { header: 'RSS 1 s MiB', value: (row) => mib(row.start), digits: 0 },
      { header: 'RSS half MiB', value: (row) => mib(row.half), digits: 0 },
      { header: 'RSS end MiB', value: (row) => mib(row.end), digits: 0 },
      { header: 'peak MiB', value: (row) => mib(row.peak), digits: 0 },
      { header: 'growth 2nd half %', value: (row) => row.growth * 100, digits: 1 },
    ],
    rows,
  ),
);

for (const row of rows) {
  console.log(`\n${row.name}: RSS per quarter of the run (once-a-second samples), MiB:`);
  console.log(
    formatTable(
      [
        { header: 'quarter', value: (quarter) => quarter.index, digits: 0 },
        { header: 'p10', value: (quarter) => mib(quarter.p10), digits: 1 },
        { header: 'median', value: (quarter) => mib(quarter.median), digits: 1 },
        { header: 'max', value: (quarter) => mib(quarter.max), digits: 1 },
      ],
      row.quarters.map((quarter, index) => ({ index: index + 1, ...quarter })),
    ),
  );
  const [, , third, fourth] = row.quarters;
  console.log(`median growth from quarter 3 to quarter 4: ${(((fourth.median - third.median) / third.median) * 100).toFixed(1)}%`);
  for (const [reason, count] of row.failureReasons) {
    console.log(`failed ${count}x: ${reason}`);
  }
}
console.log(`load average at the end: ${os.loadavg().map((load) => load.toFixed(2)).join(', ')}`);
