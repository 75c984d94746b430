// Memory under load: many concurrent argon2id hashes at m=19 MiB stay within
// the configured crypto memory budget; the extra hashes queue and all finish.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { readMetrics, sumSamples, useDaemon } from '../lib/helpers.mjs';

const MEMORY_COST_KIB = 19456;
const BUDGET_KIB = 4 * MEMORY_COST_KIB;
// The sanitizer build is slower; fewer calls still exceed the budget fourfold.
const CALLS = process.env.HEAVYLIFT_E2E_SANITIZED ? 16 : 64;

describe('crypto memory budget', () => {
  const running = useDaemon(
    ['--executor-threads', '16', '--executor-queue-capacity', '128', '--crypto-memory-budget', String(BUDGET_KIB)],
    { deadlineMs: 300_000 },
  );

  test(`${CALLS} concurrent argon2id hashes at m=19 MiB stay within a ${BUDGET_KIB} KiB budget`, async () => {
    const hashes = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        running.client.crypto.argon2id.hash(`concurrent-${i}`, { memoryCost: MEMORY_COST_KIB, timeCost: 1 }),
      ),
    );
    assert.equal(hashes.length, CALLS);
    assert.ok(hashes.every((hash) => hash.startsWith('$argon2id$v=19$m=19456,t=1,p=1$')));

    const samples = await readMetrics(running.daemon.httpAddress);
    const peak = sumSamples(samples, 'heavylift_crypto_memory_peak_kib');
    assert.ok(peak <= BUDGET_KIB, `peak ${peak} KiB is over the ${BUDGET_KIB} KiB budget`);
    assert.ok(peak >= 2 * MEMORY_COST_KIB, `peak ${peak} KiB: the hashes never ran side by side`);
    assert.equal(sumSamples(samples, 'heavylift_crypto_memory_in_use_kib'), 0);
    assert.equal(sumSamples(samples, 'heavylift_crypto_memory_waiting'), 0);
  });

  test('a hash larger than the whole budget fails at once', async () => {
    const error = await running.client.crypto.argon2id.hash('big', { memoryCost: BUDGET_KIB + 1 }).catch((e) => e);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.equal(error.field, 'memoryCost');
  });
});
