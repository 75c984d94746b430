import { Metadata, type ServiceError, status } from '@grpc/grpc-js';

import { ErrorDetail } from './gen/heavylift/v1/common';

/** Binary trailing metadata key under which the daemon sends a serialized `heavylift.v1.ErrorDetail`. */
export const ERROR_DETAIL_METADATA_KEY = 'heavylift-error-bin';

/** Fields that a {@link HeavyliftError} is constructed from. */
export interface HeavyliftErrorInit {
  /** Numeric gRPC status code, for example `3` for INVALID_ARGUMENT. */
  code: number;
  /** The request field at fault as the Node caller wrote it, for example `memoryCost` or `input.data`. */
  field?: string;
  /** The request field at fault as the daemon sent it, a proto field path such as `memory_cost`. */
  protoField?: string;
  /** The bound the value broke, for example `in 8..65536 KiB`. */
  bound?: string;
  /** The value that was received, rendered as text. */
  value?: string;
  /** A stable upper-case reason, for example `OUT_OF_RANGE` or `QUEUE_FULL`. */
  reason?: string;
  /** How long to wait before retrying, in milliseconds. */
  retryAfterMs?: number;
  /** The `x-request-id` that the call was sent with. */
  requestId?: string;
  /** The gRPC status message as the daemon sent it. */
  details?: string;
  /** The trailing metadata of the failed call. */
  metadata?: Metadata;
  /** The underlying error, such as the grpc-js `ServiceError` or an `AbortSignal` reason. */
  cause?: unknown;
}

/**
 * Base class of every error that a heavylift call rejects with.
 *
 * A call that the daemon fails carries the gRPC status in `code` and `codeName`, and the
 * fields of the daemon's `heavylift.v1.ErrorDetail` in `field`, `bound`, `value`, `reason`
 * and `retryAfterMs`. The message is the daemon's status message with the field at fault
 * named as `field` names it, and `details` is that message unchanged. An error that the SDK
 * raises before sending (an invalid option, an aborted signal) has the same shape,
 * with `protoField` left undefined and, for an invalid option, `reason` set to
 * `INVALID_PARAMETER`.
 */
export class HeavyliftError extends Error {
  /** Numeric gRPC status code, for example `3`. */
  readonly code: number;
  /** Name of the gRPC status code, for example `'INVALID_ARGUMENT'`. */
  readonly codeName: string;
  /** The request field at fault as a lowerCamelCase path, for example `memoryCost` or `input.data`. */
  readonly field: string | undefined;
  /** The request field at fault as the daemon sent it, a snake_case proto path such as `memory_cost`. */
  readonly protoField: string | undefined;
  /** The bound the value broke, for example `in 8..65536 KiB`. */
  readonly bound: string | undefined;
  /** The value that was received, rendered as text and possibly truncated. */
  readonly value: string | undefined;
  /** A stable upper-case reason, for example `OUT_OF_RANGE`, `CORRUPT_INPUT` or `QUEUE_FULL`. */
  readonly reason: string | undefined;
  /** For RESOURCE_EXHAUSTED: how long to wait before retrying, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** The `x-request-id` metadata value that the call was sent with. */
  readonly requestId: string | undefined;
  /** The gRPC status message, unchanged. */
  readonly details: string;
  /** The trailing metadata of the failed call, when the call reached the network. */
  readonly metadata: Metadata | undefined;

  constructor(message: string, init: HeavyliftErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.codeName = status[init.code] ?? `UNKNOWN_STATUS_${init.code}`;
    this.field = init.field;
    this.protoField = init.protoField;
    this.bound = init.bound;
    this.value = init.value;
    this.reason = init.reason;
    this.retryAfterMs = init.retryAfterMs;
    this.requestId = init.requestId;
    this.details = init.details ?? message;
    this.metadata = init.metadata;
  }
}

/** The request or an option was invalid (gRPC INVALID_ARGUMENT). `field` names the culprit. */
export class InvalidArgumentError extends HeavyliftError {}

/** The daemon's task queue was full or a quota ran out (gRPC RESOURCE_EXHAUSTED). See `retryAfterMs`. */
export class ResourceExhaustedError extends HeavyliftError {}

/** The call's deadline passed before the daemon replied (gRPC DEADLINE_EXCEEDED). */
export class DeadlineExceededError extends HeavyliftError {}

/**
 * The call was cancelled (gRPC CANCELLED).
 *
 * When the caller's `AbortSignal` cancelled it, `name` is `'AbortError'` (as for an aborted
 * `fetch`) and `cause` is the signal's `reason`. Otherwise `name` is `'CancelledError'`.
 */
export class CancelledError extends HeavyliftError {}

/** The daemon could not be reached or is shutting down (gRPC UNAVAILABLE). Retrying may succeed. */
export class UnavailableError extends HeavyliftError {}

/** The call carried no valid credentials (gRPC UNAUTHENTICATED). */
export class UnauthenticatedError extends HeavyliftError {}

