// Soak test: mixed load against one heavylift daemon for SOAK_MINUTES
// (default 30), sampling the daemon's resident memory, open descriptors and
// the p99 latency of each interval, then writing out/soak/soak.json and a
// plot, out/soak/soak.svg. It fails (exit 1) when memory or descriptors grow
// in the second half beyond the stated tolerance.
//
// The load comes from this one Node process. It sends gRPC thumbnails of real
// photos and argon2id hashes and verifies. It adds BullMQ jobs (testing.echo,
// and thumbnails of a photo stored as a Redis blob) through a real
// redis-server. It keeps SOAK_HUB_CLIENTS Socket.IO clients on the real-time
// hub in one room that gets an event every 200 ms; a tenth of them reconnect
// at every sample, so connection set-up and tear-down are soaked too.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import { Queue, QueueEvents } from 'bullmq';
import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';
import IORedis from 'ioredis';
import WebSocket from 'ws';

import { RedisServer } from '../../tests/e2e/lib/redis.mjs';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = path.join(REPO_ROOT, 'out', 'soak');
const DAEMON_BIN = process.env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift');
const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? Math.max(5, Math.round((MINUTES * 60) / 120)));
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
const JOB_CONCURRENCY = Number(process.env.SOAK_JOB_CONCURRENCY ?? 4);
const HUB_CLIENTS = Number(process.env.SOAK_HUB_CLIENTS ?? 200);
const EMIT_INTERVAL_MS = 200;
const QUEUE = 'soak';
// Growth allowed from the third to the last quarter of the run: the RSS
// floor as a fraction, descriptors as a count.
const MAX_RSS_GROWTH = 0.05;
const MAX_FD_GROWTH = 8;

const PHOTO_DIR = '/usr/share/backgrounds/mate/nature';

function residentBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

function openDescriptors(pid) {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      readlinkSync(`/proc/${pid}/fd/${fd}`);
      return true;
    } catch {
      return false;
    }
  }).length;
}

// Signs an HS256 JWT, the token the app gives its browsers for the hub.
function hs256(claims, secret) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// A minimal Socket.IO client over a raw WebSocket (Engine.IO 4, Socket.IO 5):
// connects with the token, joins `room`, replies to pings and counts "tick"
// events in `counters.deliveries`. Resolves once joined and rejects on failure.
function openHubClient(url, token, room, counters) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
    let joined = false;
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '2') ws.send('3');
      else if (text.startsWith('0')) ws.send(`40${JSON.stringify({ token })}`);
      else if (text.startsWith('40{')) ws.send(`421${JSON.stringify(['heavylift:join', room])}`);
      else if (text.startsWith('431')) {
        joined = true;
        resolve(ws);
      } else if (text.startsWith('42["tick"')) counters.deliveries += 1;
      else if (text.startsWith('44')) reject(new Error(`hub refused the connection: ${text}`));
    });
    ws.on('error', (error) => {
      if (!joined) reject(error);
    });
    ws.on('close', () => {
      if (!joined) reject(new Error('hub closed the connection before the join'));
    });
  });
}

