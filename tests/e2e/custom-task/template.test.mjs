// The task template, used as a team would use it. scripts/heavylift-new-task makes a
// project from a clean copy and CMake builds it into a daemon against this heavylift build
// tree. Node then calls the new task over gRPC with message types from heavylift-gen, and
// enqueues it to the daemon's BullMQ worker on a real redis-server with the task set that
// heavylift-gen --task writes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { createClient, createJobs, InvalidArgumentError, UnimplementedError } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

import { readMetrics, rejectionOf, REPO_ROOT, sumSamples } from '../lib/helpers.mjs';
import { RedisServer } from '../lib/redis.mjs';
import { BUILD_TIMEOUT_MS, buildDaemon, genDir, generateTypes, workDir } from './lib.mjs';

const run = promisify(execFile);

describe('a task made from the template', { timeout: BUILD_TIMEOUT_MS + 60_000 }, () => {
  const sourceDir = workDir('widget');
  let daemon;
  let client;
  let types;
  let redis;
  let jobs;

  before(async () => {
    // The source is copied afresh each run; the build directory is kept, so
    // the build is incremental and ccache serves unchanged objects.
    await rm(sourceDir, { recursive: true, force: true });
    await run(path.join(REPO_ROOT, 'scripts', 'heavylift-new-task'), ['widget', sourceDir]);
    const bin = await buildDaemon(sourceDir, `${sourceDir}-build`, 'heavylift-widget');
    const out = genDir('widget');
    await generateTypes(path.join(sourceDir, 'proto'), [path.join(sourceDir, 'proto', 'widget', 'v1', 'widget.proto')], out,
      ['widget.run=RunRequest:RunResponse']);
    types = await import(pathToFileURL(path.join(out, 'widget', 'v1', 'widget.js')).href);
    const { tasks } = await import(pathToFileURL(path.join(out, 'heavylift-tasks.js')).href);
    redis = await RedisServer.start();
    daemon = await startDaemon({ bin, args: ['--bullmq-redis-url', redis.url, '--bullmq-queue', 'widgets'] });
    await daemon.waitForLog('event=bullmq.worker_started', 30_000);
    client = createClient({ address: daemon.grpcAddress, deadlineMs: 10_000 });
    jobs = createJobs({ connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, queueName: 'widgets', tasks });
  });

  after(async () => {
    client?.close();
    await jobs?.close();
    if (daemon) {
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);
    }
    await redis?.stop();
  });

  const widgetTypes = () => ({ requestType: types.RunRequest, responseType: types.RunResponse });

  test('serves widget.run over gRPC with the generated types', async () => {
    const response = await client.task('widget.run', { text: 'ab', repeat: 3 }, widgetTypes());
    assert.deepEqual(response, { text: 'ababab', attempt: 1 });
  });

  test('a bound the task checks reaches Node as InvalidArgumentError with field and bound', async () => {
    const error = await rejectionOf(client.task('widget.run', { text: 'x', repeat: 5000 }, widgetTypes()));
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'repeat');
    assert.equal(error.bound, 'in 1..1000');
    assert.equal(error.value, '5000');
  });

  test('the built-in tasks are still served next to the custom one', async () => {
    const hash = await client.crypto.argon2id.hash('template password', { memoryCost: 1024, timeCost: 1 });
    assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    const error = await rejectionOf(client.task('widget.missing', {}, widgetTypes()));
    assert.ok(error instanceof UnimplementedError, String(error));
    assert.equal(error.reason, 'UNKNOWN_TASK');
  });

  test('the custom task has the same metrics and log lines as built-in ones', async () => {
    const samples = await readMetrics(daemon.httpAddress);
    assert.equal(sumSamples(samples, 'heavylift_requests_total', { task: 'widget.run', code: 'OK' }), 1);
    assert.equal(sumSamples(samples, 'heavylift_requests_total', { task: 'widget.run', code: 'INVALID_ARGUMENT' }), 1);
    assert.ok(sumSamples(samples, 'heavylift_request_duration_seconds_count', { task: 'widget.run' }) >= 2);
    await daemon.waitForLog(/event=task\.failed task=widget\.run .*code=INVALID_ARGUMENT/);
  });

  test('serves widget.run from the BullMQ queue', async () => {
    const job = await jobs.enqueue('widget.run', { text: 'xy', repeat: 2 });
    assert.deepEqual(job.data, { text: 'xy', repeat: 2 });
    assert.deepEqual(await jobs.result(job, { timeoutMs: 60_000 }), { text: 'xyxy', attempt: 1 });
    const failed = await jobs.enqueue('widget.run', { text: 'x', repeat: 0 });
    const error = await rejectionOf(jobs.result(failed, { timeoutMs: 60_000 }));
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.field, 'repeat');
    assert.equal(error.bound, 'in 1..1000');
    const misspelt = await rejectionOf(jobs.enqueue('widget.run', { text: 'x', repeats: 2 }));
    assert.ok(misspelt instanceof InvalidArgumentError, String(misspelt));
    assert.equal(misspelt.field, 'request.repeats');
  });
});
