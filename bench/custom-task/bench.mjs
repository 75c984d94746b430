// The example's catalog search over 1,000,000 products: Express running the
// JavaScript version in its route vs Express calling the catalog.search task
// in a heavylift daemon, at 1 and 32 concurrent requests. Prints requests/s,
// p99 latency and the Express event-loop delay p99 of each, and the ratios.
//
//   node bench/custom-task/bench.mjs            (10 s per run)
//   BENCH_SECONDS=5 CATALOG_SIZE=200000 node bench/custom-task/bench.mjs
//
// The idle line of each mode is the event-loop delay of Express with no
// requests: the floor that the machine's other work puts under the runs.
//
// Needs build/release (make build) and `npm ci` in examples/custom-task. It
// builds the example's daemon into build/bench-custom-task with CMake.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startDaemon } from 'heavylift/testing';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = path.join(REPO_ROOT, 'examples', 'custom-task');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CATALOG_SIZE = Number(process.env.CATALOG_SIZE ?? 1_000_000);
const CATALOG_SEED = 42;
const CONCURRENCY = [1, 32];
const QUERIES = ['oak desk', 'wooden chair', 'vintge lamp', 'slim walnut shelf', 'cer bowl', 'quiet speaker'];

async function buildCatalogDaemon() {
  const buildDir = path.join(REPO_ROOT, 'build', 'bench-custom-task');
  const args = ['-S', path.join(EXAMPLE, 'server'), '-B', buildDir, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    `-Dheavylift_DIR=${path.join(REPO_ROOT, 'build', 'release')}`, '-DCMAKE_CXX_COMPILER_LAUNCHER=ccache'];
  await run('cmake', args);
  await run('cmake', ['--build', buildDir, '-j', '2', '--target', 'heavylift-catalog']);
  return path.join(buildDir, 'heavylift-catalog');
}

function startExpress(mode, address) {
  const child = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'express-server.mjs'),
    mode, address ?? '', String(CATALOG_SIZE), String(CATALOG_SEED)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`express (${mode}) exited with ${code} before listening`)));
    child.stdout.on('data', (chunk) => {
      const match = /port=(\d+)/.exec(String(chunk));
      if (match) resolve({ child, port: Number(match[1]) });
    });
  });
}

function get(agent, port, urlPath) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${urlPath}: ${response.statusCode} ${Buffer.concat(chunks)}`))));
    });
    request.on('error', reject);
  });
}

// Keeps `concurrency` requests in flight for SECONDS and measures them.
async function load(port, route, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  await get(agent, port, '/__stats/reset');
  const latencies = [];
  const deadline = performance.now() + SECONDS * 1000;
  let sent = 0;
  const worker = async (mode) => {
    while (performance.now() < deadline) {
      const query = encodeURIComponent(QUERIES[sent++ % QUERIES.length]);
      const started = performance.now();
      await get(agent, port, `${mode}?q=${query}&limit=20`);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker(route)));
  const elapsed = (performance.now() - started) / 1000;
  const stats = JSON.parse(String(await get(agent, port, '/__stats')));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
    loopP99Ms: stats.p99Ms,
  };
}

async function measure(mode, address) {
  const { child, port } = await startExpress(mode, address);
  const results = {};
  try {
    // The idle floor of the event-loop delay on this machine, one warm-up request, then the runs.
    const agent = new http.Agent();
    await get(agent, port, '/__stats/reset');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const idle = JSON.parse(String(await get(agent, port, '/__stats')));
    console.log(`${mode.padEnd(9)} idle event-loop p99 ${idle.p99Ms.toFixed(1)} ms`);
    await get(agent, port, `/search/${mode}?q=warm`);
    for (const concurrency of CONCURRENCY) {
      results[concurrency] = await load(port, `/search/${mode}`, concurrency);
      const r = results[concurrency];
      console.log(`${mode.padEnd(9)} c=${String(concurrency).padStart(2)}  ${r.rps.toFixed(1).padStart(8)} req/s  p99 ${r.p99Ms.toFixed(1).padStart(8)} ms  event-loop p99 ${r.loopP99Ms.toFixed(1).padStart(7)} ms`);
    }
  } finally {
    child.kill('SIGTERM');
  }
  return results;
}

if (!existsSync(path.join(EXAMPLE, 'node_modules', 'express'))) {
  console.error('examples/custom-task has no node_modules; run `npm ci` there first');
  process.exit(1);
}
if (!existsSync(path.join(EXAMPLE, 'gen', 'heavylift-tasks.js'))) {
  await run('npm', ['run', 'gen'], { cwd: EXAMPLE });
}
console.log(`catalog search, ${CATALOG_SIZE} products, ${SECONDS} s per run, ${QUERIES.length} queries in rotation, ` +
  `${os.cpus().length} cores, load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`);
const bin = await buildCatalogDaemon();
const daemon = await startDaemon({ bin, env: { CATALOG_SIZE: String(CATALOG_SIZE), CATALOG_SEED: String(CATALOG_SEED) }, timeoutMs: 60_000 });
try {
  const js = await measure('js');
  const heavylift = await measure('heavylift', daemon.grpcAddress);
  for (const concurrency of CONCURRENCY) {
    console.log(`ratio c=${concurrency}: ${(heavylift[concurrency].rps / js[concurrency].rps).toFixed(1)}x requests/s, ` +
      `event-loop p99 ${js[concurrency].loopP99Ms.toFixed(1)} ms -> ${heavylift[concurrency].loopP99Ms.toFixed(1)} ms`);
  }
  console.log(`load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`);
} finally {
  await daemon.stop();
}
