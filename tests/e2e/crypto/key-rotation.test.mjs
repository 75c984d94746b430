// AEAD key rotation without a restart: the daemon re-reads
// crypto.aead.key_file on SIGHUP. Envelopes sealed before the rotation keep
// opening (and report that their key is no longer the primary), new ones use the new
// primary, and a key file that fails to load leaves the keys in force.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { useDaemon } from '../lib/helpers.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'heavylift-aead-rotation-'));
const keyFile = path.join(dir, 'aead.keys');
const first = randomBytes(32).toString('base64');
const second = randomBytes(32).toString('base64');
writeFileSync(keyFile, `first ${first}\nprimary first\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

// Reloads are logged; waits are generous for the sanitizer build on a loaded machine.
const RELOAD_WAIT_MS = 60_000;

describe('AEAD key file reload on SIGHUP', () => {
  const running = useDaemon(['--crypto-aead-key-file', keyFile]);

  test('a rotation takes effect without a restart and old envelopes still open', async () => {
    const aead = running.client.crypto.aead;
    const before = await aead.encrypt('sealed before the rotation', { associatedData: 'user:1' });
    assert.equal((await aead.decrypt(before, { associatedData: 'user:1' })).keyId, 'first');

    writeFileSync(keyFile, `first ${first}\nsecond ${second}\nprimary second\n`);
    running.daemon.process.kill('SIGHUP');
    await running.daemon.waitForLog(/event=crypto\.aead_keys_reloaded aead_keys=2 aead_primary="?second/, RELOAD_WAIT_MS);

    const sealedAfter = await aead.encrypt('sealed after the rotation', { associatedData: 'user:1' });
    const openedAfter = await aead.decrypt(sealedAfter, { associatedData: 'user:1' });
    assert.equal(openedAfter.keyId, 'second');
    assert.equal(openedAfter.keyRotated, false);
    assert.equal(openedAfter.plaintext.toString(), 'sealed after the rotation');

    const openedBefore = await aead.decrypt(before, { associatedData: 'user:1' });
    assert.equal(openedBefore.plaintext.toString(), 'sealed before the rotation');
    assert.equal(openedBefore.keyId, 'first');
    assert.equal(openedBefore.keyRotated, true, 'the app learns to re-encrypt it');

    // A broken key file is rejected, and the rotated keys stay in force.
    writeFileSync(keyFile, `second not-a-key\n`);
    running.daemon.process.kill('SIGHUP');
    await running.daemon.waitForLog('event=crypto.aead_keys_reload_failed', RELOAD_WAIT_MS);
    assert.equal((await aead.decrypt(before, { associatedData: 'user:1' })).keyId, 'first');
    assert.equal((await aead.decrypt(await aead.encrypt('still works'), {})).keyId, 'second');
  });
});
