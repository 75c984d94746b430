// A traceparent that an Express route sends with its gRPC call and with the
// BullMQ job it enqueues shows up as the same trace_id in the daemon's log
// lines for both. BullMQ carries it as telemetry metadata (the job option
// `telemetry.metadata`, stored as `tm`), the field its OpenTelemetry
// integration writes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { childTraceparent, createClient, traceIdOf } from 'heavylift';

import { openQueue, RedisServer, removeDir, startWorker, uniqueQueueName } from './lib.mjs';

describe('bullmq trace context', () => {
  let redis;
  let daemon;
  let q;
  let client;

  before(async () => {
    redis = await RedisServer.start();
    const queueName = uniqueQueueName('trace');
    daemon = await startWorker(redis, queueName, ['--log-level', 'debug']);
    q = await openQueue(redis, queueName);
    client = createClient({ address: daemon.grpcAddress });
  });

  after(async () => {
    client?.close();
    await q?.close();
    if (daemon) {
      await daemon.stop();
      await removeDir(daemon.journalDir);
    }
    await redis?.stop();
  });

  it('one trace id covers the call and its job', async () => {
    const traceparent = childTraceparent();
    const traceId = traceIdOf(traceparent);

    await client.crypto.argon2id.hash('pw', { memoryCost: 1024, timeCost: 1, traceparent });
    const job = await q.queue.add(
      'testing.echo',
      { payload: Buffer.from('traced').toString('base64') },
      { telemetry: { metadata: JSON.stringify({ traceparent }) } },
    );
    await job.waitUntilFinished(q.events, 30_000);

    const callLine = await daemon.waitForLog(new RegExp(`task=crypto\\.argon2id\\.hash .*trace_id=${traceId}`));
    assert.match(callLine, /event=task\.finished/);
    const taskLine = await daemon.waitForLog(new RegExp(`task=testing\\.echo .*trace_id=${traceId}`));
    assert.match(taskLine, /event=task\.finished/);
    const jobLine = await daemon.waitForLog(new RegExp(`event=bullmq\\.job_completed job_id=${job.id} .*trace_id=${traceId}`));
    assert.match(jobLine, /task=testing\.echo/);
  });

  it('failed job log line carries trace id', async () => {
    const traceparent = childTraceparent();
    const traceId = traceIdOf(traceparent);
    const job = await q.queue.add(
      'testing.fail',
      { code: 'FAILED_PRECONDITION', message: 'traced failure' },
      { telemetry: { metadata: traceparent } },
    );
    await assert.rejects(job.waitUntilFinished(q.events, 30_000), /traced failure/);

    const line = await daemon.waitForLog(new RegExp(`event=bullmq\\.job_failed job_id=${job.id} .*trace_id=${traceId}`));
    assert.match(line, /outcome=failed/);
  });

  it('invalid telemetry logs no trace id', async () => {
    const job = await q.queue.add('testing.echo', { payload: '' }, { telemetry: { metadata: 'not a traceparent' } });
    await job.waitUntilFinished(q.events, 30_000);
    const line = await daemon.waitForLog(new RegExp(`event=bullmq\\.job_completed job_id=${job.id} `));
    assert.doesNotMatch(line, /trace_id=/);
  });
});
