// Shared fixtures for the end-to-end tests: where the daemon binary and the
// photos are, a daemon launcher that keeps its logs, HTTP and Prometheus
// helpers, and decoders for the headers of the returned images.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { after, before } from 'node:test';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

// libmongoc keeps counters in /dev/shm/mongoc-<pid>; a killed daemon leaves
// its file behind, and a later process given the same pid then prints a
// warning on stderr before main. Every process the tests start inherits this.
process.env.MONGOC_DISABLE_SHM ??= '1';

const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '..', '..');

/** The daemon binary under test; HEAVYLIFT_BIN overrides the release build. */
export const DAEMON_BIN =
  process.env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift');

/** Real photos from Debian's mate-backgrounds package. */
export const PHOTOS_DIR = process.env.E2E_PHOTOS ?? '/usr/share/backgrounds/mate';
export const PHOTOS = {
  // 1680x1050 baseline JPEG with EXIF, 1.0 MB.
  dune: path.join(PHOTOS_DIR, 'nature', 'Dune.jpg'),
  // 2560x1600 JPEG whose headers end at byte 398, so its first 2 KB hold
  // valid headers followed by the start of the compressed scan.
  aqua: path.join(PHOTOS_DIR, 'nature', 'Aqua.jpg'),
  // 3840x2160 JPEG, 8.5 MB.
  elephants4k: path.join(PHOTOS_DIR, 'abstract', 'Elephants_3840x2160.jpg'),
  // 5640x3172 JPEG (17,890,080 pixels), 16 MB.
  elephantsLarge: path.join(PHOTOS_DIR, 'abstract', 'Elephants_5640x3172.jpg'),
};

const DAEMON_START_TIMEOUT_MS = 20_000;

/**
 * Starts the daemon binary with `args` on loopback ports chosen by the OS and
 * returns the SDK's handle. When the start fails, the error names the binary
 * and flags, and carries the daemon's output.
 */
export async function startTestDaemon(args = []) {
  try {
    return await startDaemon({ bin: DAEMON_BIN, args, timeoutMs: DAEMON_START_TIMEOUT_MS });
  } catch (error) {
    error.message = `failed to start ${DAEMON_BIN} ${args.join(' ')}: ${error.message}`;
    throw error;
  }
}

/**
 * Starts a daemon with `args` before the tests of the enclosing `describe` and
 * stops it after them, asserting that it exits 0 (so a crash or a sanitizer
 * report fails the suite). `args` may be a function, called in the hook, for
 * flags that depend on other `before` hooks. Returns an object whose `daemon`
 * and `client` (a heavylift client with `deadlineMs` and the createClient options in
 * `client`) are set once the hook ran.
 */
