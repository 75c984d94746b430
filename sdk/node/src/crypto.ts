import type { CallOptions, UnaryMethod } from './call';
import { buildArgon2idHashRequest, buildArgon2idVerifyRequest, passwordBytes, type Argon2idHashOptions, type Password } from './argon2id';
import { status } from '@grpc/grpc-js';

import {
  detailFields,
  FailedPreconditionError,
  HeavyliftError,
  InternalError,
  InvalidArgumentError,
  messageInCallerNames,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnauthenticatedError,
  withOptionNames,
} from './errors';
import {
  AeadAlgorithm,
  BcryptLongPassword,
  CryptoServiceService,
  HashAlgorithm,
  PasswordAlgorithm,
  SignatureAlgorithm,
  SignatureFormat,
  type PasswordPolicy as PasswordPolicyMessage,
} from './gen/heavylift/v1/crypto';
import { checkBoolean, checkBytes, checkIntegerInRange, checkKnownOptions, checkOneOf, checkOptionsObject, checkString, invalidParameter, UINT32_MAX } from './validate';
import type { ErrorDetail } from './gen/heavylift/v1/common';

/** Sends one request to a CryptoService method; the client supplies it. */
export type CryptoInvoke = <Request, Response>(
  method: UnaryMethod<Request, Response>,
  request: Request,
  options: CallOptions | undefined,
) => Promise<Response>;

/** Unicode normalization applied to a string password before it is encoded as UTF-8. */
export type Normalization = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** Policy for a bcrypt password over 72 bytes: `'reject'` (the daemon's default) or `'truncate'` as npm `bcrypt` does. */
export type BcryptLongPasswordPolicy = 'reject' | 'truncate';

/** Options shared by the password methods. */
export interface PasswordOptions extends CallOptions {
  /**
   * Normalize a string password before hashing or verifying it. The daemon hashes bytes, so
   * "é" typed as one code point (NFC) and as "e" plus an accent (NFD) are different passwords
   * unless both sides normalize. Use the same form at sign-up and at login. Default: none.
   */
  normalize?: Normalization;
  /** bcrypt only: the policy for passwords over 72 bytes. Default: the daemon's (`'reject'`). */
  longPassword?: BcryptLongPasswordPolicy;
}

/** Options of `crypto.bcrypt.hash`. */
export interface BcryptHashOptions extends PasswordOptions {
  /** Cost (log2 of the rounds), 4..the daemon's bound (16 by default). Default: 12. */
  cost?: number;
}

/** A password hashing algorithm. */
export type PasswordAlgorithmName = 'argon2id' | 'bcrypt' | 'scrypt' | 'pbkdf2-sha256' | 'pbkdf2-sha512';

/** An algorithm and its costs; each left out takes the OWASP Password Storage Cheat Sheet value. */
export interface PasswordPolicy {
  /** Default: `'argon2id'`. */
  algorithm?: PasswordAlgorithmName;
  /** argon2id memory cost in KiB. Default: 19456. */
  memoryCost?: number;
  /** argon2id passes. Default: 2. */
  timeCost?: number;
  /** argon2id lanes. Default: 1. */
  parallelism?: number;
  /** bcrypt cost. Default: 12. */
  cost?: number;
  /** scrypt log2(N). Default: 17. */
  log2N?: number;
  /** scrypt block size r. Default: 8. */
  blockSize?: number;
  /** scrypt parallelism p. Default: 1. */
  scryptParallelism?: number;
  /** PBKDF2 iterations. Default: 600000 (SHA-256) or 210000 (SHA-512). */
  iterations?: number;
  /** bcrypt: the policy for passwords over 72 bytes. */
  longPassword?: BcryptLongPasswordPolicy;
}

/** One item of a batch result: a value, or the error of that item alone. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: HeavyliftError };

/** Result of `crypto.password.needsRehash`. */
export interface RehashAdvice {
  needsRehash: boolean;
  /** Why, for example `"bcrypt cost 10 is below 12"`; empty when no rehash is needed. */
  reason: string;
}

/** Options of `crypto.aead.encrypt`. */
export interface EncryptOptions extends CallOptions {
  /** Authenticated, not encrypted; decrypting needs the same bytes. */
  associatedData?: Uint8Array | string;
  /** Default: `'xchacha20-poly1305'`. */
  algorithm?: 'aes-256-gcm' | 'xchacha20-poly1305';
  /** Key ring id. Default: the primary key. */
  keyId?: string;
  /** A raw 32-byte key, only when the operator set `crypto.aead.allow_request_keys`. */
  key?: Uint8Array;
}

/** Options of `crypto.aead.decrypt`. */
export interface DecryptOptions extends CallOptions {
  associatedData?: Uint8Array | string;
  key?: Uint8Array;
}

/** Result of `crypto.aead.decrypt`. */
export interface Decrypted {
  plaintext: Buffer;
  keyId: string;
  /** True when the envelope's key is no longer the primary: re-encrypt to finish a rotation. */
  keyRotated: boolean;
}

/** A signature algorithm. */
export type SignatureAlgorithmName = 'ed25519' | 'ecdsa-p256';

/** A generated key pair. */
export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  publicJwk: string;
}

