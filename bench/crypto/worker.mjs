// Runs one crypto workload in this process and prints its result as JSON on
// the last line of stdout. crypto.mjs starts one worker per row, so that each
// side has its own event loop and its own UV_THREADPOOL_SIZE.
// Usage: node worker.mjs <workload> <concurrency> <maxOps> <maxSeconds> [grpcAddress]
import { createCipheriv, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import bcryptjs from 'bcryptjs';
import { createClient } from 'heavylift';

import { runClosedLoop } from '../lib/run.mjs';

const [workload, concurrencyText, maxOpsText, maxSecondsText, address] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const maxOps = Number(maxOpsText);
const maxSeconds = Number(maxSecondsText);

// OWASP Password Storage Cheat Sheet values: argon2id m=19 MiB, t=2, p=1; bcrypt cost 12.
const ARGON2 = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
const BCRYPT_COST = 12;
const AES_TOTAL_BYTES = 100 * 1024 * 1024;
const AES_CHUNK_BYTES = 16 * 1024 * 1024;
// Messages per batch in the Ed25519 batch rows; both sides sign or verify the same batch.
const SIGNATURE_BATCH = Number(process.env.BENCH_CRYPTO_SIGNATURE_BATCH ?? '1000');
const batchMessages = Array.from({ length: SIGNATURE_BATCH }, (_, i) => Buffer.from(`message ${i} of the batch`));

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const client = address ? createClient({ address, deadlineMs: 600_000 }) : undefined;

async function makeOperation() {
  switch (workload) {
    case 'heavylift-argon2id':
      return async (i) => check((await client.crypto.argon2id.hash(`pw-${i}`, ARGON2)).startsWith('$argon2id$v=19$m=19456,t=2,p=1$'), 'bad hash');
    case 'npm-argon2':
      return async (i) => check((await argon2.hash(`pw-${i}`, { type: argon2.argon2id, ...ARGON2 })).startsWith('$argon2id$'), 'bad hash');
    case 'heavylift-bcrypt':
      return async (i) => check((await client.crypto.bcrypt.hash(`pw-${i}`, { cost: BCRYPT_COST })).startsWith('$2b$12$'), 'bad hash');
    case 'npm-bcrypt':
      return async (i) => check((await bcrypt.hash(`pw-${i}`, BCRYPT_COST)).startsWith('$2b$12$'), 'bad hash');
    case 'bcryptjs':
      return async (i) => check((await bcryptjs.hash(`pw-${i}`, BCRYPT_COST)).startsWith('$2b$12$'), 'bad hash');
    case 'heavylift-ed25519-sign': {
      const pair = await client.crypto.signatures.generateKeyPair('ed25519');
      return async (i) => check((await client.crypto.signatures.sign(pair.privateKeyPem, `message ${i}`)).length === 64, 'bad signature');
    }
    case 'node-ed25519-sign': {
      const { privateKey } = generateKeyPairSync('ed25519');
      return async (i) => check(sign(null, Buffer.from(`message ${i}`), privateKey).length === 64, 'bad signature');
    }
    case 'heavylift-ed25519-verify': {
      const pair = await client.crypto.signatures.generateKeyPair('ed25519');
      const signature = await client.crypto.signatures.sign(pair.privateKeyPem, 'message');
      return async () => check(await client.crypto.signatures.verify(pair.publicKeyPem, 'message', signature), 'not valid');
    }
    case 'node-ed25519-verify': {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const signature = sign(null, Buffer.from('message'), privateKey);
      return async () => check(verify(null, Buffer.from('message'), publicKey, signature), 'not valid');
    }
    case 'heavylift-ed25519-sign-batch': {
      const pair = await client.crypto.signatures.generateKeyPair('ed25519');
      return async () => {
        const results = await client.crypto.signatures.signMany(pair.privateKeyPem, batchMessages);
        check(results.length === SIGNATURE_BATCH && results.every((r) => r.ok && r.value.length === 64), 'bad batch');
      };
    }
    case 'node-ed25519-sign-batch': {
      const { privateKey } = generateKeyPairSync('ed25519');
      return async () => {
        const signatures = batchMessages.map((message) => sign(null, message, privateKey));
        check(signatures.every((signature) => signature.length === 64), 'bad batch');
      };
    }
    case 'heavylift-ed25519-verify-batch': {
      const pair = await client.crypto.signatures.generateKeyPair('ed25519');
      const signed = await client.crypto.signatures.signMany(pair.privateKeyPem, batchMessages);
      const items = batchMessages.map((message, i) => ({ message, signature: signed[i].value }));
      return async () => {
        const results = await client.crypto.signatures.verifyMany(pair.publicKeyPem, items);
        check(results.length === SIGNATURE_BATCH && results.every((r) => r.ok && r.value), 'not valid');
      };
    }
    case 'node-ed25519-verify-batch': {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const signatures = batchMessages.map((message) => sign(null, message, privateKey));
      return async () => check(batchMessages.every((message, i) => verify(null, message, publicKey, signatures[i])), 'not valid');
    }
    case 'heavylift-aes-256-gcm-100mb': {
      const chunk = randomBytes(AES_CHUNK_BYTES);
      return async () => {
        const calls = [];
        for (let done = 0; done < AES_TOTAL_BYTES; done += AES_CHUNK_BYTES) {
          const size = Math.min(AES_CHUNK_BYTES, AES_TOTAL_BYTES - done);
          calls.push(client.crypto.aead.encrypt(chunk.subarray(0, size), { algorithm: 'aes-256-gcm' }));
        }
        const envelopes = await Promise.all(calls);
        check(envelopes.reduce((sum, e) => sum + e.length, 0) > AES_TOTAL_BYTES, 'short output');
      };
    }
    case 'node-aes-256-gcm-100mb': {
      const key = randomBytes(32);
      const data = randomBytes(AES_TOTAL_BYTES);
      return async () => {
        const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
        const out = Buffer.concat([cipher.update(data), cipher.final()]);
        check(out.length === AES_TOTAL_BYTES && cipher.getAuthTag().length === 16, 'short output');
      };
    }
    default:
      throw new Error(`unknown workload ${workload}`);
  }
}

const operation = await makeOperation();
await operation(-1);  // warm-up, unmeasured

// A synchronous workload (Node's crypto.sign) never lets the sampling timer
// run, so this histogram stays on for a short tail after the run: the timer's
// first callback then records how long the loop was blocked.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
// The histogram records gaps between its timer's callbacks, so let it fire once first.
await new Promise((resolve) => setTimeout(resolve, 5));
const started = performance.now();
const cpuBefore = process.cpuUsage();
const result = await runClosedLoop({ operation, concurrency, maxOps, maxSeconds });
const cpu = process.cpuUsage(cpuBefore);
// CPU time of this process (all its threads) during the run: unlike wall time,
// it does not grow when other processes share the cores.
result.cpuSeconds = (cpu.user + cpu.system) / 1e6;
const wallSeconds = (performance.now() - started) / 1000;
await new Promise((resolve) => setTimeout(resolve, 20));
loopDelay.disable();
result.eventLoopDelayMs = {
  p50: loopDelay.percentile(50) / 1e6,
  p99: loopDelay.percentile(99) / 1e6,
  max: loopDelay.max / 1e6,
};
client?.close();
console.log(JSON.stringify({ workload, concurrency, threadpool: process.env.UV_THREADPOOL_SIZE ?? 'default (4)', wallSeconds, ...result }));
