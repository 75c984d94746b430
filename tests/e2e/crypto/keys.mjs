// Key material the crypto end-to-end tests hand to the daemon: a JWKS with
// one key per JWS algorithm (private parts included, so the daemon can sign)
// and an AEAD key file, written to a temp directory.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Creates the key files; returns their paths, the JWKs and a cleanup function. */
export async function writeCryptoKeys() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-crypto-'));
  const hmacSecret = randomBytes(32);
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwks = {
    hs: { kty: 'oct', kid: 'hs', alg: 'HS256', k: hmacSecret.toString('base64url') },
    ed: { ...ed.privateKey.export({ format: 'jwk' }), kid: 'ed', alg: 'EdDSA' },
    es: { ...ec.privateKey.export({ format: 'jwk' }), kid: 'es', alg: 'ES256' },
    rs: { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'rs', alg: 'RS256' },
  };
  const jwksFile = path.join(dir, 'jwt.jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: Object.values(jwks) }));

  const aeadKeys = { old: randomBytes(32), current: randomBytes(32) };
  const aeadKeyFile = path.join(dir, 'aead.keys');
  await writeFile(
    aeadKeyFile,
    `# AEAD keys for the e2e tests\nold ${aeadKeys.old.toString('base64')}\ncurrent ${aeadKeys.current.toString('base64')}\nprimary current\n`,
  );
  return {
    dir,
    jwksFile,
    aeadKeyFile,
    jwks,
    hmacSecret,
    keyObjects: { ed, ec, rsa },
    aeadKeys,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