/** Options of the signature methods. */
export interface SignatureOptions extends CallOptions {
  /** Default: `'ed25519'`. */
  algorithm?: SignatureAlgorithmName;
  /** ECDSA only: DER signatures, as Node's `crypto.sign` writes, instead of r‖s. Default: false. */
  der?: boolean;
}

/** One signature to check in `signatures.verifyMany`. */
export interface SignatureItem {
  message: Uint8Array | string;
  signature: Uint8Array;
  /** This item's public key. Default: the key given to `verifyMany`. */
  publicKeyPem?: string;
}

/** Options of `crypto.jwt.verify`. */
export interface JwtVerifyOptions extends CallOptions {
  audience?: string | string[];
  issuer?: string;
  subject?: string;
  maxAgeSeconds?: number;
  /** Accept tokens without `exp`. Default: false. */
  allowMissingExp?: boolean;
  /** A further allow-list of JWS algorithms, on top of each key's. */
  algorithms?: string[];
}

/** Verified JWT claims. */
export interface JwtClaims {
  /** Every claim, custom ones included. */
  claims: Record<string, unknown>;
  subject: string;
  issuer: string;
  audience: string[];
  /** Seconds since the epoch, or undefined when absent. */
  expiresAt?: number;
  notBefore?: number;
  issuedAt?: number;
  algorithm: string;
  keyId: string;
}

