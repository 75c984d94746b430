// Soak test: mixed load against one heavylift daemon for SOAK_MINUTES
// (default 30), sampling the daemon's resident memory, open descriptors and
// the p99 latency of each interval, then writing out/soak/soak.json and a
// plot, out/soak/soak.svg. It fails (exit 1) when memory or descriptors grow
// in the second half beyond the stated tolerance.
//
// Load, all from this one Node process: thumbnails of real photos, argon2id
// hashes and verifies, and testing.echo calls as the cheapest transport work.
// NOTE: the job queues and the real-time hub are not part of the load yet.
import { readFileSync, readdirSync, readlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = path.join(REPO_ROOT, 'out', 'soak');
const DAEMON_BIN = process.env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift');
const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? Math.max(5, Math.round((MINUTES * 60) / 120)));
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
// Growth allowed from the third to the last quarter of the run: RSS as a
// fraction, descriptors as a count.
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
  const daemon = await startDaemon({ bin: DAEMON_BIN, args: ['--testing-tasks', 'true'] });
  const pid = daemon.process.pid;
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 60_000 });
  const hash = await client.crypto.argon2id.hash('soak password');

  const operations = [
    (i) => client.image.thumbnail({ input: photos[i % photos.length], widths: [320, 640], format: i % 2 ? 'webp' : 'jpeg' }),
    (i) => client.crypto.argon2id.hash(`password ${i}`),
    () => client.crypto.argon2id.verify(hash, 'soak password'),
  ];

  const samples = [];
  let latencies = [];
  let errors = 0;
  let calls = 0;
  const startMs = performance.now();
  const endMs = startMs + MINUTES * 60_000;

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
    const sample = {
      seconds: (performance.now() - startMs) / 1000,
      rssMiB: residentBytes(pid) / (1024 * 1024),
      fds: openDescriptors(pid),
      p99Ms: quantile(sorted, 0.99),
      calls: sorted.length,
    };
    samples.push(sample);
    console.log(
      `soak: ${sample.seconds.toFixed(0)} s rss=${sample.rssMiB.toFixed(1)} MiB fds=${sample.fds} ` +
        `p99=${sample.p99Ms.toFixed(1)} ms calls=${sample.calls}`,
    );
  }, SAMPLE_SECONDS * 1000);

  console.log(`soak: ${MINUTES} min of mixed load, ${CONCURRENCY} calls in flight, a sample every ${SAMPLE_SECONDS} s`);
  await Promise.all(Array.from({ length: CONCURRENCY }, (_unused, offset) => worker(offset)));
  clearInterval(sampler);
  client.close();
  const exit = await daemon.stop();

  // RSS swings with the calls in flight at each sample, so growth compares
  // the median of the last quarter with the median of the third quarter.
  const median = (values) => quantile([...values].sort((a, b) => a - b), 0.5);
  const half = Math.floor(samples.length / 2);
  const quarter = Math.floor((samples.length * 3) / 4);
  const thirdQuarter = samples.slice(half, quarter);
  const lastQuarter = samples.slice(quarter);
  const thirdRss = median(thirdQuarter.map((sample) => sample.rssMiB));
  const lastRss = median(lastQuarter.map((sample) => sample.rssMiB));
  const rssGrowth = (lastRss - thirdRss) / thirdRss;
  const fdGrowth =
    Math.max(...lastQuarter.map((sample) => sample.fds)) - Math.max(...thirdQuarter.map((sample) => sample.fds));
  const verdict = {
    minutes: MINUTES,
    calls,
    errors,
    daemonExit: exit,
    secondHalf: { thirdQuarterMedianRssMiB: thirdRss, lastQuarterMedianRssMiB: lastRss, rssGrowth, fdGrowth },
    flat: rssGrowth <= MAX_RSS_GROWTH && fdGrowth <= MAX_FD_GROWTH,
  };

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(path.join(OUT_DIR, 'soak.json'), JSON.stringify({ verdict, samples }, null, 2));
  writeFileSync(
    path.join(OUT_DIR, 'soak.svg'),
    plot(samples.map((sample) => sample.seconds), [
      { name: 'resident memory', unit: 'MiB', values: samples.map((sample) => sample.rssMiB) },
      { name: 'open file descriptors', unit: 'count', values: samples.map((sample) => sample.fds) },
      { name: 'p99 latency per interval', unit: 'ms', values: samples.map((sample) => sample.p99Ms) },
    ]),
  );
  console.log(
    `soak: ${calls} calls, ${errors} errors; median RSS ${thirdRss.toFixed(1)} MiB in the third quarter, ` +
      `${lastRss.toFixed(1)} MiB in the last ` +
      `(${(rssGrowth * 100).toFixed(1)}%, bound ${MAX_RSS_GROWTH * 100}%), descriptors +${fdGrowth} (bound ${MAX_FD_GROWTH}); ` +
      `plot in ${path.relative(REPO_ROOT, path.join(OUT_DIR, 'soak.svg'))}`,
  );
  if (!verdict.flat || errors > 0 || exit.code !== 0) {
    console.error('soak: FAILED: memory or descriptors grew, calls failed, or the daemon did not exit cleanly');
    process.exit(1);
  }
}

await main();
