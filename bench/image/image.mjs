// Benchmarks heavylift's image tasks against sharp doing the same work in a Node process.
// Each case runs at 1 and at 16 concurrent callers. Each heavylift run gets a fresh daemon and
// each sharp run a fresh Node process, so peak RSS (VmHWM) belongs to that run alone.
// Usage: node image/image.mjs [--cases=a-8-outputs,b-320-jpeg] [--concurrency=1,16]
//        [--max-ops=200] [--max-seconds=10] [--warmup-ops=3] [--daemon-args="..."]
import { execFile } from 'node:child_process';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

import { formatRatio, formatTable } from '../lib/report.mjs';
import { runClosedLoop } from '../lib/run.mjs';
import { CASES, PHOTO_ROOT, PHOTOS } from './cases.mjs';
import { cpuSeconds, ownCpuSeconds, peakRssBytes } from './rss.mjs';

const IMAGE_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(IMAGE_DIR, '..', '..');
const run = promisify(execFile);

function readOptions() {
  const env = process.env;
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: env.BENCH_IMAGE_CASES ?? Object.keys(CASES).join(',') },
      concurrency: { type: 'string', default: env.BENCH_IMAGE_CONCURRENCY ?? '1,16' },
      'max-ops': { type: 'string', default: env.BENCH_IMAGE_MAX_OPS ?? '200' },
      'max-seconds': { type: 'string', default: env.BENCH_IMAGE_MAX_SECONDS ?? '10' },
      'warmup-ops': { type: 'string', default: env.BENCH_IMAGE_WARMUP_OPS ?? '3' },
      bin: { type: 'string', default: env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift') },
      'daemon-args': { type: 'string', default: env.BENCH_DAEMON_ARGS ?? '' },
    },
  });
  const names = values.cases.split(',');
  for (const name of names) {
    if (!CASES[name]) {
      throw new Error(`unknown case ${name}; cases are ${Object.keys(CASES).join(', ')}`);
    }
  }
  return {
    names,
    concurrencies: values.concurrency.split(',').map(Number),
    maxOps: Number(values['max-ops']),
    maxSeconds: Number(values['max-seconds']),
    warmupOps: Number(values['warmup-ops']),
    bin: values.bin,
    daemonArgs: values['daemon-args'].split(' ').filter(Boolean),
  };
}

async function runHeavylift(options, name, concurrency) {
  const benchCase = CASES[name];
  const input = await readFile(PHOTOS[benchCase.photo]);
  // 16 callers of the 8-call pattern keep 128 calls in flight, over the default queue of 64,
  // so every run gets a queue that admits them all.
  const args = ['--executor-queue-capacity', '256', ...(benchCase.byPath ? ['--blob-root', PHOTO_ROOT] : []), ...options.daemonArgs];
  const daemon = await startDaemon({ bin: options.bin, args });
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 120_000 });
  try {
    await runClosedLoop({ operation: () => benchCase.heavylift(client, input), concurrency: 1, maxOps: options.warmupOps, maxSeconds: 60 });
    const daemonCpuBefore = cpuSeconds(daemon.process.pid);
    const clientCpuBefore = ownCpuSeconds();
    const result = await runClosedLoop({
      operation: () => benchCase.heavylift(client, input),
      concurrency,
      maxOps: options.maxOps,
      maxSeconds: options.maxSeconds,
    });
    // The daemon's CPU plus the Node client's (request encoding, gRPC), the whole cost to the machine.
    result.daemonCpuSeconds = cpuSeconds(daemon.process.pid) - daemonCpuBefore;
    result.cpuSeconds = result.daemonCpuSeconds + (ownCpuSeconds() - clientCpuBefore);
    result.peakRssBytes = peakRssBytes(daemon.process.pid);
    return result;
  } finally {
    client.close();
    await daemon.stop();
  }
}

async function runSharp(options, name, concurrency) {
  const { stdout } = await run(
    process.execPath,
    [path.join(IMAGE_DIR, 'sharp-runner.mjs'), name, String(concurrency), String(options.maxOps), String(options.maxSeconds), String(options.warmupOps)],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop());
}

const mib = (bytes) => bytes / 2 ** 20;

async function main() {
  const options = readOptions();
  const rows = [];
  for (const name of options.names) {
    for (const concurrency of options.concurrencies) {
      const heavylift = await runHeavylift(options, name, concurrency);
      rows.push({ name, side: 'heavylift', concurrency, ...heavylift });
      if (CASES[name].sharp) {
        const sharp = await runSharp(options, name, concurrency);
        rows.push({ name, side: 'sharp', concurrency, ...sharp });
      }
      for (const row of rows.slice(-2)) {
        if (row.failed > 0) {
          console.error(`${row.name} ${row.side}: ${row.failed} failed, first: ${row.firstErrors.join('; ')}`);
        }
      }
    }
  }

  console.log(
    formatTable(
      [
        { header: 'case', value: (row) => row.name },
        { header: 'side', value: (row) => row.side },
        { header: 'callers', value: (row) => row.concurrency, digits: 0 },
        { header: 'ops', value: (row) => row.ok, digits: 0 },
        { header: 'ops/s', value: (row) => row.opsPerSecond, digits: 2 },
        { header: 'p50 ms', value: (row) => row.latencyMs.p50 },
        { header: 'p99 ms', value: (row) => row.latencyMs.p99 },
        { header: 'CPU ms/op', value: (row) => (row.cpuSeconds * 1000) / row.ok, digits: 1 },
        { header: 'daemon CPU ms/op', value: (row) => (row.daemonCpuSeconds === undefined ? '-' : (row.daemonCpuSeconds * 1000) / row.ok), digits: 1 },
        { header: 'peak RSS MiB', value: (row) => mib(row.peakRssBytes), digits: 0 },
      ],
      rows,
    ),
  );

  const opsPerCpuSecond = (row) => row.ok / row.cpuSeconds;
  console.log(`\nLoad average at the end: ${os.loadavg().map((load) => load.toFixed(2)).join(', ')}`);
  console.log('Ratios (heavylift / sharp: throughput, operations per CPU-second, peak RSS):');
  const find = (name, side, concurrency) => rows.find((row) => row.name === name && row.side === side && row.concurrency === concurrency);
  for (const name of options.names) {
    for (const concurrency of options.concurrencies) {
      const heavylift = find(name, 'heavylift', concurrency);
      const sharp = find(name, 'sharp', concurrency);
      if (heavylift && sharp) {
        console.log(
          `  ${CASES[name].title}, ${concurrency} callers: throughput ${formatRatio(heavylift.opsPerSecond, sharp.opsPerSecond)}, ` +
            `per CPU-second ${formatRatio(opsPerCpuSecond(heavylift), opsPerCpuSecond(sharp))}, ` +
            `peak RSS ${formatRatio(heavylift.peakRssBytes, sharp.peakRssBytes)}`,
        );
      }
    }
  }
  for (const concurrency of options.concurrencies) {
    const oneCall = find('d-one-call', 'heavylift', concurrency);
    const eightCalls = find('d-eight-calls', 'heavylift', concurrency);
    if (oneCall && eightCalls) {
      console.log(
        `  (d) one call vs 8 calls, ${concurrency} callers: throughput ${formatRatio(oneCall.opsPerSecond, eightCalls.opsPerSecond)}, ` +
          `per CPU-second ${formatRatio(opsPerCpuSecond(oneCall), opsPerCpuSecond(eightCalls))}`,
      );
    }
  }
}

await main();
