// One SDK client over three daemons on 127.0.0.1-3: calls spread over all
// three, and with one daemon killed by SIGKILL mid-load, idempotent calls
// keep succeeding on the others.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createClient } from 'heavylift';

import { readMetrics, startTestDaemon, sumSamples } from '../lib/helpers.mjs';

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const daemons = [];

before(async () => {
  for (const host of HOSTS) {
    daemons.push(await startTestDaemon(['--grpc-address', `${host}:0`, '--security-allow-insecure', 'true']));
  }
});

after(async () => {
  for (const daemon of daemons) {
    if (daemon.process.exitCode === null && daemon.process.signalCode === null) await daemon.stop();
  }
});

async function verifyCount(daemon) {
  return sumSamples(await readMetrics(daemon.httpAddress), 'heavylift_requests_total', {
    task: 'crypto.argon2id.verify',
  });
}

test('calls spread over every instance and survive a SIGKILL', async () => {
  const client = createClient({ address: daemons.map((daemon) => daemon.grpcAddress), deadlineMs: 20_000 });
  const hash = await client.crypto.argon2id.hash('pw', { memoryCost: 256, timeCost: 1 });
  try {
    const verifyMany = (count) =>
      Promise.all(Array.from({ length: count }, () => client.crypto.argon2id.verify(hash, 'pw')));

    // round_robin sends calls only to connections that are ready, and a
    // slow daemon (the sanitizer build) may connect later than the others,
    // so batches go out until every instance has served one, for at most
    // 20 batches.
    const reached = async () => Promise.all(daemons.map(async (daemon) => (await verifyCount(daemon)) > 0));
    for (let batch = 0; batch < 20 && !(await reached()).every(Boolean); batch++) {
      assert.deepEqual(new Set(await verifyMany(30)), new Set([true]));
    }
    const served = await reached();
    daemons.forEach((daemon, index) => assert.ok(served[index], `no call reached ${daemon.grpcAddress}`));

    // Kill one instance while calls are in flight.
    const load = verifyMany(300);
    setTimeout(() => daemons[1].process.kill('SIGKILL'), 20);
    const results = await load;
    assert.equal(results.length, 300);
    assert.ok(results.every((match) => match === true));

    // Later calls go to the two survivors only.
    assert.ok((await verifyMany(30)).every((match) => match === true));
  } finally {
    client.close();
  }
});