/** Methods of the daemon's `crypto` tasks. */
export interface CryptoMethods {
  readonly argon2id: {
    /** Hashes with argon2id and returns the PHC string. */
    hash(password: Password, options?: Argon2idHashOptions): Promise<string>;
    /** Checks a password against an argon2id, argon2i or argon2d PHC string. */
    verify(hash: string, password: Password, options?: CallOptions): Promise<boolean>;
  };
  readonly bcrypt: {
    /**
     * Hashes with bcrypt and returns a `$2b$` string.
     * @example const hash = await client.crypto.bcrypt.hash('hunter2', { cost: 12 });
     */
    hash(password: Password, options?: BcryptHashOptions): Promise<string>;
    /** Checks a password against a `$2a$`, `$2b$` or `$2y$` hash (npm `bcrypt` and `bcryptjs` hashes included). */
    verify(hash: string, password: Password, options?: PasswordOptions): Promise<boolean>;
  };
  readonly password: {
    /** Hashes under a policy (argon2id unless the policy names another algorithm). */
    hash(password: Password, policy?: PasswordPolicy, options?: PasswordOptions): Promise<string>;
    /** Checks a password against any supported hash, choosing the algorithm from its prefix. */
    verify(hash: string, password: Password, options?: PasswordOptions): Promise<boolean>;
    /**
     * Reports whether a stored hash is weaker than `policy`. Call it after a successful login
     * and store a new hash when the result's `needsRehash` is true.
     */
    needsRehash(hash: string, policy?: PasswordPolicy, options?: CallOptions): Promise<RehashAdvice>;
    /** Hashes many passwords in one call, spread over the daemon's cores. */
    hashMany(passwords: Password[], policy?: PasswordPolicy, options?: PasswordOptions): Promise<BatchResult<string>[]>;
    /** Verifies many `[hash, password]` pairs in one call. */
    verifyMany(pairs: [string, Password][], options?: PasswordOptions): Promise<BatchResult<boolean>[]>;
  };
  readonly aead: {
    /** Encrypts into a versioned envelope that names its key. */
    encrypt(plaintext: Uint8Array | string, options?: EncryptOptions): Promise<Buffer>;
    /** Opens an envelope; fails with InvalidArgumentError (reason DECRYPTION_FAILED) when anything differs. */
    decrypt(envelope: Uint8Array, options?: DecryptOptions): Promise<Decrypted>;
  };
  /** SHA-256 (default), SHA-512 or BLAKE2b of `data`. */
  hash(data: Uint8Array | string, options?: CallOptions & { algorithm?: 'sha256' | 'sha512' | 'blake2b'; outputLength?: number; key?: Uint8Array }): Promise<Buffer>;
  /** HMAC-SHA256 (default) or HMAC-SHA512. */
  hmac(key: Uint8Array | string, data: Uint8Array | string, options?: CallOptions & { algorithm?: 'sha256' | 'sha512' }): Promise<Buffer>;
  /** Checks an HMAC in constant time. */
  hmacVerify(key: Uint8Array | string, data: Uint8Array | string, mac: Uint8Array, options?: CallOptions & { algorithm?: 'sha256' | 'sha512' }): Promise<boolean>;
  /** HKDF (RFC 5869). */
  hkdf(inputKey: Uint8Array, length: number, options?: CallOptions & { salt?: Uint8Array; info?: Uint8Array | string; algorithm?: 'sha256' | 'sha512' }): Promise<Buffer>;
  /** Compares two byte strings in constant time. */
  timingSafeEqual(a: Uint8Array | string, b: Uint8Array | string, options?: CallOptions): Promise<boolean>;
  readonly signatures: {
    generateKeyPair(algorithm?: SignatureAlgorithmName, options?: CallOptions): Promise<KeyPair>;
    sign(privateKeyPem: string, message: Uint8Array | string, options?: SignatureOptions): Promise<Buffer>;
    verify(publicKeyPem: string, message: Uint8Array | string, signature: Uint8Array, options?: SignatureOptions): Promise<boolean>;
    /**
     * Signs many messages with one key in one call, spread over the daemon's cores: one
     * round trip instead of one per message. One result or error per message, in order. The
     * daemon bounds the count and the total bytes (`crypto.signature_batch.*`).
     * @example const results = await client.crypto.signatures.signMany(pem, ['a', 'b']);
     */
    signMany(privateKeyPem: string, messages: (Uint8Array | string)[], options?: SignatureOptions): Promise<BatchResult<Buffer>[]>;
    /**
     * Verifies many signatures in one call. Each item uses its own `publicKeyPem` or, without
     * one, `publicKeyPem` (which may then be `''` when every item has its own). An invalid
     * signature is `{ ok: true, value: false }`; an item's unreadable key is that item's error.
     */
    verifyMany(publicKeyPem: string, items: SignatureItem[], options?: SignatureOptions): Promise<BatchResult<boolean>[]>;
  };
  readonly jwt: {
    /** Signs claims with a key from the daemon's JWKS file. */
    sign(claims: Record<string, unknown>, options?: CallOptions & { keyId?: string; algorithm?: string; expiresInSeconds?: number }): Promise<string>;
    /** Verifies a token; rejects with UnauthenticatedError (reason EXPIRED, BAD_SIGNATURE, ...) when it fails. */
    verify(token: string, options?: JwtVerifyOptions): Promise<JwtClaims>;
  };
  /** Random bytes from the daemon's CSPRNG. */
  randomBytes(length?: number, options?: CallOptions): Promise<Buffer>;
  /** A URL-safe random token (unpadded base64url of `bytes` random bytes; default 32). */
  randomToken(bytes?: number, options?: CallOptions): Promise<string>;
}

const PASSWORD_ALGORITHMS: Record<PasswordAlgorithmName, PasswordAlgorithm> = {
  argon2id: PasswordAlgorithm.PASSWORD_ALGORITHM_ARGON2ID,
  bcrypt: PasswordAlgorithm.PASSWORD_ALGORITHM_BCRYPT,
  scrypt: PasswordAlgorithm.PASSWORD_ALGORITHM_SCRYPT,
  'pbkdf2-sha256': PasswordAlgorithm.PASSWORD_ALGORITHM_PBKDF2_SHA256,
  'pbkdf2-sha512': PasswordAlgorithm.PASSWORD_ALGORITHM_PBKDF2_SHA512,
};

