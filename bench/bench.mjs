// Benchmarks heavylift against the same work done in this Node process with
// sharp and argon2, and records how much each side delays the event loop.
// Usage: npm run bench [-- --concurrency=4 --thumbnail-ops=320 ...]
// (every flag also has a BENCH_* environment variable, see readOptions).
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';
import sharp from 'sharp';

import { formatRatio, formatTable } from './lib/report.mjs';
import { LOOP_DELAY_RESOLUTION_MS, measureIdleLoopDelay, runClosedLoop } from './lib/run.mjs';
import {
  makeHeavyliftArgon2,
  makeHeavyliftThumbnail,
  makeNodeArgon2,
  makeSharpThumbnail,
} from './lib/workloads.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..');

// OWASP Password Storage Cheat Sheet's minimum for argon2id, also the daemon's default.
const ARGON2_PARAMETERS = { memoryCost: 19456, timeCost: 2, parallelism: 1, hashLength: 32 };

function readOptions() {
  const env = process.env;
  const { values } = parseArgs({
    options: {
      concurrency: { type: 'string', default: env.BENCH_CONCURRENCY ?? '4' },
      'thumbnail-ops': { type: 'string', default: env.BENCH_THUMBNAIL_OPS ?? '320' },
      'argon2-ops': { type: 'string', default: env.BENCH_ARGON2_OPS ?? '400' },
      'max-seconds': { type: 'string', default: env.BENCH_MAX_SECONDS ?? '30' },
      'warmup-ops': { type: 'string', default: env.BENCH_WARMUP_OPS ?? '8' },
      widths: { type: 'string', default: env.BENCH_WIDTHS ?? '320,640' },
      quality: { type: 'string', default: env.BENCH_QUALITY ?? '80' },
      photos: { type: 'string', default: env.BENCH_PHOTOS ?? '/usr/share/backgrounds/mate' },
      out: { type: 'string', default: env.BENCH_OUT ?? path.join(REPO_ROOT, 'out', 'bench') },
      bin: {
        type: 'string',
        default: env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift'),
      },
      'daemon-args': { type: 'string', default: env.BENCH_DAEMON_ARGS ?? '' },
    },
  });

  return {
    concurrency: parsePositiveInteger('concurrency', values.concurrency),
    thumbnailOps: parsePositiveInteger('thumbnail-ops', values['thumbnail-ops']),
    argon2Ops: parsePositiveInteger('argon2-ops', values['argon2-ops']),
    maxSeconds: parsePositiveInteger('max-seconds', values['max-seconds']),
    warmupOps: parsePositiveInteger('warmup-ops', values['warmup-ops']),
    widths: values.widths.split(',').map((width) => parsePositiveInteger('widths', width)),
    quality: parsePositiveInteger('quality', values.quality),
    photosDir: values.photos,
    outDir: values.out,
    bin: values.bin,
    daemonArgs: values['daemon-args'].split(/\s+/).filter(Boolean),
  };
}

function parsePositiveInteger(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`invalid --${name} value "${text}": expected a positive integer`);
  }
  return value;
}

// Reads every .jpg under `dir` into memory, sorted by path so runs are repeatable.
async function loadJpegPhotos(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && /\.jpe?g$/i.test(entry.name))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .sort();
  if (files.length === 0) {
    throw new Error(`no .jpg photos found under ${dir}; set BENCH_PHOTOS or --photos`);
  }
  return Promise.all(
    files.map(async (file) => ({ name: path.relative(dir, file), data: await readFile(file) })),
  );
}

function describeMachine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    logicalCpus: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    // Other work on the machine skews every number here, so the run records it.
    loadAverage1mAtStart: os.loadavg()[0],
  };
}

// Runs one operation a few times so lazy set-up (connections, thread pools,
// codec tables) is not counted in the measured run.
async function warmUp(operation, count) {
  for (let i = 0; i < count; i += 1) {
    await operation(i);
  }
}

