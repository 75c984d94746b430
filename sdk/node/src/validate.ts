// Type checks at the API edge. Each failure is an InvalidArgumentError whose message names
// the parameter, what was expected and what was received with its type. Bounds that the
// daemon configures (maximum width, maximum memory cost, ...) are left to the daemon.
import { status } from '@grpc/grpc-js';
import { inspect } from 'node:util';

import { InvalidArgumentError } from './errors';

/** Largest value of a proto `uint32`. Larger numbers would be truncated on the wire. */
export const UINT32_MAX = 0xffff_ffff;

const MAX_RENDERED_LENGTH = 80;

function renderValue(value: unknown): string {
  const text = inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 8, maxStringLength: 60 });
  return text.length > MAX_RENDERED_LENGTH ? `${text.slice(0, MAX_RENDERED_LENGTH - 3)}...` : text;
}

function typeName(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  if (typeof value === 'object') {
    const constructorName = (value as object).constructor?.name;
    return constructorName && constructorName !== 'Object' ? `object (${constructorName})` : 'object';
  }
  return typeof value;
}

/** Builds the error for a parameter that failed a check, for example `Expected positive integer for widths[1] but received -3 of type number`. */
export function invalidParameter(field: string, expected: string, received: unknown): InvalidArgumentError {
  const rendered = renderValue(received);
  return new InvalidArgumentError(`Expected ${expected} for ${field} but received ${rendered} of type ${typeName(received)}`, {
    code: status.INVALID_ARGUMENT,
    field,
    value: rendered,
    reason: 'INVALID_PARAMETER',
  });
}

/**
 * Builds the error for a secret parameter (a password or salt) that failed a check. The
 * message shows only the received type, because the value may be the secret itself.
 */
export function invalidSecretParameter(field: string, expected: string, received: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Expected ${expected} for ${field} but received a value of type ${typeName(received)}`, {
    code: status.INVALID_ARGUMENT,
    field,
    reason: 'INVALID_PARAMETER',
  });
}

/** Returns `value` as an options object, or `{}` when it is undefined. */
export function checkOptionsObject<T extends object>(value: T | undefined, field: string): Partial<T> {
  if (value === undefined) {
    return {};
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidParameter(field, 'object', value);
  }
  return value;
}

/** Checks that `value` is an integer in 1..UINT32_MAX. */
export function checkPositiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidParameter(field, 'positive integer', value);
  }
  if (value > UINT32_MAX) {
    throw invalidParameter(field, `integer no greater than ${UINT32_MAX} (uint32)`, value);
  }
  return value;
}

/** Checks that `value` is an integer in `min..max`. */
export function checkIntegerInRange(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidParameter(field, `integer between ${min} and ${max}`, value);
  }
  return value;
}

/** Checks that `value` is one of `names`. */
export function checkOneOf<T extends string>(value: unknown, field: string, names: readonly T[]): T {
  if (typeof value !== 'string' || !(names as readonly string[]).includes(value)) {
    throw invalidParameter(field, `one of ${names.map((name) => `'${name}'`).join(', ')}`, value);
  }
  return value as T;
}

/** Checks that `value` is a boolean. */
export function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') {
    throw invalidParameter(field, 'boolean', value);
  }
  return value;
}

/** Checks that `value` is a string. */
export function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') {
    throw invalidParameter(field, 'string', value);
  }
  return value;
}

/** Checks that `value` is a non-empty string. */
export function checkNonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidParameter(field, 'non-empty string', value);
  }
  return value;
}

/** Checks that `value` is a Buffer or Uint8Array and returns a Buffer over the same memory. */
export function checkBytes(value: unknown, field: string): Buffer {
  if (!(value instanceof Uint8Array)) {
    throw invalidParameter(field, 'Buffer or Uint8Array', value);
  }
  return toBuffer(value);
}

/** Returns a Buffer that shares memory with `bytes`, without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Option names that every call accepts (see CallOptions). */
export const CALL_OPTION_NAMES = ['deadlineMs', 'signal', 'requestId', 'traceparent'] as const;

/**
 * Rejects keys of `object` that are not in `allowed`, so a misspelt option fails instead of
 * being ignored. A key whose value is undefined passes. The error names `field.key` and
 * lists the allowed keys.
 */
export function checkKnownKeys(object: object, field: string, allowed: readonly string[]): void {
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined && !allowed.includes(key)) {
      throw invalidParameter(`${field}.${key}`, `no such option (allowed: ${allowed.join(', ')})`, value);
    }
  }
}

/**
 * Rejects keys of `options` that are neither in `allowed` nor in `callOptions` (by default the
 * gRPC call options), so a misspelt option fails instead of being ignored.
 */
export function checkKnownOptions(
  options: object,
  field: string,
  allowed: readonly string[],
  callOptions: readonly string[] = CALL_OPTION_NAMES,
): void {
  checkKnownKeys(options, field, [...allowed, ...callOptions]);
}

/**
 * Checks the call options argument of a method that takes them apart from its parameters:
 * an object or undefined, with no keys other than call options.
 */
export function checkCallOptionKeys(options: unknown, field = 'callOptions'): void {
  checkKnownKeys(checkOptionsObject(options as object | undefined, field), field, CALL_OPTION_NAMES);
}

/**
 * Returns the keys of `names`, an object with one `true` per option of `T`. The compiler
 * rejects an object that lacks an option of `T` or names one that `T` lacks, so the list
 * that checkKnownKeys enforces stays in step with the type.
 */
export function optionNames<T extends object>(names: { [K in keyof T]-?: true }): string[] {
  return Object.keys(names);
}