function normalizedPassword(password: Password, normalize: unknown): Buffer {
  if (normalize !== undefined) {
    const form = checkOneOf(normalize, 'normalize', ['NFC', 'NFD', 'NFKC', 'NFKD'] as const);
    if (typeof password === 'string') return passwordBytes(password.normalize(form));
  }
  return passwordBytes(password);
}

function longPasswordPolicy(value: unknown, field = 'longPassword'): BcryptLongPassword {
  if (value === undefined) return BcryptLongPassword.BCRYPT_LONG_PASSWORD_DEFAULT;
  return checkOneOf(value, field, ['reject', 'truncate'] as const) === 'truncate'
    ? BcryptLongPassword.BCRYPT_LONG_PASSWORD_TRUNCATE
    : BcryptLongPassword.BCRYPT_LONG_PASSWORD_REJECT;
}

function optionalUint(value: unknown, field: string): number {
  return value === undefined ? 0 : checkIntegerInRange(value, field, 1, UINT32_MAX);
}

function bytesOf(value: unknown, field: string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return checkBytes(value, field);
}

// `longPassword` from the call's options applies when the policy leaves it out.
function policyMessage(policy: PasswordPolicy | undefined, longPassword?: unknown): PasswordPolicyMessage {
  const p = checkOptionsObject(policy, 'policy');
  for (const [key, value] of Object.entries(p)) {
    if (value !== undefined && !(POLICY_NAMES as readonly string[]).includes(key)) {
      throw invalidParameter(`policy.${key}`, `no such policy field (allowed: ${POLICY_NAMES.join(', ')})`, value);
    }
  }
  const algorithm = p.algorithm === undefined
    ? PasswordAlgorithm.PASSWORD_ALGORITHM_DEFAULT
    : PASSWORD_ALGORITHMS[checkOneOf(p.algorithm, 'policy.algorithm', Object.keys(PASSWORD_ALGORITHMS) as PasswordAlgorithmName[])];
  return {
    algorithm,
    argon2MemoryCost: optionalUint(p.memoryCost, 'policy.memoryCost'),
    argon2TimeCost: optionalUint(p.timeCost, 'policy.timeCost'),
    argon2Parallelism: optionalUint(p.parallelism, 'policy.parallelism'),
    bcryptCost: optionalUint(p.cost, 'policy.cost'),
    scryptLog2N: optionalUint(p.log2N, 'policy.log2N'),
    scryptR: optionalUint(p.blockSize, 'policy.blockSize'),
    scryptP: optionalUint(p.scryptParallelism, 'policy.scryptParallelism'),
    pbkdf2Iterations: optionalUint(p.iterations, 'policy.iterations'),
    bcryptLongPassword: p.longPassword === undefined
      ? longPasswordPolicy(longPassword)
      : longPasswordPolicy(p.longPassword, 'policy.longPassword'),
  };
}

function hashAlgorithm(value: unknown, allowBlake2b: boolean): HashAlgorithm {
  if (value === undefined) return HashAlgorithm.HASH_ALGORITHM_DEFAULT;
  const names = allowBlake2b ? (['sha256', 'sha512', 'blake2b'] as const) : (['sha256', 'sha512'] as const);
  const name = checkOneOf(value, 'algorithm', names as readonly string[]);
  return name === 'sha512' ? HashAlgorithm.HASH_ALGORITHM_SHA512 : name === 'blake2b' ? HashAlgorithm.HASH_ALGORITHM_BLAKE2B : HashAlgorithm.HASH_ALGORITHM_SHA256;
}

// The daemon names a policy field by its proto path, and PasswordPolicy by its option.
const POLICY_OPTION_BY_PROTO_FIELD: Readonly<Record<string, string>> = {
  'policy.argon2_memory_cost': 'policy.memoryCost',
  'policy.argon2_time_cost': 'policy.timeCost',
  'policy.argon2_parallelism': 'policy.parallelism',
  'policy.bcrypt_cost': 'policy.cost',
  'policy.scrypt_log2_n': 'policy.log2N',
  'policy.scrypt_r': 'policy.blockSize',
  'policy.scrypt_p': 'policy.scryptParallelism',
  'policy.pbkdf2_iterations': 'policy.iterations',
  'policy.bcrypt_long_password': 'policy.longPassword',
};

