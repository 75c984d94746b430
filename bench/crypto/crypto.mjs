// Benchmarks heavylift's crypto tasks against what a Node app does in
// process: the `argon2`, `bcrypt` and `bcryptjs` npm packages (with the
// default and a tuned UV_THREADPOOL_SIZE) and Node's own crypto, at 1 and 32
// concurrent callers, and prints throughput, p99 latency, the caller's
// event-loop delay and the ratios. Ed25519 runs both per message and in
// batches (heavylift's signMany/verifyMany against Node signing the same
// batch in a loop). The load average is printed with the results, since the
// machine may be shared.
// Usage: node bench/crypto/crypto.mjs  (variables: BENCH_CRYPTO_SECONDS,
// BENCH_CRYPTO_THREADPOOL, BENCH_CRYPTO_SIGNATURE_BATCH, BENCH_CRYPTO_ONLY,
// HEAVYLIFT_BIN, BENCH_DAEMON_ARGS)
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startDaemon } from 'heavylift/testing';

import { formatRatio, formatTable } from '../lib/report.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const SECONDS = Number(process.env.BENCH_CRYPTO_SECONDS ?? '8');
const TUNED_THREADPOOL = process.env.BENCH_CRYPTO_THREADPOOL ?? String(os.availableParallelism());
const SIGNATURE_BATCH = Number(process.env.BENCH_CRYPTO_SIGNATURE_BATCH ?? '1000');
// Comma-separated groups to run (argon2id, bcrypt, ed25519, ed25519-batch, aes); all when unset.
const ONLY = (process.env.BENCH_CRYPTO_ONLY ?? '').split(',').filter(Boolean);
const runs = (group) => ONLY.length === 0 || ONLY.includes(group);
const CORES = os.availableParallelism();
const loadAverage = () => os.loadavg().map((value) => value.toFixed(2)).join(' ');
const loadAtStart = loadAverage();

// Runs worker.mjs for one row and returns its JSON result.
function runWorker(workload, concurrency, maxOps, { address, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const args = [path.join(HERE, 'worker.mjs'), workload, String(concurrency), String(maxOps), String(SECONDS)];
    if (address) args.push(address);
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${workload} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)));
    });
  });
}

const bin = process.env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build/release/heavylift');
const daemonArgs = (process.env.BENCH_DAEMON_ARGS ?? '').split(' ').filter(Boolean);
const daemon = await startDaemon({ bin, args: daemonArgs, env: { HEAVYLIFT_CRYPTO_AEAD_KEYS: `bench:${Buffer.alloc(32, 7).toString('base64')}` } });
const address = daemon.grpcAddress;

