import type { CallOptions } from './call';
import type { Argon2idHashRequest, Argon2idVerifyRequest } from './gen/heavylift/v1/crypto';
import { checkKnownOptions, checkOptionsObject, checkPositiveInteger, checkString, invalidSecretParameter, toBuffer } from './validate';

/** A password: a string, sent as UTF-8, or its raw bytes. */
export type Password = string | Uint8Array;

/**
 * Parameters of `client.crypto.argon2id.hash`, plus the call options. Each parameter left out
 * takes the daemon's default, which is the OWASP Password Storage Cheat Sheet's minimum for
 * argon2id. The daemon bounds each parameter and rejects a value outside its bound with an
 * InvalidArgumentError whose `field` names the parameter.
 */
export interface Argon2idHashOptions extends CallOptions {
  /** Memory cost m in KiB, at least 8 × `parallelism`. Default: 19456 (19 MiB). */
  memoryCost?: number;
  /** Time cost t, the number of passes over memory. Default: 2. */
  timeCost?: number;
  /** Parallelism p, the number of lanes. Default: 1. */
  parallelism?: number;
  /** Length of the raw hash in bytes; the daemon accepts 16..64. Default: 32. */
  hashLength?: number;
  /** Salt of 8..64 bytes. Default: 16 random bytes from the daemon's CSPRNG. Use a fixed salt only in tests. */
  salt?: Uint8Array;
}

/**
 * Returns the password as bytes. The error never shows the received value, because a
 * caller's mistake could put the password itself in the message.
 */
export function passwordBytes(password: unknown): Buffer {
  if (typeof password === 'string') {
    // A lone surrogate would be encoded as U+FFFD, so two different strings
    // would hash alike.
    if (!password.isWellFormed()) {
      throw invalidSecretParameter('password', 'well-formed UTF-16 string (no lone surrogates)', password);
    }
    return Buffer.from(password, 'utf8');
  }
  if (password instanceof Uint8Array) {
    return toBuffer(password);
  }
  throw invalidSecretParameter('password', 'string, Buffer or Uint8Array', password);
}

function optionalPositiveInteger(value: unknown, field: string): number {
  // Zero selects the daemon's default.
  return value === undefined ? 0 : checkPositiveInteger(value, field);
}

/** Validates the hash parameters and builds the request message. */
export function buildArgon2idHashRequest(password: Password, options: Argon2idHashOptions | undefined): Argon2idHashRequest {
  const checked = checkOptionsObject(options, 'options');
  checkKnownOptions(checked, 'options', ['memoryCost', 'timeCost', 'parallelism', 'hashLength', 'salt']);

  let salt: Buffer = Buffer.alloc(0);
  if (checked.salt !== undefined) {
    if (!(checked.salt instanceof Uint8Array)) {
      throw invalidSecretParameter('salt', 'Buffer or Uint8Array', checked.salt);
    }
    salt = toBuffer(checked.salt);
  }

  return {
    password: passwordBytes(password),
    memoryCost: optionalPositiveInteger(checked.memoryCost, 'memoryCost'),
    timeCost: optionalPositiveInteger(checked.timeCost, 'timeCost'),
    parallelism: optionalPositiveInteger(checked.parallelism, 'parallelism'),
    hashLength: optionalPositiveInteger(checked.hashLength, 'hashLength'),
    salt,
  };
}

/** Validates the verify parameters and builds the request message. */
export function buildArgon2idVerifyRequest(hash: string, password: Password): Argon2idVerifyRequest {
  return { hash: checkString(hash, 'hash'), password: passwordBytes(password) };
}
