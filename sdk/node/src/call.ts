import { type CallOptions as GrpcCallOptions, type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { abortError, errorFromServiceError } from './errors';
import { checkNonEmptyString, checkOptionsObject, invalidParameter } from './validate';

/** Metadata key that carries the request id to the daemon, which logs it with the task. */
export const REQUEST_ID_METADATA_KEY = 'x-request-id';

/** Options that every call accepts. */
export interface CallOptions {
  /**
   * Deadline of this call in milliseconds, counted from when the call starts. When it passes,
   * the call rejects with a DeadlineExceededError.
   * `Infinity` sends no deadline. Default: the client's `deadlineMs` (30000 unless set).
   */
  deadlineMs?: number;
  /**
   * Cancels the call when aborted. The promise then rejects with a CancelledError named
   * `'AbortError'` whose `cause` is `signal.reason`. A signal that is already aborted
   * rejects the call without sending it. Default: none.
   */
  signal?: AbortSignal;
  /**
   * Id sent as the `x-request-id` metadata value, which the daemon logs and which errors
   * expose as `requestId`: 1 to 64 characters from A-Z, a-z, 0-9, `.`, `_` and `-`.
   * Default: a random UUID.
   */
  requestId?: string;
}

/** Call options after validation, with the client's defaults applied. */
export interface ResolvedCallOptions {
  deadlineMs: number;
  signal: AbortSignal | undefined;
  requestId: string;
}

/** The parts of a generated grpc-js method definition that a unary call needs. */
export interface UnaryMethod<Request, Response> {
  path: string;
  requestSerialize: (value: Request) => Buffer;
  responseDeserialize: (value: Buffer) => Response;
}

// The ids the daemon accepts and logs as given; it replaces any other id with its own.
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}

/** Checks the deadline in milliseconds: a positive number, or Infinity for none. */
export function checkDeadlineMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw invalidParameter(field, 'positive number of milliseconds or Infinity', value);
  }
  return value;
}

/**
 * Validates the call options in `options` (other keys are ignored, so an options object that
 * also carries task parameters can be passed as is) and applies the client's defaults.
 */
export function resolveCallOptions(
  options: CallOptions | undefined,
  defaultDeadlineMs: number,
): ResolvedCallOptions {
  const checked = checkOptionsObject(options, 'options');

  const deadlineMs =
    checked.deadlineMs === undefined ? defaultDeadlineMs : checkDeadlineMs(checked.deadlineMs, 'deadlineMs');

  if (checked.signal !== undefined && !isAbortSignal(checked.signal)) {
    throw invalidParameter('signal', 'AbortSignal', checked.signal);
  }

  let requestId: string;
  if (checked.requestId === undefined) {
    requestId = randomUUID();
  } else {
    requestId = checkNonEmptyString(checked.requestId, 'requestId');
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      throw invalidParameter('requestId', 'string of 1 to 64 characters from A-Z, a-z, 0-9, ".", "_" and "-"', requestId);
    }
  }

  return { deadlineMs, signal: checked.signal, requestId };
}

/**
 * Sends one unary call and resolves with the decoded response.
 *
 * Rejects with the HeavyliftError subclass for the gRPC status. An aborted `signal` cancels
 * the call at once, and a signal that is already aborted rejects before anything is sent.
 */
export function callUnary<Request, Response>(
  client: Client,
  method: UnaryMethod<Request, Response>,
  request: Request,
  options: ResolvedCallOptions,
): Promise<Response> {
  const { signal, requestId, deadlineMs } = options;
  if (signal?.aborted) {
    return Promise.reject(abortError(signal, requestId));
  }

  return new Promise<Response>((resolve, reject) => {
    const metadata = new Metadata();
    metadata.set(REQUEST_ID_METADATA_KEY, requestId);

    const grpcOptions: GrpcCallOptions = {};
    if (Number.isFinite(deadlineMs)) {
      grpcOptions.deadline = Date.now() + deadlineMs;
    }

    // Set by whichever comes first, the response or the abort, so the other one is ignored.
    let settled = false;
    const startedAt = performance.now();

    const onAbort = (): void => {
      if (settled) {
        return;
      }
      settled = true;
      reject(abortError(signal!, requestId));
      call.cancel();
    };

    const onResponse = (error: ServiceError | null, response?: Response): void => {
      signal?.removeEventListener('abort', onAbort);
      if (settled) {
        return;
      }
      settled = true;
      if (error) {
        reject(
          errorFromServiceError(error, requestId, { deadlineMs, elapsedMs: performance.now() - startedAt }),
        );
      } else {
        resolve(response as Response);
      }
    };

    const call = client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      grpcOptions,
      onResponse,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