/** The caller is not allowed to run the call (gRPC PERMISSION_DENIED). */
export class PermissionDeniedError extends HeavyliftError {}

/** A named resource, such as a health-checked service, does not exist (gRPC NOT_FOUND). */
export class NotFoundError extends HeavyliftError {}

/** The daemon is not in a state that allows the call (gRPC FAILED_PRECONDITION). */
export class FailedPreconditionError extends HeavyliftError {}

/**
 * The daemon lacks the method, or this SDK cannot read a value in the response (gRPC UNIMPLEMENTED).
 * Both usually mean that the SDK and daemon versions do not match.
 */
export class UnimplementedError extends HeavyliftError {}

/** The daemon failed on its side (gRPC INTERNAL). */
export class InternalError extends HeavyliftError {}

const ERROR_CLASS_BY_CODE: ReadonlyMap<number, typeof HeavyliftError> = new Map([
  [status.INVALID_ARGUMENT, InvalidArgumentError],
  [status.RESOURCE_EXHAUSTED, ResourceExhaustedError],
  [status.DEADLINE_EXCEEDED, DeadlineExceededError],
  [status.CANCELLED, CancelledError],
  [status.UNAVAILABLE, UnavailableError],
  [status.UNAUTHENTICATED, UnauthenticatedError],
  [status.PERMISSION_DENIED, PermissionDeniedError],
  [status.NOT_FOUND, NotFoundError],
  [status.FAILED_PRECONDITION, FailedPreconditionError],
  [status.UNIMPLEMENTED, UnimplementedError],
  [status.INTERNAL, InternalError],
]);

/** Returns the HeavyliftError subclass for a numeric gRPC status code, or HeavyliftError itself. */
export function errorClassForCode(code: number): typeof HeavyliftError {
  return ERROR_CLASS_BY_CODE.get(code) ?? HeavyliftError;
}

/**
 * The sections of the daemon's settings (server/src/app/config.cc). No request message has a
 * field of these names, so a field path that starts with one names a setting.
 */
const SETTING_SECTIONS = new Set([
  'aggregate',
  'amqp',
  'auth',
  'blob',
  'bullmq',
  'crypto',
  'executor',
  'files',
  'grpc',
  'http',
  'image',
  'log',
  'realtime',
  'schema',
  'security',
  'shutdown',
  'testing',
  'tls',
]);

/**
 * Converts a snake_case proto field path to the lowerCamelCase path that Node callers
 * write, segment by segment: `memory_cost` becomes `memoryCost`, `input.data` and
 * `widths[1]` stay as they are. The name of a daemon setting, such as
 * `files.max_upload_bytes`, stays as the config file spells it.
 */