async function measurePair({ title, heavylift, node, nodeLabel, maxOps, options }) {
  const runOptions = { concurrency: options.concurrency, maxOps, maxSeconds: options.maxSeconds };

  process.stdout.write(`${title}: warming up... `);
  await warmUp(heavylift.operation, options.warmupOps);
  await warmUp(node.operation, options.warmupOps);
  // Count output bytes of the measured runs only.
  for (const side of [heavylift, node]) {
    if (side.tally) {
      side.tally.outputBytes = 0;
    }
  }

  process.stdout.write('heavylift... ');
  const heavyliftResult = await runClosedLoop({ operation: heavylift.operation, ...runOptions });
  process.stdout.write(`${nodeLabel}... `);
  const nodeResult = await runClosedLoop({ operation: node.operation, ...runOptions });
  process.stdout.write('done\n');

  return {
    title,
    heavylift: { side: 'heavylift', ...heavyliftResult, ...heavylift.tally },
    node: { side: nodeLabel, ...nodeResult, ...node.tally },
  };
}

function printResults(results, idleLoopDelay) {
  const rows = results.flatMap((pair) => [
    { title: pair.title, ...pair.heavylift },
    { title: '', ...pair.node },
  ]);
  const columns = [
    { header: 'workload', value: (row) => row.title },
    { header: 'side', value: (row) => row.side },
    { header: 'ok', value: (row) => row.ok, digits: 0 },
    { header: 'failed', value: (row) => row.failed, digits: 0 },
    { header: 'ops/s', value: (row) => row.opsPerSecond },
    { header: 'p50 ms', value: (row) => row.latencyMs.p50 },
    { header: 'p99 ms', value: (row) => row.latencyMs.p99 },
    { header: 'loop p50 ms', value: (row) => row.eventLoopDelayMs.p50, digits: 2 },
    { header: 'loop p99 ms', value: (row) => row.eventLoopDelayMs.p99, digits: 2 },
    { header: 'loop max ms', value: (row) => row.eventLoopDelayMs.max, digits: 2 },
  ];
  console.log(`\n${formatTable(columns, rows)}\n`);

  console.log('heavylift / Node (throughput: above 1 favors heavylift; latency and event-loop delay: below 1 does):');
  for (const pair of results) {
    const heavylift = pair.heavylift;
    const node = pair.node;
    console.log(
      `  ${pair.title}: throughput ${formatRatio(heavylift.opsPerSecond, node.opsPerSecond)}, ` +
        `p50 ${formatRatio(heavylift.latencyMs.p50, node.latencyMs.p50)}, ` +
        `p99 ${formatRatio(heavylift.latencyMs.p99, node.latencyMs.p99)}, ` +
        `event-loop p99 ${formatRatio(heavylift.eventLoopDelayMs.p99, node.eventLoopDelayMs.p99)}`,
    );
  }
  for (const pair of results) {
    for (const side of [pair.heavylift, pair.node]) {
      if (side.outputBytes !== undefined) {
        console.log(`  ${pair.title}, ${side.side}: ${(side.outputBytes / 2 ** 20).toFixed(1)} MiB of thumbnails`);
      }
    }
  }
  console.log(
    `\nIdle event loop (same histogram, nothing running): p50 ${idleLoopDelay.p50.toFixed(2)} ms, ` +
      `p99 ${idleLoopDelay.p99.toFixed(2)} ms, max ${idleLoopDelay.max.toFixed(2)} ms`,
  );
}