function rethrowWithPolicyOptionNames(error: unknown): never {
  throw withOptionNames(error, POLICY_OPTION_BY_PROTO_FIELD);
}

const PASSWORD_OPTION_NAMES = ['normalize', 'longPassword'] as const;
const SIGNATURE_OPTION_NAMES = ['algorithm', 'der'] as const;
const POLICY_NAMES: readonly (keyof PasswordPolicy)[] = [
  'algorithm', 'memoryCost', 'timeCost', 'parallelism', 'cost', 'log2N', 'blockSize', 'scryptParallelism', 'iterations', 'longPassword',
];

/** Returns the options object after rejecting keys that are neither `allowed` nor call options. */
function knownOptions<T extends object>(options: T | undefined, allowed: readonly string[]): Partial<T> {
  const o = checkOptionsObject(options, 'options');
  checkKnownOptions(o, 'options', allowed);
  return o;
}

function signatureFormat(der: unknown): SignatureFormat {
  return der === undefined || !checkBoolean(der, 'der') ? SignatureFormat.SIGNATURE_FORMAT_DEFAULT : SignatureFormat.SIGNATURE_FORMAT_DER;
}

function signatureAlgorithm(value: unknown): SignatureAlgorithm {
  if (value === undefined) return SignatureAlgorithm.SIGNATURE_ALGORITHM_DEFAULT;
  return checkOneOf(value, 'algorithm', ['ed25519', 'ecdsa-p256'] as const) === 'ed25519'
    ? SignatureAlgorithm.SIGNATURE_ALGORITHM_ED25519
    : SignatureAlgorithm.SIGNATURE_ALGORITHM_ECDSA_P256_SHA256;
}

// The error classes a batch item can fail with, by the code name in its ErrorDetail.
const BATCH_ERROR_CLASSES: Record<string, [number, typeof HeavyliftError]> = {
  INVALID_ARGUMENT: [status.INVALID_ARGUMENT, InvalidArgumentError],
  RESOURCE_EXHAUSTED: [status.RESOURCE_EXHAUSTED, ResourceExhaustedError],
  UNAUTHENTICATED: [status.UNAUTHENTICATED, UnauthenticatedError],
  PERMISSION_DENIED: [status.PERMISSION_DENIED, PermissionDeniedError],
  NOT_FOUND: [status.NOT_FOUND, NotFoundError],
  FAILED_PRECONDITION: [status.FAILED_PRECONDITION, FailedPreconditionError],
  INTERNAL: [status.INTERNAL, InternalError],
};

// `optionNames` maps a field's proto path to the name of the SDK option that sets it.
function batchResult<T>(
  detail: ErrorDetail | undefined,
  message: string,
  value: T,
  optionNames: Readonly<Record<string, string>> = {},
): BatchResult<T> {
  if (detail === undefined || detail.code === '') return { ok: true, value };
  const [code, ErrorClass] = BATCH_ERROR_CLASSES[detail.code] ?? [status.UNKNOWN, HeavyliftError];
  const fields = detailFields(detail, optionNames);
  const error = new ErrorClass(messageInCallerNames(message, fields), { code, ...fields, details: message });
  return { ok: false, error };
}