export function useDaemon(args = [], { deadlineMs = 30_000, client = {} } = {}) {
  const running = { daemon: undefined, client: undefined };

  before(async () => {
    running.daemon = await startTestDaemon(typeof args === 'function' ? args() : args);
    running.client = createClient({ ...client, address: running.daemon.grpcAddress, deadlineMs });
  });

  after(async () => {
    running.client?.close();
    if (running.daemon) {
      const exit = await running.daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${running.daemon.logs()}`);
    }
  });

  return running;
}

/** Sends GET `urlPath` to the daemon's HTTP address and returns status, content type and body. */
export async function httpGet(httpAddress, urlPath) {
  const response = await fetch(`http://${httpAddress}${urlPath}`, {
    signal: AbortSignal.timeout(5_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: await response.text(),
  };
}

/**
 * Parses Prometheus text exposition into samples `{ name, labels, value }`.
 * Comment lines (# HELP, # TYPE) are skipped, and label values may contain
 * escaped quotes and commas.
 */
export function parsePrometheusText(text) {
  const samples = [];
  const samplePattern = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
  const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      continue;
    }
    const match = samplePattern.exec(trimmed);
    assert.ok(match, `malformed /metrics line: ${trimmed}`);
    const labels = {};
    for (const [, key, rawValue] of (match[2] ?? '').matchAll(labelPattern)) {
      labels[key] = rawValue.replace(/\\(.)/g, (_escape, character) => (character === 'n' ? '\n' : character));
    }
    samples.push({ name: match[1], labels, value: parseSampleValue(match[3]) });
  }
  return samples;
}

// Parses a sample value, which Prometheus writes as a float, +Inf, -Inf or NaN.
function parseSampleValue(text) {
  if (text === '+Inf') {
    return Infinity;
  }
  if (text === '-Inf') {
    return -Infinity;
  }
  return Number(text);
}

/** Sums the samples named `name` whose labels include every pair in `labels`. */
export function sumSamples(samples, name, labels = {}) {
  return samples
    .filter((sample) => sample.name === name)
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((total, sample) => total + sample.value, 0);
}

/** Fetches /metrics and returns its parsed samples. */
export async function readMetrics(httpAddress) {
  const response = await httpGet(httpAddress, '/metrics');
  assert.equal(response.status, 200, `GET /metrics returned ${response.status}: ${response.body}`);
  return parsePrometheusText(response.body);
}

/** Waits until `predicate()` resolves true, polling every `intervalMs`, or throws after `timeoutMs`. */
export async function waitFor(predicate, timeoutMs, what, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Reads /metrics every 100 ms until `predicate(samples)` returns true or `timeoutMs` pass, and
 * returns the last reading, so that the caller's asserts report the values it saw. Use it for
 * state that the daemon records after the client has its reply.
 */
export async function readMetricsUntil(httpAddress, predicate, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let samples = await readMetrics(httpAddress);
  while (!predicate(samples) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    samples = await readMetrics(httpAddress);
  }
  return samples;
}

/**
 * Reads the width and height of a baseline or progressive JPEG from its
 * start-of-frame segment. Throws when `data` is not a JPEG or has no frame.
 */
export function readJpegSize(data) {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8 || data[2] !== 0xff) {
    throw new Error(`not a JPEG: starts with ${data.subarray(0, 4).toString('hex')}`);
  }
  let offset = 2;
  while (offset + 4 <= data.length) {
    if (data[offset] !== 0xff) {
      throw new Error(`JPEG marker expected at byte ${offset}`);
    }
    const marker = data[offset + 1];
    const segmentLength = data.readUInt16BE(offset + 2);
    // Markers C0..CF start a frame, except DHT (C4), JPG (C8) and DAC (CC).
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isStartOfFrame) {
      return { height: data.readUInt16BE(offset + 5), width: data.readUInt16BE(offset + 7) };
    }
    if (marker === 0xda) {
      break;
    }
    offset += 2 + segmentLength;
  }
  throw new Error('JPEG has no start-of-frame segment before its scan');
}

/** Returns true when `data` starts with a RIFF container holding WebP. */
export function isWebp(data) {
  return data.length > 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP';
}

/**
 * Returns a deterministic pseudo-random byte generator (mulberry32), so that
 * the "random" inputs are the same on every run and a failure can be replayed.
 */
export function makeRandomBytes(seed) {
  let state = seed >>> 0;
  return (length) => {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i += 1) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      bytes[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
    }
    return bytes;
  };
}

/** Awaits `promise` and returns its rejection reason. Fails the test when it resolves. */
export async function rejectionOf(promise) {
  try {
    const value = await promise;
    assert.fail(`expected the call to fail, but it resolved with ${describeValue(value)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) {
      throw error;
    }
    return error;
  }
}

/** Matches an argon2id PHC string and returns its m, t and p parameters as numbers. */
export function parseArgon2idPhc(hash) {
  const match = /^\$argon2id\$v=19\$([a-z]=\d+(?:,[a-z]=\d+)*)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{22,}$/.exec(hash);
  if (!match) {
    return undefined;
  }
  return Object.fromEntries(match[1].split(',').map((pair) => {
    const [key, value] = pair.split('=');
    return [key, Number(value)];
  }));
}

function describeValue(value) {
  if (value && typeof value === 'object' && Array.isArray(value.thumbnails)) {
    return `${value.thumbnails.length} thumbnails of a ${value.sourceWidth}x${value.sourceHeight} ${value.sourceFormat}`;
  }
  return String(value).slice(0, 120);
}