async function main() {
  const options = readOptions();
  const photos = await loadJpegPhotos(options.photosDir);
  const photoBytes = photos.reduce((total, photo) => total + photo.data.length, 0);
  const machine = describeMachine();
  const settings = {
    concurrency: options.concurrency,
    maxSecondsPerRun: options.maxSeconds,
    warmupOps: options.warmupOps,
    thumbnail: { widths: options.widths, format: 'jpeg', quality: options.quality, maxOps: options.thumbnailOps },
    argon2id: { ...ARGON2_PARAMETERS, maxOps: options.argon2Ops },
    photos: { dir: options.photosDir, count: photos.length, totalBytes: photoBytes },
    daemon: { bin: options.bin, extraArgs: options.daemonArgs },
    sharp: {
      version: sharp.versions.sharp,
      libvips: sharp.versions.vips,
      concurrencyPerImage: sharp.concurrency(),
    },
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    eventLoopDelayResolutionMs: LOOP_DELAY_RESOLUTION_MS,
  };

  console.log(`Machine: ${machine.cpuModel}, ${machine.logicalCpus} logical CPUs, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`);
  console.log(`Load average (1 min) at start: ${machine.loadAverage1mAtStart.toFixed(2)}`);
  console.log(`Photos: ${photos.length} JPEGs, ${(photoBytes / 2 ** 20).toFixed(1)} MiB, from ${options.photosDir}`);
  console.log(
    `Settings: ${options.concurrency} calls in flight per side; each run stops after ` +
      `${options.thumbnailOps} thumbnail / ${options.argon2Ops} argon2 calls or ${options.maxSeconds} s`,
  );
  console.log(`  thumbnails: widths ${options.widths.join('+')} JPEG q${options.quality}, auto-orient, one photo per call (round-robin)`);
  console.log(`  argon2id: m=${ARGON2_PARAMETERS.memoryCost} KiB, t=${ARGON2_PARAMETERS.timeCost}, p=${ARGON2_PARAMETERS.parallelism}, ${ARGON2_PARAMETERS.hashLength}-byte hash, 16-byte random salt`);
  console.log(
    `  sharp ${settings.sharp.version} (libvips ${settings.sharp.libvips}), sharp.concurrency()=${settings.sharp.concurrencyPerImage} (its default here), ` +
      `UV_THREADPOOL_SIZE=${settings.uvThreadpoolSize}`,
  );
  console.log(`  daemon: ${options.bin} ${options.daemonArgs.join(' ') || '(default flags)'}; it shares this machine's CPUs with this process`);

  const daemon = await startDaemon({ bin: options.bin, args: options.daemonArgs });
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 120_000 });
  let results;
  let idleLoopDelay;
  try {
    idleLoopDelay = await measureIdleLoopDelay(2);

    const thumbnailOptions = { widths: options.widths, quality: options.quality };
    const heavyliftTally = { outputBytes: 0 };
    const sharpTally = { outputBytes: 0 };
    const thumbnails = await measurePair({
      title: `thumbnail ${options.widths.join('+')} q${options.quality}`,
      heavylift: {
        operation: makeHeavyliftThumbnail(client, photos, thumbnailOptions, heavyliftTally),
        tally: heavyliftTally,
      },
      node: {
        operation: makeSharpThumbnail(photos, thumbnailOptions, sharpTally),
        tally: sharpTally,
      },
      nodeLabel: 'sharp',
      maxOps: options.thumbnailOps,
      options,
    });

    const hashes = await measurePair({
      title: 'argon2id hash',
      heavylift: { operation: makeHeavyliftArgon2(client, ARGON2_PARAMETERS) },
      node: { operation: makeNodeArgon2(ARGON2_PARAMETERS) },
      nodeLabel: 'argon2 (npm)',
      maxOps: options.argon2Ops,
      options,
    });
    results = [thumbnails, hashes];
  } finally {
    client.close();
    await daemon.stop();
  }

  machine.loadAverage1mAtEnd = os.loadavg()[0];
  printResults(results, idleLoopDelay);
  console.log(`Load average (1 min) at end: ${machine.loadAverage1mAtEnd.toFixed(2)}`);

  await mkdir(options.outDir, { recursive: true });
  const outFile = path.join(options.outDir, 'latest.json');
  const report = { finishedAt: new Date().toISOString(), machine, settings, idleLoopDelayMs: idleLoopDelay, results };
  await writeFile(outFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`Results written to ${outFile}`);

  const failed = results.flatMap((pair) => [pair.heavylift, pair.node]).filter((side) => side.failed > 0);
  for (const side of failed) {
    console.error(`${side.side}: ${side.failed} calls failed, first errors: ${side.firstErrors.join(' | ')}`);
  }
  if (failed.length > 0) {
    process.exitCode = 1;
  }
}

await main();
