// The heavylift/testing helper: startDaemon's contract, on the real daemon and on small
// shell scripts that imitate a daemon's start-up output or failure.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createClient } from 'heavylift';
import { defaultDaemonBinary, startDaemon } from 'heavylift/testing';

let scriptDir: string;

before(async () => {
  scriptDir = await mkdtemp(join(tmpdir(), 'heavylift-testing-'));
});

after(async () => {
  await rm(scriptDir, { recursive: true, force: true });
});

/** Writes an executable shell script and returns its path. */
async function writeScript(name: string, body: string): Promise<string> {
  const path = join(scriptDir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('startDaemon with the real daemon', () => {
  test('listens on loopback and stops on SIGTERM', async (t) => {
    const daemon = await startDaemon();
    t.after(() => daemon.stop());

    assert.match(daemon.grpcAddress, /^127\.0\.0\.1:\d+$/);
    assert.match(daemon.httpAddress, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(daemon.grpcAddress.endsWith(':0'), true, 'the port should be the one the daemon bound');
    assert.match(daemon.logs(), /event=server\.listening/);

    const client = createClient({ address: daemon.grpcAddress });
    try {
      assert.equal(await client.health(), 'SERVING');
    } finally {
      client.close();
    }

    const exit = await daemon.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(await daemon.stop(), exit, 'a second stop returns the same exit');
  });

  test('invalid flag rejects with the daemon output', async () => {
    await assert.rejects(startDaemon({ args: ['--no-such-flag'] }), /exited with exit code \d+ before logging event=server\.listening[\s\S]*no-such-flag/);
  });
});

describe('startDaemon with stand-in scripts', () => {
  test('missing binary names the path and the fix', async () => {
    const bin = join(scriptDir, 'missing-heavylift');
    await assert.rejects(startDaemon({ bin }), (error: Error) => {
      assert.ok(error.message.includes(bin));
      assert.match(error.message, /HEAVYLIFT_BIN/);
      return true;
    });
  });

  test('default binary honours HEAVYLIFT_BIN', () => {
    const saved = process.env.HEAVYLIFT_BIN;
    try {
      process.env.HEAVYLIFT_BIN = '/opt/heavylift/bin/heavylift';
      assert.equal(defaultDaemonBinary(), '/opt/heavylift/bin/heavylift');
      delete process.env.HEAVYLIFT_BIN;
      assert.match(defaultDaemonBinary(), /build\/release\/heavylift$/);
    } finally {
      if (saved === undefined) {
        delete process.env.HEAVYLIFT_BIN;
      } else {
        process.env.HEAVYLIFT_BIN = saved;
      }
    }
  });

  test('early exit includes stderr', async () => {
    const bin = await writeScript('early-exit', 'echo "error: cannot open blob root" >&2\nexit 3');
    await assert.rejects(startDaemon({ bin }), /exited with exit code 3 before logging[\s\S]*cannot open blob root/);
  });

  test('timeout includes stderr and kills the process', async () => {
    const bin = await writeScript('silent', 'echo "loading config" >&2\nexec sleep 30');
    const startedAt = Date.now();
    await assert.rejects(startDaemon({ bin, timeoutMs: 300 }), /did not log event=server\.listening within 300 ms[\s\S]*loading config/);
    assert.ok(Date.now() - startedAt < 5000);
  });

  test('parses addresses and passes loopback flags', async (t) => {
    // Echoes its arguments, then logs the listening line as the daemon does and waits.
    const bin = await writeScript(
      'listening',
      'echo "args: $*" >&2\n' +
        'echo "level=info event=server.listening grpc_address=127.0.0.1:40001 http_address=127.0.0.1:40002" >&2\n' +
        'exec sleep 30',
    );
    const daemon = await startDaemon({ bin, args: ['--blob-root', '/tmp'] });
    t.after(() => daemon.stop());

    assert.equal(daemon.grpcAddress, '127.0.0.1:40001');
    assert.equal(daemon.httpAddress, '127.0.0.1:40002');
    assert.match(daemon.logs(), /args: --blob-root \/tmp --grpc-address 127\.0\.0\.1:0 --http-address 127\.0\.0\.1:0/);
    assert.deepEqual(await daemon.stop(), { code: null, signal: 'SIGTERM' });
  });

  test('waitForLog finds past and later lines', async (t) => {
    const bin = await writeScript(
      'later-line',
      'echo "event=server.listening grpc_address=127.0.0.1:40005 http_address=127.0.0.1:40006" >&2\n' +
        'sleep 0.2\necho "event=task.finished request_id=abc-1" >&2\nexec sleep 30',
    );
    const daemon = await startDaemon({ bin });
    t.after(() => daemon.stop());

    assert.match(await daemon.waitForLog('request_id=abc-1'), /event=task\.finished/);
    assert.match(await daemon.waitForLog(/grpc_address=\S+/), /event=server\.listening/);
    await assert.rejects(daemon.waitForLog('request_id=never', 100), /no line matching request_id=never within 100 ms/);
  });

  test('keeps addresses given in args', async (t) => {
    const bin = await writeScript(
      'listening-ipv6',
      'echo "args: $*" >&2\n' +
        'echo \'event=server.listening grpc_address="[::1]:40003" http_address="[::1]:40004"\' >&2\n' +
        'exec sleep 30',
    );
    const daemon = await startDaemon({ bin, args: ['--grpc-address=[::1]:0', '--http-address', '[::1]:0'] });
    t.after(() => daemon.stop());

    assert.equal(daemon.grpcAddress, '[::1]:40003');
    assert.equal(daemon.httpAddress, '[::1]:40004');
    assert.match(daemon.logs(), /args: --grpc-address=\[::1\]:0 --http-address \[::1\]:0$/m);
  });
});
