// The daemon's HTTP endpoints: health, readiness and Prometheus metrics that
// count the gRPC calls just made.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';

import { InvalidArgumentError } from 'heavylift';

import { httpGet, PHOTOS, readMetrics, rejectionOf, useDaemon, sumSamples } from './lib/helpers.mjs';

const REQUESTS_TOTAL = 'heavylift_requests_total';
const DURATION_COUNT = 'heavylift_request_duration_seconds_count';

describe('HTTP endpoints', () => {
  const running = useDaemon();

  test('GET /healthz returns 200', async () => {
    const response = await httpGet(running.daemon.httpAddress, '/healthz');

    assert.equal(response.status, 200);
  });

  test('GET /readyz returns 200', async () => {
    const response = await httpGet(running.daemon.httpAddress, '/readyz');

    assert.equal(response.status, 200);
  });

  // Runs before any call, because series that appear only after the first
  // call break rate() queries and absence alerts on a fresh daemon.
  test('fresh /metrics declares every metric', async () => {
    const response = await httpGet(running.daemon.httpAddress, '/metrics');

    assert.equal(response.status, 200);
    assert.match(response.contentType, /^text\/plain/);
    for (const name of [
      'heavylift_requests_total',
      'heavylift_request_duration_seconds',
      'heavylift_executor_queue_depth',
      'heavylift_executor_rejections_total',
    ]) {
      assert.match(response.body, new RegExp(`^# TYPE ${name} `, 'm'), `no # TYPE line for ${name}`);
    }
  });

  test('GET /metrics counts calls just made', async () => {
    const metricsBefore = await readMetrics(running.daemon.httpAddress);
    const photo = await readFile(PHOTOS.dune);

    await running.client.image.thumbnail({ input: photo, widths: [320] });
    await running.client.image.thumbnail({ input: photo, widths: [320, 640], format: 'webp' });
    const hash = await running.client.crypto.argon2id.hash('correct horse battery staple');
    assert.equal(await running.client.crypto.argon2id.verify(hash, 'correct horse battery staple'), true);
    // 1048576 KiB is above the daemon's default bound of 262144, so only the daemon rejects it.
    const error = await rejectionOf(running.client.crypto.argon2id.hash('pw', { memoryCost: 1_048_576 }));
    assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error?.name}`);

    const afterCalls = await readMetrics(running.daemon.httpAddress);
    const delta = (name, labels) => sumSamples(afterCalls, name, labels) - sumSamples(metricsBefore, name, labels);
    assert.equal(delta(REQUESTS_TOTAL, { task: 'image.thumbnail', code: 'OK' }), 2);
    assert.equal(delta(REQUESTS_TOTAL, { task: 'crypto.argon2id.hash', code: 'OK' }), 1);
    assert.equal(delta(REQUESTS_TOTAL, { task: 'crypto.argon2id.verify', code: 'OK' }), 1);
    assert.equal(delta(REQUESTS_TOTAL, { task: 'crypto.argon2id.hash', code: 'INVALID_ARGUMENT' }), 1);
    assert.equal(delta(DURATION_COUNT, { task: 'image.thumbnail' }), 2);
    assert.equal(delta(DURATION_COUNT, { task: 'crypto.argon2id.verify' }), 1);
    for (const name of ['heavylift_requests_total', 'heavylift_request_duration_seconds_bucket']) {
      assert.ok(afterCalls.some((sample) => sample.name === name), `no ${name} sample after calls`);
    }
  });

  test('GET /metrics shows idle executor', async () => {
    const samples = await readMetrics(running.daemon.httpAddress);

    assert.ok(samples.some((sample) => sample.name === 'heavylift_executor_queue_depth'), 'no queue depth sample');
    assert.equal(sumSamples(samples, 'heavylift_executor_queue_depth'), 0);
    assert.ok(samples.some((sample) => sample.name === 'heavylift_executor_rejections_total'), 'no rejections sample');
    assert.equal(sumSamples(samples, 'heavylift_executor_rejections_total'), 0);
  });

  test('unknown HTTP path returns 404', async () => {
    const response = await httpGet(running.daemon.httpAddress, '/no-such-path');

    assert.equal(response.status, 404);
  });
});
