// A W3C traceparent sent from Node shows up as trace_id in the daemon's log
// lines for the work it caused.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidArgumentError, childTraceparent, createClient, traceIdOf } from 'heavylift';

import { useDaemon } from '../lib/helpers.mjs';

const running = useDaemon(['--log-level', 'debug']);

test('call traceparent reaches the task log line', async () => {
  const traceparent = childTraceparent();
  await running.client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1, traceparent });
  const line = await running.daemon.waitForLog(`trace_id=${traceIdOf(traceparent)}`);
  assert.match(line, /event=task\.finished task=crypto\.argon2id\.hash/);
});

test('client traceparent provider applies to calls without one', async () => {
  const traceparent = childTraceparent();
  const client = createClient({ address: running.daemon.grpcAddress, traceparent: () => traceparent });
  try {
    await client.crypto.argon2id.verify('$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'pw');
  } finally {
    client.close();
  }
  const line = await running.daemon.waitForLog(`trace_id=${traceIdOf(traceparent)}`);
  assert.match(line, /task=crypto\.argon2id\.verify/);
});

test('failed task log line carries trace id', async () => {
  const traceparent = childTraceparent();
  await assert.rejects(running.client.crypto.argon2id.hash('pw', { memoryCost: 1, traceparent }), InvalidArgumentError);
  // The SDK rejects memoryCost 1 before sending, so send one the daemon rejects.
  await assert.rejects(
    running.client.crypto.argon2id.verify('$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'pw', {
      traceparent,
    }),
    InvalidArgumentError,
  );
  const line = await running.daemon.waitForLog(`trace_id=${traceIdOf(traceparent)}`);
  assert.match(line, /event=task\.failed/);
});

test('invalid traceparent option is rejected before sending', async () => {
  await assert.rejects(running.client.crypto.argon2id.hash('pw', { traceparent: 'not-a-trace' }), (error) => {
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.field, 'traceparent');
    return true;
  });
});
