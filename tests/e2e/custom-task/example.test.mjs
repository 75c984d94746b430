// The worked example and the failure paths of custom tasks, on one daemon
// built from tests/e2e/custom-task/fixture: catalog.search from
// examples/custom-task and faulty.run, linked with the built-in tasks.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import {
  createClient,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
} from 'heavylift';
import { startDaemon } from 'heavylift/testing';

import { readMetrics, rejectionOf, REPO_ROOT, sumSamples } from '../lib/helpers.mjs';
import { generateCatalog, search } from '../../../examples/custom-task/js/catalog.mjs';
import { BUILD_TIMEOUT_MS, buildDaemon, genDir, generateTypes, workDir } from './lib.mjs';

// The full catalog on the release daemon; fewer products under the sanitizers,
// which slow the C++ scan, with the same generator and checks.
const CATALOG_SIZE = process.env.HEAVYLIFT_E2E_SANITIZED ? 200_000 : 1_000_000;
const CATALOG_SEED = 7;

describe('custom tasks: the catalog example and failing tasks', { timeout: BUILD_TIMEOUT_MS + 120_000 }, () => {
  let daemon;
  let client;
  let catalogTypes;
  let faultyTypes;
  let products;

  before(async () => {
    const fixture = path.join(REPO_ROOT, 'tests', 'e2e', 'custom-task', 'fixture');
    const bin = await buildDaemon(fixture, workDir('fixture'), 'heavylift-e2e-custom');
    const out = genDir('fixture');
    await generateTypes(path.join(REPO_ROOT, 'examples', 'custom-task', 'server', 'proto'),
      [path.join(REPO_ROOT, 'examples', 'custom-task', 'server', 'proto', 'catalog', 'v1', 'catalog.proto')], out);
    await generateTypes(path.join(fixture, 'proto'), [path.join(fixture, 'proto', 'faulty', 'v1', 'faulty.proto')], out);
    const catalog = await import(pathToFileURL(path.join(out, 'catalog', 'v1', 'catalog.js')).href);
    const faulty = await import(pathToFileURL(path.join(out, 'faulty', 'v1', 'faulty.js')).href);
    catalogTypes = { requestType: catalog.SearchRequest, responseType: catalog.SearchResponse };
    faultyTypes = { requestType: faulty.FaultRequest, responseType: faulty.FaultResponse };
    daemon = await startDaemon({
      bin,
      args: ['--executor-threads', '2'],
      env: { CATALOG_SIZE: String(CATALOG_SIZE), CATALOG_SEED: String(CATALOG_SEED) },
      timeoutMs: 60_000,
    });
    client = createClient({ address: daemon.grpcAddress, deadlineMs: 30_000 });
    products = generateCatalog(CATALOG_SIZE, CATALOG_SEED);
  });

  after(async () => {
    client?.close();
    if (daemon) {
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);
    }
  });

  const searches = [
    { query: 'oak desk' },
    { query: 'Wooden CHAIR lamp', limit: 25 },
    { query: 'vintge', limit: 50 },
    { query: 'cer', category: 'kitchen', inStockOnly: true, limit: 20 },
    { query: 'slim walnut shelf', minPriceCents: 5_000, maxPriceCents: 20_000, minRating: 30, limit: 100 },
    { query: 'zzzz' },
  ];

  for (const request of searches) {
    test(`C++ and JavaScript return the same ranking for ${JSON.stringify(request)}`, async () => {
      const expected = search(products, request);
      const actual = await client.task('catalog.search', request, catalogTypes);
      assert.equal(actual.matched, expected.matched);
      assert.deepEqual(actual.products, expected.products);
      if (request.query !== 'zzzz') assert.ok(expected.products.length > 0, 'the query should match products');
    });
  }

  test('the example reports a bad search parameter with field and bound', async () => {
    const error = await rejectionOf(client.task('catalog.search', { query: 'desk', limit: 500 }, catalogTypes));
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'limit');
    assert.equal(error.bound, 'in 1..100');
    assert.equal(error.value, '500');
  });

  test('a task that throws reaches Node as InternalError and the daemon keeps serving', async () => {
    const error = await rejectionOf(client.task('faulty.run', { mode: 'throw' }, faultyTypes));
    assert.ok(error instanceof InternalError, String(error));
    assert.match(error.message, /faulty\.run threw on request/);
    assert.deepEqual(await client.task('faulty.run', { mode: 'ok', count: 4 }, faultyTypes), { mode: 'ok', count: 4 });
  });

  test('a task past its deadline reaches Node as DeadlineExceededError and stops in the daemon', async () => {
    const error = await rejectionOf(client.task('faulty.run', { mode: 'spin' }, { ...faultyTypes, deadlineMs: 300 }));
    assert.ok(error instanceof DeadlineExceededError, String(error));
    // The daemon's own check() ends the spin: the call is counted as DEADLINE_EXCEEDED and a
    // later call runs on the freed worker.
    await daemon.waitForLog(/event=task\.failed task=faulty\.run .*code=DEADLINE_EXCEEDED/, 5_000);
    assert.deepEqual(await client.task('faulty.run', { mode: 'ok', count: 1 }, faultyTypes), { mode: 'ok', count: 1 });
  });

  test('a task error code reaches Node as InvalidArgumentError with field and bound', async () => {
    const error = await rejectionOf(client.task('faulty.run', { mode: 'bound', count: 11 }, faultyTypes));
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'count');
    assert.equal(error.bound, 'at most 10');
    assert.equal(error.value, '11');
  });

  test('request bytes that do not parse fail with INVALID_ARGUMENT naming the request', async () => {
    const garbage = { encode: () => ({ finish: () => Uint8Array.of(0xff, 0xff, 0xff) }), decode: faultyTypes.responseType.decode };
    const error = await rejectionOf(client.task('faulty.run', {}, { requestType: garbage, responseType: faultyTypes.responseType }));
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'request');
    assert.equal(error.reason, 'UNDECODABLE_REQUEST');
  });

  test('failed custom calls are counted by task and code', async () => {
    const samples = await readMetrics(daemon.httpAddress);
    assert.equal(sumSamples(samples, 'heavylift_requests_total', { task: 'faulty.run', code: 'INTERNAL' }), 1);
    assert.equal(sumSamples(samples, 'heavylift_requests_total', { task: 'faulty.run', code: 'DEADLINE_EXCEEDED' }), 1);
    assert.equal(sumSamples(samples, 'heavylift_requests_total', { task: 'catalog.search', code: 'OK' }), searches.length);
  });
});
