// client.health against a real daemon, through the standard grpc.health.v1 service.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createClient, NotFoundError, type HeavyliftClient } from 'heavylift';

import { useDaemon } from './support';

describe('health with a daemon', () => {
  const fixture = useDaemon();
  let client: HeavyliftClient;

  before(() => {
    client = createClient({ address: fixture.daemon.grpcAddress });
  });

  after(() => client?.close());

  test('health reports SERVING', async () => {
    assert.equal(await client.health(), 'SERVING');
  });

  test('health of an unknown service is NotFoundError', async () => {
    await assert.rejects(client.health({ service: 'no.such.Service', requestId: 'health-1' }), (error) => {
      assert.ok(error instanceof NotFoundError, `expected NotFoundError, got ${String(error)}`);
      assert.equal(error.code, 5);
      assert.equal(error.codeName, 'NOT_FOUND');
      assert.equal(error.requestId, 'health-1');
      return true;
    });
  });
});