/** Builds the `client.crypto` methods over `invoke`. */
export function createCryptoMethods(invoke: CryptoInvoke): CryptoMethods {
  const S = CryptoServiceService;
  return {
    argon2id: {
      hash: async (password, options) => (await invoke(S.argon2IdHash, buildArgon2idHashRequest(password, options), options)).hash,
      verify: async (hash, password, options) => {
        knownOptions(options, []);
        return (await invoke(S.argon2IdVerify, buildArgon2idVerifyRequest(hash, password), options)).match;
      },
    },
    bcrypt: {
      hash: async (password, options) => {
        const o = knownOptions(options, [...PASSWORD_OPTION_NAMES, 'cost']);
        const request = {
          password: normalizedPassword(password, o.normalize),
          cost: o.cost === undefined ? 0 : checkIntegerInRange(o.cost, 'cost', 4, 31),
          longPassword: longPasswordPolicy(o.longPassword),
        };
        return (await invoke(S.bcryptHash, request, options)).hash;
      },
      verify: async (hash, password, options) => {
        const o = knownOptions(options, PASSWORD_OPTION_NAMES);
        const request = { hash: checkString(hash, 'hash'), password: normalizedPassword(password, o.normalize), longPassword: longPasswordPolicy(o.longPassword) };
        return (await invoke(S.bcryptVerify, request, options)).match;
      },
    },
    password: {
      hash: async (password, policy, options) => {
        const o = knownOptions(options, PASSWORD_OPTION_NAMES);
        const request = { password: normalizedPassword(password, o.normalize), policy: policyMessage(policy, o.longPassword) };
        return (await invoke(S.passwordHash, request, options).catch(rethrowWithPolicyOptionNames)).hash;
      },
      verify: async (hash, password, options) => {
        const o = knownOptions(options, PASSWORD_OPTION_NAMES);
        const request = { hash: checkString(hash, 'hash'), password: normalizedPassword(password, o.normalize), bcryptLongPassword: longPasswordPolicy(o.longPassword) };
        return (await invoke(S.passwordVerify, request, options)).match;
      },
      needsRehash: async (hash, policy, options) => {
        knownOptions(options, []);
        const response = await invoke(S.passwordNeedsRehash, { hash: checkString(hash, 'hash'), policy: policyMessage(policy) }, options);
        return { needsRehash: response.needsRehash, reason: response.reason };
      },
      hashMany: async (passwords, policy, options) => {
        if (!Array.isArray(passwords)) throw invalidParameter('passwords', 'array', passwords);
        const o = knownOptions(options, PASSWORD_OPTION_NAMES);
        const message = policyMessage(policy, o.longPassword);
        const items = passwords.map((password) => ({ password: normalizedPassword(password, o.normalize), policy: message }));
        const response = await invoke(S.passwordHashBatch, { items }, options).catch(rethrowWithPolicyOptionNames);
        return response.results.map((r) => batchResult(r.error, r.message, r.hash, POLICY_OPTION_BY_PROTO_FIELD));
      },
      verifyMany: async (pairs, options) => {
        if (!Array.isArray(pairs)) throw invalidParameter('pairs', 'array of [hash, password]', pairs);
        const o = knownOptions(options, PASSWORD_OPTION_NAMES);
        const longPassword = longPasswordPolicy(o.longPassword);
        const items = pairs.map(([hash, password], i) => ({
          hash: checkString(hash, `pairs[${i}][0]`),
          password: normalizedPassword(password, o.normalize),
          bcryptLongPassword: longPassword,
        }));
        const response = await invoke(S.passwordVerifyBatch, { items }, options);
        return response.results.map((r) => batchResult(r.error, r.message, r.match));
      },
    },
    aead: {
      encrypt: async (plaintext, options) => {
        const o = knownOptions(options, ['associatedData', 'algorithm', 'keyId', 'key']);
        const algorithm = o.algorithm === undefined
          ? AeadAlgorithm.AEAD_ALGORITHM_DEFAULT
          : checkOneOf(o.algorithm, 'algorithm', ['aes-256-gcm', 'xchacha20-poly1305'] as const) === 'aes-256-gcm'
            ? AeadAlgorithm.AEAD_ALGORITHM_AES_256_GCM
            : AeadAlgorithm.AEAD_ALGORITHM_XCHACHA20_POLY1305;
        const request = {
          plaintext: bytesOf(plaintext, 'plaintext'),
          associatedData: o.associatedData === undefined ? Buffer.alloc(0) : bytesOf(o.associatedData, 'associatedData'),
          algorithm,
          keyId: o.keyId === undefined ? '' : checkString(o.keyId, 'keyId'),
          nonce: Buffer.alloc(0),
          key: o.key === undefined ? Buffer.alloc(0) : checkBytes(o.key, 'key'),
        };
        return (await invoke(S.aeadEncrypt, request, options)).envelope;
      },
      decrypt: async (envelope, options) => {
        const o = knownOptions(options, ['associatedData', 'key']);
        const request = {
          envelope: checkBytes(envelope, 'envelope'),
          associatedData: o.associatedData === undefined ? Buffer.alloc(0) : bytesOf(o.associatedData, 'associatedData'),
          key: o.key === undefined ? Buffer.alloc(0) : checkBytes(o.key, 'key'),
        };
        const response = await invoke(S.aeadDecrypt, request, options);
        return { plaintext: response.plaintext, keyId: response.keyId, keyRotated: response.keyRotated };
      },
    },
    hash: async (data, options) => {
      const o = knownOptions(options, ['algorithm', 'outputLength', 'key']);
      const request = {
        data: bytesOf(data, 'data'),
        algorithm: hashAlgorithm(o.algorithm, true),
        outputLength: o.outputLength === undefined ? 0 : checkIntegerInRange(o.outputLength, 'outputLength', 16, 64),
        key: o.key === undefined ? Buffer.alloc(0) : checkBytes(o.key, 'key'),
      };
      return (await invoke(S.hash, request, options)).digest;
    },
    hmac: async (key, data, options) => {
      const o = knownOptions(options, ['algorithm']);
      const request = { key: bytesOf(key, 'key'), data: bytesOf(data, 'data'), algorithm: hashAlgorithm(o.algorithm, false), expected: Buffer.alloc(0) };
      return (await invoke(S.hmac, request, options)).mac;
    },
    hmacVerify: async (key, data, mac, options) => {
      const o = knownOptions(options, ['algorithm']);
      const expected = checkBytes(mac, 'mac');
      if (expected.length === 0) throw invalidParameter('mac', 'non-empty bytes', mac);
      const request = { key: bytesOf(key, 'key'), data: bytesOf(data, 'data'), algorithm: hashAlgorithm(o.algorithm, false), expected };
      return (await invoke(S.hmac, request, options)).match;
    },
    hkdf: async (inputKey, length, options) => {
      const o = knownOptions(options, ['salt', 'info', 'algorithm']);
      const request = {
        inputKey: checkBytes(inputKey, 'inputKey'),
        salt: o.salt === undefined ? Buffer.alloc(0) : checkBytes(o.salt, 'salt'),
        info: o.info === undefined ? Buffer.alloc(0) : bytesOf(o.info, 'info'),
        length: checkIntegerInRange(length, 'length', 1, 255 * 64),
        algorithm: hashAlgorithm(o.algorithm, false),
      };
      return (await invoke(S.hkdf, request, options)).key;
    },
    timingSafeEqual: async (a, b, options) => {
      knownOptions(options, []);
      return (await invoke(S.compare, { a: bytesOf(a, 'a'), b: bytesOf(b, 'b') }, options)).equal;
    },
    signatures: {
      generateKeyPair: async (algorithm, options) => {
        knownOptions(options, []);
        const response = await invoke(S.keyGenerate, { algorithm: signatureAlgorithm(algorithm) }, options);
        return { privateKeyPem: response.privateKeyPem, publicKeyPem: response.publicKeyPem, publicJwk: response.publicJwk };
      },
      sign: async (privateKeyPem, message, options) => {
        const o = knownOptions(options, SIGNATURE_OPTION_NAMES);
        const request = {
          algorithm: signatureAlgorithm(o.algorithm),
          privateKeyPem: checkString(privateKeyPem, 'privateKeyPem'),
          message: bytesOf(message, 'message'),
          format: signatureFormat(o.der),
        };
        return (await invoke(S.sign, request, options)).signature;
      },
      verify: async (publicKeyPem, message, signature, options) => {
        const o = knownOptions(options, SIGNATURE_OPTION_NAMES);
        const request = {
          algorithm: signatureAlgorithm(o.algorithm),
          publicKeyPem: checkString(publicKeyPem, 'publicKeyPem'),
          message: bytesOf(message, 'message'),
          signature: checkBytes(signature, 'signature'),
          format: signatureFormat(o.der),
        };
        return (await invoke(S.verify, request, options)).valid;
      },
      signMany: async (privateKeyPem, messages, options) => {
        if (!Array.isArray(messages)) throw invalidParameter('messages', 'array', messages);
        const o = knownOptions(options, SIGNATURE_OPTION_NAMES);
        const request = {
          algorithm: signatureAlgorithm(o.algorithm),
          privateKeyPem: checkString(privateKeyPem, 'privateKeyPem'),
          messages: messages.map((message, i) => bytesOf(message, `messages[${i}]`)),
          format: signatureFormat(o.der),
        };
        const response = await invoke(S.signBatch, request, options);
        return response.results.map((r) => batchResult(r.error, r.message, r.signature));
      },
      verifyMany: async (publicKeyPem, items, options) => {
        if (!Array.isArray(items)) throw invalidParameter('items', 'array of { message, signature, publicKeyPem? }', items);
        const o = knownOptions(options, SIGNATURE_OPTION_NAMES);
        const request = {
          algorithm: signatureAlgorithm(o.algorithm),
          publicKeyPem: checkString(publicKeyPem, 'publicKeyPem'),
          items: items.map((item, i) => {
            const checked = checkOptionsObject(item, `items[${i}]`);
            return {
              message: bytesOf(checked.message, `items[${i}].message`),
              signature: checkBytes(checked.signature, `items[${i}].signature`),
              publicKeyPem: checked.publicKeyPem === undefined ? '' : checkString(checked.publicKeyPem, `items[${i}].publicKeyPem`),
            };
          }),
          format: signatureFormat(o.der),
        };
        const response = await invoke(S.verifyBatch, request, options);
        return response.results.map((r) => batchResult(r.error, r.message, r.valid));
      },
    },
    jwt: {
      sign: async (claims, options) => {
        if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw invalidParameter('claims', 'plain object', claims);
        const o = knownOptions(options, ['keyId', 'algorithm', 'expiresInSeconds']);
        const request = {
          claimsJson: JSON.stringify(claims),
          keyId: o.keyId === undefined ? '' : checkString(o.keyId, 'keyId'),
          algorithm: o.algorithm === undefined ? '' : checkString(o.algorithm, 'algorithm'),
          expiresInSeconds: o.expiresInSeconds === undefined ? 0 : checkIntegerInRange(o.expiresInSeconds, 'expiresInSeconds', 1, UINT32_MAX),
        };
        return (await invoke(S.jwtSign, request, options)).token;
      },
      verify: async (token, options) => {
        const o = knownOptions(options, ['audience', 'issuer', 'subject', 'maxAgeSeconds', 'allowMissingExp', 'algorithms']);
        const audience = o.audience === undefined ? [] : Array.isArray(o.audience) ? o.audience : [o.audience];
        const request = {
          token: checkString(token, 'token'),
          audiences: audience.map((a, i) => checkString(a, `audience[${i}]`)),
          issuer: o.issuer === undefined ? '' : checkString(o.issuer, 'issuer'),
          subject: o.subject === undefined ? '' : checkString(o.subject, 'subject'),
          maxAgeSeconds: o.maxAgeSeconds === undefined ? 0 : checkIntegerInRange(o.maxAgeSeconds, 'maxAgeSeconds', 1, UINT32_MAX),
          allowMissingExp: o.allowMissingExp === undefined ? false : checkBoolean(o.allowMissingExp, 'allowMissingExp'),
          algorithms: (o.algorithms ?? []).map((a, i) => checkString(a, `algorithms[${i}]`)),
        };
        const r = await invoke(S.jwtVerify, request, options);
        return {
          claims: JSON.parse(r.claimsJson) as Record<string, unknown>,
          subject: r.subject,
          issuer: r.issuer,
          audience: r.audience,
          expiresAt: r.expiresAt === 0 ? undefined : r.expiresAt,
          notBefore: r.notBefore === 0 ? undefined : r.notBefore,
          issuedAt: r.issuedAt === 0 ? undefined : r.issuedAt,
          algorithm: r.algorithm,
          keyId: r.keyId,
        };
      },
    },
    randomBytes: async (length, options) => {
      knownOptions(options, []);
      const request = { length: length === undefined ? 32 : checkIntegerInRange(length, 'length', 1, 65536) };
      return (await invoke(S.random, request, options)).data;
    },
    randomToken: async (bytes, options) => {
      knownOptions(options, []);
      const request = { length: bytes === undefined ? 32 : checkIntegerInRange(bytes, 'bytes', 1, 65536) };
      return (await invoke(S.random, request, options)).token;
    },
  };
}
