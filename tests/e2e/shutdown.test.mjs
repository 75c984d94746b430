// SIGTERM while calls are in flight: accepted work finishes or fails with a
// typed error, readiness drops, and the daemon exits 0 within the grace period.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';

import { createClient, UnavailableError } from 'heavylift';

import { httpGet, parseArgon2idPhc, PHOTOS, readJpegSize, startTestDaemon } from './lib/helpers.mjs';

const GRACE_MS = 10_000;
// Time allowed on top of the grace period for the process to exit and be reaped.
const EXIT_SLACK_MS = 2_000;
const CALL_COUNT = 40;
const SETTLED_BEFORE_SIGNAL = 4;
const WIDTHS = [320, 640];

test('SIGTERM during load', async (t) => {
  const daemon = await startTestDaemon(['--shutdown-grace-ms', String(GRACE_MS)]);
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 60_000 });
  const photos = await Promise.all([PHOTOS.dune, PHOTOS.aqua, PHOTOS.elephants4k].map((file) => readFile(file)));

  try {
    let settledCount = 0;
    let signalSentAtMs;
    let reachedSignalPoint;
    const signalPoint = new Promise((resolve) => {
      reachedSignalPoint = resolve;
    });
    const track = (call) =>
      call.finally(() => {
        settledCount += 1;
        if (settledCount === SETTLED_BEFORE_SIGNAL) {
          reachedSignalPoint();
        }
      });

    // Every call records when it settled, which separates the calls that
    // finished after the signal from those done before it.
    const calls = Array.from({ length: CALL_COUNT }, (_unused, i) => {
      const kind = i % 2 === 0 ? 'thumbnail' : 'argon2id';
      const request =
        kind === 'thumbnail'
          ? client.image.thumbnail({ input: photos[i % photos.length], widths: WIDTHS, format: 'jpeg' })
          : client.crypto.argon2id.hash(`password-${i}`);
      return track(request).then(
        (value) => ({ kind, status: 'fulfilled', value, settledAtMs: performance.now() }),
        (reason) => ({ kind, status: 'rejected', reason, settledAtMs: performance.now() }),
      );
    });

    await withTimeout(signalPoint, 30_000, `fewer than ${SETTLED_BEFORE_SIGNAL} calls settled`);
    assert.ok(settledCount < CALL_COUNT, 'all calls settled before the signal, so nothing was in flight');

    signalSentAtMs = performance.now();
    const exitPromise = daemon.stop('SIGTERM', GRACE_MS + EXIT_SLACK_MS);
    const readiness = await pollReadinessAfterSignal(daemon.httpAddress, exitPromise);
    const exit = await withTimeout(exitPromise, GRACE_MS + EXIT_SLACK_MS, 'daemon did not exit within the grace period');
    const exitAfterMs = performance.now() - signalSentAtMs;
    const outcomes = await withTimeout(Promise.all(calls), 5_000, 'calls still pending after the daemon exited');

    assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);
    assert.ok(exitAfterMs <= GRACE_MS + EXIT_SLACK_MS, `daemon took ${exitAfterMs.toFixed(0)} ms to exit`);
    assert.ok(
      readiness === 503 || readiness === 'refused',
      `/readyz answered ${readiness} after SIGTERM, expected 503 or a refused connection`,
    );

    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') {
        assertValidResult(outcome, i);
      } else {
        const error = outcome.reason;
        assert.ok(
          error instanceof UnavailableError,
          `call ${i} (${outcome.kind}) failed with ${error?.name} ${error?.codeName}: ${error?.message}`,
        );
      }
    }
    const settledAtSignal = outcomes.filter((outcome) => outcome.settledAtMs <= signalSentAtMs).length;
    const finishedAfterSignal = outcomes.filter(
      (outcome) => outcome.status === 'fulfilled' && outcome.settledAtMs > signalSentAtMs,
    );
    const failures = outcomes
      .filter((outcome) => outcome.status === 'rejected')
      .map((outcome) => `${outcome.kind} ${outcome.reason?.codeName}: ${outcome.reason?.message}`);
    t.diagnostic(
      `${CALL_COUNT} calls: ${settledAtSignal} settled before SIGTERM, ${finishedAfterSignal.length} succeeded after it, ` +
        `${failures.length} failed; /readyz after the signal: ${readiness}; exit ${exitAfterMs.toFixed(0)} ms after the signal`,
    );
    for (const failure of new Set(failures)) {
      t.diagnostic(`failure: ${failure}`);
    }
    assert.ok(finishedAfterSignal.length > 0, 'no call in flight at SIGTERM finished successfully');
  } finally {
    client.close();
    if (daemon.process.exitCode === null && daemon.process.signalCode === null) {
      await daemon.stop('SIGKILL');
    }
  }
});