function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// A polyline chart of `series` over `xs`, one panel per series, as SVG text.
function plot(xs, series) {
  const width = 720;
  const panelHeight = 160;
  const margin = 50;
  const height = series.length * (panelHeight + margin) + margin;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`];
  const xMax = Math.max(...xs, 1);
  series.forEach(({ name, unit, values }, index) => {
    const top = margin + index * (panelHeight + margin);
    const yMax = Math.max(...values, 1) * 1.1;
    const points = values
      .map((value, i) => `${(margin + (xs[i] / xMax) * (width - 2 * margin)).toFixed(1)},${(top + panelHeight - (value / yMax) * panelHeight).toFixed(1)}`)
      .join(' ');
    parts.push(`<text x="${margin}" y="${top - 8}">${name} (${unit}), max ${Math.max(...values).toFixed(1)}</text>`);
    parts.push(`<rect x="${margin}" y="${top}" width="${width - 2 * margin}" height="${panelHeight}" fill="none" stroke="#999"/>`);
    parts.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${points}"/>`);
    parts.push(`<text x="${width - margin}" y="${top + panelHeight + 14}" text-anchor="end">${xMax.toFixed(0)} s</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

async function main() {
  const photos = readdirSync(PHOTO_DIR)
    .filter((name) => name.endsWith('.jpg'))
    .slice(0, 6)
    .map((name) => readFileSync(path.join(PHOTO_DIR, name)));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'heavylift-soak-'));
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path.join(dir, 'jwt.secret'), secret);
  const redis = await RedisServer.start({ args: ['--appendonly', 'no'] });
  const daemon = await startDaemon({
    bin: DAEMON_BIN,
    args: [
      '--testing-tasks', 'true',
      '--bullmq-redis-url', redis.url,
      '--bullmq-queue', QUEUE,
      '--bullmq-journal-path', path.join(dir, 'journal'),
      '--realtime-address', '127.0.0.1:0',
      '--realtime-jwt-key-file', path.join(dir, 'jwt.secret'),
    ],
    timeoutMs: 20_000,
  });
  const pid = daemon.process.pid;
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 60_000 });
  const hash = await client.crypto.argon2id.hash('soak password');

  // bullmq closes only the connections it opened itself, so it gets options.
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE, { connection });
  const queueEvents = new QueueEvents(QUEUE, { connection });
  await queueEvents.waitUntilReady();
  const blobKey = `bull:${QUEUE}:blob:photo`;
  const blobs = new IORedis(connection);
  await blobs.set(blobKey, photos[0]);
  const jobs = [
    () => queue.add('testing.echo', { payload: Buffer.from('soak').toString('base64') }, { removeOnComplete: true }),
    () => queue.add('image.thumbnail', { input: { redisKey: blobKey }, widths: [320] }, { removeOnComplete: true }),
  ];

  const hubLine = await daemon.waitForLog('event=realtime.listening');
  const hubUrl = `ws://${/address=(\S+)/.exec(hubLine)[1]}`;
  const token = hs256({ sub: 'soak', rooms: ['soak'], exp: Math.floor(Date.now() / 1000) + MINUTES * 60 + 3600 }, secret);
  const hubCounters = { deliveries: 0, reconnectFailures: 0 };
  let hubSockets = [];
  for (let i = 0; i < HUB_CLIENTS; i += 1) hubSockets.push(await openHubClient(hubUrl, token, 'soak', hubCounters));

  const operations = [
    (i) => client.image.thumbnail({ input: photos[i % photos.length], widths: [320, 640], format: i % 2 ? 'webp' : 'jpeg' }),
    (i) => client.crypto.argon2id.hash(`password ${i}`),
    () => client.crypto.argon2id.verify(hash, 'soak password'),
  ];

  const samples = [];
  let latencies = [];
  let jobLatencies = [];
  let errors = 0;
  let calls = 0;
  let jobsDone = 0;
  const startMs = performance.now();
  const endMs = startMs + MINUTES * 60_000;

  const jobWorker = async (offset) => {
    for (let i = offset; performance.now() < endMs; i += JOB_CONCURRENCY) {
      const begin = performance.now();
      try {
        const job = await jobs[i % jobs.length]();
        await job.waitUntilFinished(queueEvents, 60_000);
        jobLatencies.push(performance.now() - begin);
      } catch (error) {
        errors += 1;
        if (errors <= 5) console.error(`soak: job failed: ${error.message}`);
      }
      jobsDone += 1;
    }
  };

  let emits = 0;
  const emitter = setInterval(() => {
    emits += 1;
    client.realtime.emit({ rooms: ['soak'], event: 'tick', args: [{ n: emits }] }).catch((error) => {
      errors += 1;
      if (errors <= 5) console.error(`soak: emit failed: ${error.message}`);
    });
  }, EMIT_INTERVAL_MS);

  // Closes a tenth of the hub clients and opens as many new ones.
  const churnHub = async () => {
    const leaving = hubSockets.splice(0, Math.ceil(hubSockets.length / 10));
    for (const ws of leaving) ws.close();
    for (let i = 0; i < leaving.length; i += 1) {
      try {
        hubSockets.push(await openHubClient(hubUrl, token, 'soak', hubCounters));
      } catch (error) {
        hubCounters.reconnectFailures += 1;
        if (hubCounters.reconnectFailures <= 5) console.error(`soak: hub reconnect failed: ${error.message}`);
      }
    }
  };

  const worker = async (offset) => {
    for (let i = offset; performance.now() < endMs; i += CONCURRENCY) {
      const begin = performance.now();
      try {
        await operations[i % operations.length](i);
        latencies.push(performance.now() - begin);
      } catch (error) {
        errors += 1;
        if (errors <= 5) console.error(`soak: call failed: ${error.message}`);
      }
      calls += 1;
    }
  };

  const sampler = setInterval(() => {
    const sorted = latencies.sort((a, b) => a - b);
    latencies = [];
    const sortedJobs = jobLatencies.sort((a, b) => a - b);
    jobLatencies = [];
    const sample = {
      seconds: (performance.now() - startMs) / 1000,
      rssMiB: residentBytes(pid) / (1024 * 1024),
      fds: openDescriptors(pid),
      p99Ms: quantile(sorted, 0.99),
      calls: sorted.length,
      jobP99Ms: quantile(sortedJobs, 0.99),
      jobs: sortedJobs.length,
      hubClients: hubSockets.length,
      hubDeliveries: hubCounters.deliveries,
    };
    hubCounters.deliveries = 0;
    samples.push(sample);
    console.log(
      `soak: ${sample.seconds.toFixed(0)} s rss=${sample.rssMiB.toFixed(1)} MiB fds=${sample.fds} ` +
        `p99=${sample.p99Ms.toFixed(1)} ms calls=${sample.calls} job_p99=${sample.jobP99Ms.toFixed(1)} ms ` +
        `jobs=${sample.jobs} hub_clients=${sample.hubClients} hub_deliveries=${sample.hubDeliveries}`,
    );
    void churnHub();
  }, SAMPLE_SECONDS * 1000);

  console.log(
    `soak: ${MINUTES} min of mixed load, ${CONCURRENCY} calls and ${JOB_CONCURRENCY} jobs in flight, ` +
      `${HUB_CLIENTS} hub clients, a sample every ${SAMPLE_SECONDS} s`,
  );
  await Promise.all([
    ...Array.from({ length: CONCURRENCY }, (_unused, offset) => worker(offset)),
    ...Array.from({ length: JOB_CONCURRENCY }, (_unused, offset) => jobWorker(offset)),
  ]);
  clearInterval(sampler);
  clearInterval(emitter);
  for (const ws of hubSockets) ws.close();
  client.close();
  await queueEvents.close();
  await queue.close();
  blobs.disconnect();
  const exit = await daemon.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });

  // RSS swings by a quarter or more with the images decoding at each sample,
  // so the medians of two quarters can differ by several percent without a
  // leak. Memory that is never freed raises the floor between those bursts,
  // so growth compares the 10th percentile of the last quarter with that of
  // the third quarter. The medians are reported beside it.
  const percentile = (values, q) => quantile([...values].sort((a, b) => a - b), q);
  const half = Math.floor(samples.length / 2);
  const quarter = Math.floor((samples.length * 3) / 4);
  const thirdQuarter = samples.slice(half, quarter).map((sample) => sample.rssMiB);
  const lastQuarter = samples.slice(quarter).map((sample) => sample.rssMiB);
  const thirdRss = percentile(thirdQuarter, 0.5);
  const lastRss = percentile(lastQuarter, 0.5);
  const thirdFloor = percentile(thirdQuarter, 0.1);
  const lastFloor = percentile(lastQuarter, 0.1);
  const rssGrowth = (lastFloor - thirdFloor) / thirdFloor;
  const fdGrowth =
    Math.max(...samples.slice(quarter).map((sample) => sample.fds)) -
    Math.max(...samples.slice(half, quarter).map((sample) => sample.fds));
  const verdict = {
    minutes: MINUTES,
    calls,
    jobs: jobsDone,
    emits,
    hubReconnectFailures: hubCounters.reconnectFailures,
    errors,
    daemonExit: exit,
    secondHalf: {
      thirdQuarterMedianRssMiB: thirdRss,
      lastQuarterMedianRssMiB: lastRss,
      thirdQuarterFloorRssMiB: thirdFloor,
      lastQuarterFloorRssMiB: lastFloor,
      rssGrowth,
      fdGrowth,
    },
    flat: rssGrowth <= MAX_RSS_GROWTH && fdGrowth <= MAX_FD_GROWTH,
  };

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(path.join(OUT_DIR, 'soak.json'), JSON.stringify({ verdict, samples }, null, 2));
  writeFileSync(
    path.join(OUT_DIR, 'soak.svg'),
    plot(samples.map((sample) => sample.seconds), [
      { name: 'resident memory', unit: 'MiB', values: samples.map((sample) => sample.rssMiB) },
      { name: 'open file descriptors', unit: 'count', values: samples.map((sample) => sample.fds) },
      { name: 'gRPC p99 latency per interval', unit: 'ms', values: samples.map((sample) => sample.p99Ms) },
      { name: 'BullMQ job p99 (enqueue to finished) per interval', unit: 'ms', values: samples.map((sample) => sample.jobP99Ms) },
      { name: 'hub events delivered per interval', unit: 'count', values: samples.map((sample) => sample.hubDeliveries) },
    ]),
  );
  console.log(
    `soak: ${calls} calls, ${jobsDone} jobs, ${emits} hub emits, ${errors} errors, ` +
      `${hubCounters.reconnectFailures} failed hub reconnects; RSS floor (10th percentile) ${thirdFloor.toFixed(1)} MiB ` +
      `in the third quarter, ${lastFloor.toFixed(1)} MiB in the last (${(rssGrowth * 100).toFixed(1)}%, bound ` +
      `${MAX_RSS_GROWTH * 100}%); median RSS ${thirdRss.toFixed(1)} and ${lastRss.toFixed(1)} MiB; ` +
      `descriptors +${fdGrowth} (bound ${MAX_FD_GROWTH}); ` +
      `plot in ${path.relative(REPO_ROOT, path.join(OUT_DIR, 'soak.svg'))}`,
  );
  if (!verdict.flat || errors > 0 || hubCounters.reconnectFailures > 0 || exit.code !== 0) {
    console.error('soak: FAILED: memory or descriptors grew, calls, jobs or reconnects failed, or the daemon did not exit cleanly');
    process.exit(1);
  }
}

await main();
