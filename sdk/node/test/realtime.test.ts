// The realtime methods' checks at the API edge. Nothing here needs a daemon: the client points at a port where nothing listens, so a call that was sent
// would fail with UnavailableError instead of the expected error.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { createClient, InvalidArgumentError } from 'heavylift';

const client = createClient({ address: '127.0.0.1:1', deadlineMs: 2000 });
after(() => client.close());

describe('realtime validation', () => {
  test('emit requires event name', async () => {
    await assert.rejects(client.realtime.emit({ event: '' }), InvalidArgumentError);
  });

  test('emit rejects non-string room', async () => {
    await assert.rejects(
      client.realtime.emit({ event: 'e', rooms: [7 as unknown as string] }),
      (error: InvalidArgumentError) => {
        assert.match(error.message, /rooms\[0\]/);
        return true;
      },
    );
  });

  test('join requires socket or user', async () => {
    await assert.rejects(client.realtime.join({ room: 'r' } as never), InvalidArgumentError);
  });

  test('emitWithAck bounds timeout', async () => {
    await assert.rejects(
      client.realtime.emitWithAck({ socketId: 's', event: 'e', timeoutMs: 0 }),
      InvalidArgumentError,
    );
  });
});