function assertValidResult(outcome, index) {
  if (outcome.kind === 'thumbnail') {
    const { thumbnails } = outcome.value;
    assert.equal(thumbnails.length, WIDTHS.length, `call ${index}: thumbnail count`);
    for (const [j, thumbnail] of thumbnails.entries()) {
      const size = readJpegSize(thumbnail.data);
      assert.equal(size.width, thumbnail.width, `call ${index}: thumbnail ${j} JPEG width`);
      assert.equal(size.height, thumbnail.height, `call ${index}: thumbnail ${j} JPEG height`);
      assert.equal(thumbnail.width, WIDTHS[j], `call ${index}: thumbnail ${j} width`);
    }
    return;
  }
  const parameters = parseArgon2idPhc(outcome.value);
  assert.ok(parameters, `call ${index}: invalid PHC string ${outcome.value}`);
  assert.deepEqual(parameters, { m: 19456, t: 2, p: 1 }, `call ${index}: PHC parameters`);
}

// Polls /readyz until it returns 503 or the connection is refused, as it is
// once the daemon has exited. Returns 503, 'refused', or the status or error
// of the first request sent after the exit.
async function pollReadinessAfterSignal(httpAddress, exitPromise) {
  let exited = false;
  exitPromise.finally(() => {
    exited = true;
  }).catch(() => {});

  for (;;) {
    const exitedBeforeRequest = exited;
    try {
      const response = await httpGet(httpAddress, '/readyz');
      if (response.status === 503) {
        return 503;
      }
      if (exitedBeforeRequest) {
        return response.status;
      }
    } catch (error) {
      if (error?.cause?.code === 'ECONNREFUSED') {
        return 'refused';
      }
      if (exitedBeforeRequest) {
        return `${error.name}: ${error.cause?.code ?? error.message}`;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (after ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('SIGTERM with a grace period too short for the load', async (t) => {
  // 200 ms cannot fit 30 large calls on 2 cores: the calls cut off at the
  // deadline must fail with UNAVAILABLE, which callers may retry, never with
  // a transport error or INTERNAL.
  const daemon = await startTestDaemon(['--shutdown-grace-ms', '200']);
  const client = createClient({ address: daemon.grpcAddress, deadlineMs: 60_000 });
  const photo = await readFile(PHOTOS.elephants4k);

  try {
    assert.equal(await client.health(), 'SERVING');
    const calls = Array.from({ length: 30 }, (_unused, i) =>
      (i % 2 === 0
        ? client.image.thumbnail({ input: photo, widths: [320, 1280] })
        : client.crypto.argon2id.hash(`password-${i}`, { memoryCost: 65536, timeCost: 3 })
      ).then(
        () => ({ status: 'fulfilled' }),
        (reason) => ({ status: 'rejected', reason }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    const exit = await daemon.stop('SIGTERM', 10_000);
    const outcomes = await Promise.all(calls);
    assert.equal(exit.code, 0, `daemon exited with ${JSON.stringify(exit)}; logs:\n${daemon.logs()}`);

    const failures = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => outcome.reason);
    assert.ok(failures.length > 0, 'every call finished within 200 ms, so the grace period cut nothing off');
    for (const error of failures) {
      assert.ok(
        error instanceof UnavailableError,
        `a call cut off by the shutdown failed with ${error?.name} ${error?.codeName}: ${error?.message}`,
      );
      // CALL_DROPPED: gRPC dropped a call whose request was still arriving when the daemon
      // stopped listening, before the daemon could reply to it.
      assert.ok(['SHUTTING_DOWN', 'CALL_DROPPED'].includes(error.reason), `reason ${error.reason}`);
    }
    t.diagnostic(`${outcomes.length - failures.length} calls succeeded, ${failures.length} got UNAVAILABLE`);
    assert.match(daemon.logs(), /event=server\.grace_expired/);
  } finally {
    client.close();
    if (daemon.process.exitCode === null && daemon.process.signalCode === null) {
      await daemon.stop('SIGKILL');
    }
  }
});
