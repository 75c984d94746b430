// Measures the CPU time one JPEG thumbnail costs on each side of the AMQP
// benchmark, without the broker: the daemon's process CPU time (from
// /proc/<pid>/stat) over image.thumbnail calls on gRPC, and this process's CPU
// time over the same work in sharp. Throughput on a machine whose cores are
// all busy follows this cost, so it bounds the benchmark's thumbnail ratio.
// Linux only.
// Usage: node bench/amqp/thumbnail-cpu.mjs (variables: BENCH_THUMBNAIL_CPU_CALLS,
// BENCH_THUMBNAIL_CPU_CONCURRENCY, HEAVYLIFT_BIN).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';
import sharp from 'sharp';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const env = process.env;
const CALLS = Number(env.BENCH_THUMBNAIL_CPU_CALLS ?? 80);
const CONCURRENCY = Number(env.BENCH_THUMBNAIL_CPU_CONCURRENCY ?? 8);
const PHOTOS_DIR = env.BENCH_PHOTOS ?? '/usr/share/backgrounds/mate';
const PHOTOS = ['nature/Dune.jpg', 'nature/Aqua.jpg', 'nature/Storm.jpg', 'nature/Wood.jpg'];
const WIDTH = 320;
const QUALITY = 80;
// Linux reports utime and stime in clock ticks of USER_HZ, which is 100 (10 ms) on x86-64.
const MS_PER_TICK = 10;

// Returns the user + system CPU time of process `pid` so far, in ms.
function processCpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

// Runs `call(i)` for i in 0..CALLS-1 with CONCURRENCY calls in flight.
async function runAll(call) {
  let next = 0;
  const worker = async () => {
    while (next < CALLS) await call(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const daemon = await startDaemon({
  bin: env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift'),
  args: ['--blob-root', PHOTOS_DIR],
});
const client = createClient({ address: daemon.grpcAddress });
try {
  const thumbnail = (i) => client.image.thumbnail({ input: { path: PHOTOS[i % PHOTOS.length] }, widths: [WIDTH], quality: QUALITY });
  await runAll(thumbnail); // warm-up
  const daemonBefore = processCpuMs(daemon.process.pid);
  await runAll(thumbnail);
  const daemonMs = (processCpuMs(daemon.process.pid) - daemonBefore) / CALLS;

  const resize = (i) =>
    sharp(path.join(PHOTOS_DIR, PHOTOS[i % PHOTOS.length])).resize({ width: WIDTH }).jpeg({ quality: QUALITY }).toBuffer();
  await runAll(resize); // warm-up
  const sharpBefore = process.cpuUsage();
  await runAll(resize);
  const used = process.cpuUsage(sharpBefore);
  const sharpMs = (used.user + used.system) / 1000 / CALLS;

  console.log(`CPU ms per ${WIDTH}px thumbnail, ${CALLS} calls, ${CONCURRENCY} in flight:`);
  console.log(`  heavylift daemon ${daemonMs.toFixed(2)}, sharp ${sharpMs.toFixed(2)}, sharp/heavylift ${(sharpMs / daemonMs).toFixed(2)}x`);
  console.log(`machine: ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`);
} finally {
  client.close();
  await daemon.stop();
}