// CPU seconds the daemon has used so far, from /proc (utime + stime, in clock ticks).
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
function daemonCpuSeconds() {
  const fields = readFileSync(`/proc/${daemon.process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

const rows = [];
async function measure(group, label, workload, concurrency, maxOps, options = {}) {
  const daemonCpuBefore = daemonCpuSeconds();
  const result = await runWorker(workload, concurrency, maxOps, options);
  // heavylift rows: the daemon's CPU time during the row, which also covers
  // the worker's one unmeasured warm-up call.
  if (options.address) result.daemonCpuMsPerCall = (1000 * (daemonCpuSeconds() - daemonCpuBefore)) / (result.ok + 1);
  // CPU time per operation on both sides: the worker's, plus the daemon's for heavylift rows.
  result.cpuMsPerOp = (1000 * result.cpuSeconds) / Math.max(1, result.ok) + (result.daemonCpuMsPerCall ?? 0);
  const row = { group, label, ...result };
  rows.push(row);
  console.error(`${group} ${label} x${concurrency}: ${result.opsPerSecond.toFixed(1)} ops/s, p99 ${result.latencyMs.p99.toFixed(1)} ms, loop p99 ${result.eventLoopDelayMs.p99.toFixed(1)} ms, ${result.failed} failed`);
  return row;
}

try {
  for (const callers of runs('argon2id') ? [1, 32] : []) {
    const ops = callers === 1 ? 40 : 400;
    await measure('argon2id m=19MiB t=2 p=1', 'heavylift', 'heavylift-argon2id', callers, ops, { address });
    await measure('argon2id m=19MiB t=2 p=1', 'npm argon2 (threadpool 4)', 'npm-argon2', callers, ops);
    await measure('argon2id m=19MiB t=2 p=1', `npm argon2 (threadpool ${TUNED_THREADPOOL})`, 'npm-argon2', callers, ops, { env: { UV_THREADPOOL_SIZE: TUNED_THREADPOOL } });
  }
  for (const callers of runs('bcrypt') ? [1, 32] : []) {
    const ops = callers === 1 ? 16 : 128;
    await measure('bcrypt cost 12', 'heavylift', 'heavylift-bcrypt', callers, ops, { address });
    await measure('bcrypt cost 12', 'npm bcrypt (threadpool 4)', 'npm-bcrypt', callers, ops);
    await measure('bcrypt cost 12', `npm bcrypt (threadpool ${TUNED_THREADPOOL})`, 'npm-bcrypt', callers, ops, { env: { UV_THREADPOOL_SIZE: TUNED_THREADPOOL } });
    await measure('bcrypt cost 12', 'bcryptjs', 'bcryptjs', callers, callers === 1 ? 4 : 32);
  }
  for (const callers of runs('ed25519') ? [1, 32] : []) {
    await measure('Ed25519 sign', 'heavylift', 'heavylift-ed25519-sign', callers, 20000, { address });
    await measure('Ed25519 sign', 'node crypto', 'node-ed25519-sign', callers, 20000);
    await measure('Ed25519 verify', 'heavylift', 'heavylift-ed25519-verify', callers, 20000, { address });
    await measure('Ed25519 verify', 'node crypto', 'node-ed25519-verify', callers, 20000);
  }
  for (const callers of runs('ed25519-batch') ? [1, 32] : []) {
    const ops = callers === 1 ? 200 : 400;
    await measure(`Ed25519 sign, batches of ${SIGNATURE_BATCH}`, 'heavylift signMany', 'heavylift-ed25519-sign-batch', callers, ops, { address });
    await measure(`Ed25519 sign, batches of ${SIGNATURE_BATCH}`, 'node crypto (loop)', 'node-ed25519-sign-batch', callers, ops);
    await measure(`Ed25519 verify, batches of ${SIGNATURE_BATCH}`, 'heavylift verifyMany', 'heavylift-ed25519-verify-batch', callers, ops, { address });
    await measure(`Ed25519 verify, batches of ${SIGNATURE_BATCH}`, 'node crypto (loop)', 'node-ed25519-verify-batch', callers, ops);
  }
  if (runs('aes')) {
    await measure('AES-256-GCM 100 MB', 'heavylift (16 MiB calls)', 'heavylift-aes-256-gcm-100mb', 1, 5, { address });
    await measure('AES-256-GCM 100 MB', 'node crypto', 'node-aes-256-gcm-100mb', 1, 5);
  }
} finally {
  await daemon.stop();
}

console.log(formatTable(
  [
    { header: 'workload', value: (r) => r.group },
    { header: 'side', value: (r) => r.label },
    { header: 'callers', value: (r) => r.concurrency, digits: 0 },
    { header: 'ops', value: (r) => r.ok, digits: 0 },
    { header: 'ops/s', value: (r) => r.opsPerSecond, digits: 1 },
    { header: 'p99 ms', value: (r) => r.latencyMs.p99, digits: 1 },
    { header: 'loop p99 ms', value: (r) => r.eventLoopDelayMs.p99, digits: 1 },
    { header: 'loop max ms', value: (r) => r.eventLoopDelayMs.max, digits: 1 },
    { header: 'CPU ms/op', value: (r) => r.cpuMsPerOp, digits: 1 },
  ],
  rows,
));

// Ratios: heavylift throughput over each alternative, per workload and caller count.
console.log('\nratios (heavylift ops/s / other ops/s; for p99, other / heavylift):');
for (const row of rows.filter((r) => r.label.startsWith('heavylift'))) {
  for (const other of rows.filter((r) => r.group === row.group && r.concurrency === row.concurrency && r !== row)) {
    console.log(`  ${row.group}, ${row.concurrency} caller(s), vs ${other.label}: throughput ${formatRatio(row.opsPerSecond, other.opsPerSecond)}, p99 ${formatRatio(other.latencyMs.p99, row.latencyMs.p99)}`);
  }
}

// bcrypt against bcryptjs: the most heavylift can reach is every core doing
// what one core does. CPU time per hash (the daemon's for heavylift, the
// worker's for bcryptjs) is what one core needs for one hash, whatever else
// runs on the machine, so the ceiling is cores x (bcryptjs CPU per hash /
// heavylift CPU per hash). Wall-clock ratios on a loaded machine also
// reflect how many runnable threads each side has.
const bcryptRow = (label, callers) => rows.find((r) => r.group === 'bcrypt cost 12' && r.label === label && r.concurrency === callers);
const [native1, native32, js1, js32] = [bcryptRow('heavylift', 1), bcryptRow('heavylift', 32), bcryptRow('bcryptjs', 1), bcryptRow('bcryptjs', 32)];
if (native1 && js1 && native1.ok > 0 && js1.ok > 0) {
  const nativeMs = native1.daemonCpuMsPerCall;
  const jsMs = js1.cpuMsPerOp;
  const perCore = jsMs / nativeMs;
  console.log('\nbcrypt cost 12 against bcryptjs, the arithmetic (CPU time per hash, 1-caller rows):');
  console.log(`  one hash on one core: heavylift ${nativeMs.toFixed(0)} ms, bcryptjs ${jsMs.toFixed(0)} ms, so ${perCore.toFixed(2)}x per core`);
  console.log(`  ceiling with all ${CORES} cores busy: ${CORES} x ${perCore.toFixed(2)} = ${(CORES * perCore).toFixed(2)}x (bcryptjs uses one thread at any caller count)`);
  console.log(`  20x would need ${Math.ceil(20 / perCore)} cores at this speed, or one hash in ${((jsMs * CORES) / 20).toFixed(0)} ms of CPU on ${CORES} cores (${(20 / CORES / perCore).toFixed(1)}x less than now)`);
  if (native32 && js32) {
    console.log(`  measured at 32 callers: ${formatRatio(native32.opsPerSecond, js32.opsPerSecond)}; heavylift 32 callers / 1 caller: ${formatRatio(native32.opsPerSecond, native1.opsPerSecond)} (cores: ${CORES})`);
  }
}
const loadAtEnd = loadAverage();
console.log(`\nload average (1, 5, 15 min): ${loadAtStart} at the start, ${loadAtEnd} at the end; ${CORES} cores`);

const outDir = path.join(REPO_ROOT, 'out', 'bench');
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, 'crypto-latest.json'), JSON.stringify({ machine: { cpus: CORES, model: os.cpus()[0]?.model, loadAtStart, loadAtEnd }, rows }, null, 2));
if (rows.some((r) => r.failed > 0)) process.exitCode = 1;