export function protoPathToCamelCase(protoPath: string): string {
  const dot = protoPath.indexOf('.');
  if (dot > 0 && SETTING_SECTIONS.has(protoPath.slice(0, dot))) {
    return protoPath;
  }
  return protoPath.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

// Own keys only, so that a field named like an Object method (`constructor`) maps to nothing.
function optionNameOf(protoField: string, optionNames: Readonly<Record<string, string>>): string | undefined {
  return Object.hasOwn(optionNames, protoField) ? optionNames[protoField] : undefined;
}

/** The fields of a {@link HeavyliftErrorInit} that a daemon's ErrorDetail carries. */
export type DetailFields = Pick<HeavyliftErrorInit, 'field' | 'protoField' | 'bound' | 'value' | 'reason' | 'retryAfterMs'>;

/**
 * Returns the fields of the daemon's ErrorDetail `detail` for a HeavyliftErrorInit, with
 * `field` next to the `protoField` that the daemon sent: the SDK option name that
 * `optionNames` maps it to, or else its lowerCamelCase form.
 */
export function detailFields(
  detail: ErrorDetail | undefined,
  optionNames: Readonly<Record<string, string>> = {},
): DetailFields {
  const protoField = detail?.field || undefined;
  return {
    field: protoField === undefined ? undefined : optionNameOf(protoField, optionNames) ?? protoPathToCamelCase(protoField),
    protoField,
    bound: detail?.bound || undefined,
    value: detail?.value || undefined,
    reason: detail?.reason || undefined,
    retryAfterMs: detail?.retryAfterMs || undefined,
  };
}

/**
 * Returns the daemon's `message` with each mention of the proto path `fields.protoField`
 * spelt as `fields.field`, the name that the Node caller wrote:
 * `memory_cost must be in 8..262144 KiB` becomes `memoryCost must be in 8..262144 KiB`.
 */
export function messageInCallerNames(message: string, fields: DetailFields): string {
  const { field, protoField } = fields;
  if (field === undefined || protoField === undefined || field === protoField) return message;
  const escaped = protoField.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Only whole paths: `cost` inside `memory_cost` or `hash.cost` stays as it is.
  return message.replace(new RegExp(`(?<![\\w.])${escaped}(?![\\w])`, 'g'), field);
}

/**
 * Renames the field of `error` where `names` maps its `protoField` to the name that the SDK's
 * options use, in `field` and in the message, and returns `error`.
 */
export function withOptionNames(error: unknown, names: Readonly<Record<string, string>>): unknown {
  if (!(error instanceof HeavyliftError) || error.protoField === undefined) return error;
  const field = optionNameOf(error.protoField, names);
  if (field === undefined) return error;
  const message = messageInCallerNames(error.details || error.message, { field, protoField: error.protoField });
  (error as { field: string | undefined }).field = field;
  if (error.stack !== undefined) error.stack = error.stack.replace(error.message, message);
  error.message = message;
  return error;
}

// The details that grpc-js gives a call cancelled on the client's side.
const CLIENT_CANCEL_PATTERN = /^Cancelled on client/;

// Words that grpc-js and OpenSSL put in the details of a failed TLS handshake.
const TLS_FAILURE_PATTERN = /certificate|SSL|TLS|handshake|self.signed|CERT_|alert/i;

/** Returns the decoded `heavylift-error-bin` entry, or undefined when it is absent or not a valid ErrorDetail. */
function decodeErrorDetail(metadata: Metadata | undefined): ErrorDetail | undefined {
  const values = metadata?.get(ERROR_DETAIL_METADATA_KEY) ?? [];
  const encoded = values[0];
  if (!(encoded instanceof Uint8Array)) {
    return undefined;
  }
  try {
    return ErrorDetail.decode(encoded);
  } catch {
    // A detail that does not decode must not hide the status itself, so the
    // error is built from the status alone.
    return undefined;
  }
}

/**
 * Builds the typed error for a failed gRPC call: the subclass for its status code, with the
 * fields of the daemon's ErrorDetail when the trailers carry one.
 */
export function errorFromServiceError(
  error: ServiceError,
  requestId: string,
  deadline?: { deadlineMs: number; elapsedMs: number },
): HeavyliftError {
  const detail = decodeErrorDetail(error.metadata);
  const ErrorClass = errorClassForCode(error.code);

  // A deadline names no request field, whether it fired in the client or in
  // the daemon: the call option is the field at fault, its value the bound.
  if (error.code === status.DEADLINE_EXCEEDED && !detail?.field && deadline !== undefined) {
    const elapsed = Math.round(deadline.elapsedMs);
    return new ErrorClass(`Deadline exceeded after ${elapsed} ms (deadlineMs: ${deadline.deadlineMs})`, {
      code: error.code,
      field: 'deadlineMs',
      bound: `${deadline.deadlineMs} ms`,
      value: `${elapsed} ms`,
      reason: detail?.reason || 'DEADLINE_EXCEEDED',
      requestId,
      details: error.details,
      metadata: error.metadata,
      cause: error,
    });
  }

  // grpc-js reports a failed TLS handshake (an unknown CA, an expired
  // certificate, a missing client certificate) as UNAVAILABLE. It is a
  // credential problem that no retry fixes, so it becomes UNAUTHENTICATED.
  if (error.code === status.UNAVAILABLE && TLS_FAILURE_PATTERN.test(error.details ?? '')) {
    return new UnauthenticatedError(
      `TLS handshake with the daemon failed: ${error.details}. Check the CA (tls.ca), the daemon ` +
        `certificate's validity and names (tls.serverName), and, for mutual TLS, the client certificate (tls.cert, tls.key)`,
      {
        code: status.UNAUTHENTICATED,
        field: 'tls',
        reason: 'TLS_HANDSHAKE_FAILED',
        requestId,
        details: error.details,
        metadata: error.metadata,
        cause: error,
      },
    );
  }

  // A CANCELLED without an ErrorDetail, which the caller did not cause, was dropped by the daemon's
  // gRPC server (at shutdown, for one). The task did not finish, so the call may be retried.
  if (error.code === status.CANCELLED && detail === undefined && !CLIENT_CANCEL_PATTERN.test(error.details ?? '')) {
    return new UnavailableError(
      `the daemon's gRPC server dropped the call (${error.details || 'CANCELLED'}), usually because it is ` +
        'shutting down; retry it, on another instance if this one is stopping',
      {
        code: status.UNAVAILABLE,
        reason: 'CALL_DROPPED',
        requestId,
        details: error.details,
        metadata: error.metadata,
        cause: error,
      },
    );
  }

  // grpc-js leaves `details` empty when the status carries no message; its own
  // message ("3 INVALID_ARGUMENT: ") still names the code.
  const fields = detailFields(detail);
  return new ErrorClass(messageInCallerNames(error.details || error.message, fields), {
    code: error.code,
    ...fields,
    requestId,
    details: error.details,
    metadata: error.metadata,
    cause: error,
  });
}

/** Builds the error that a call rejects with when its `AbortSignal` aborts. */
export function abortError(signal: AbortSignal, requestId: string): CancelledError {
  const error = new CancelledError('The call was aborted by its AbortSignal', {
    code: status.CANCELLED,
    requestId,
    cause: signal.reason,
  });
  error.name = 'AbortError';
  return error;
}
