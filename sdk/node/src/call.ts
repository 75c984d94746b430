import { type CallOptions as GrpcCallOptions, type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { type ChannelSettings } from './connection';
import {
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  abortError,
  errorFromServiceError,
} from './errors';
import { TRACEPARENT_METADATA_KEY, checkTraceparent } from './trace';
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
  /**
   * W3C trace context of the work that made this call, for example the incoming request's
   * `traceparent` header. The daemon logs it with the task as `trace_id`. Default: the
   * client's `traceparent` provider, else none.
   */
  traceparent?: string;
}

/** Call options after validation, with the client's defaults applied. */
export interface ResolvedCallOptions {
  deadlineMs: number;
  signal: AbortSignal | undefined;
  requestId: string;
  traceparent: string | undefined;
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

  const traceparent =
    checked.traceparent === undefined ? undefined : checkTraceparent(checked.traceparent, 'traceparent');

  return { deadlineMs, signal: checked.signal, requestId, traceparent };
}

// Settings per channel, set by createClient.
const channelSettings = new WeakMap<Client, ChannelSettings>();

/** Sets the overload retries and the TLS probe that calls on `client` use. */
export function setChannelSettings(client: Client, settings: ChannelSettings): void {
  channelSettings.set(client, settings);
}

/**
 * Turns an UNAVAILABLE error of a TLS client into an UnauthenticatedError when a TLS probe
 * shows why the connection fails (an unknown CA, an expired certificate, a rejected or
 * missing client certificate), and returns other errors unchanged.
 */
async function explainTlsFailure(error: unknown, settings: ChannelSettings | undefined): Promise<unknown> {
  if (!(error instanceof UnavailableError) || settings?.probeTls === undefined) return error;
  const problem = await settings.probeTls();
  if (problem === undefined) return error;
  return new UnauthenticatedError(
    `TLS handshake with the daemon failed: ${problem}. Check the CA (tls.ca), the daemon certificate's ` +
      `validity and names (tls.serverName), and, for mutual TLS, the client certificate (tls.cert, tls.key)`,
    {
      code: UNAUTHENTICATED_CODE,
      field: 'tls',
      reason: 'TLS_HANDSHAKE_FAILED',
      requestId: error.requestId,
      details: error.details,
      metadata: error.metadata,
      cause: error,
    },
  );
}

// The gRPC status code UNAUTHENTICATED.
const UNAUTHENTICATED_CODE = 16;

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Sends one unary call and resolves with the decoded response. When the daemon rejects it with
 * RESOURCE_EXHAUSTED with a retry hint, waits that long and sends the call again, up to the
 * client's overload retry settings and within the call's deadline.
 */
export async function callUnary<Request, Response>(
  client: Client,
  method: UnaryMethod<Request, Response>,
  request: Request,
  options: ResolvedCallOptions,
): Promise<Response> {
  const settings = channelSettings.get(client);
  const retry = settings?.overloadRetry ?? { maxRetries: 0, maxDelayMs: 0 };
  const startedAt = performance.now();
  const deadlineAt = Number.isFinite(options.deadlineMs) ? Date.now() + options.deadlineMs : Infinity;
  for (let attempt = 0; ; attempt++) {
    try {
      return await callUnaryOnce(client, method, request, options, deadlineAt, startedAt);
    } catch (error) {
      if (!(error instanceof ResourceExhaustedError) || attempt >= retry.maxRetries || options.signal?.aborted) {
        throw await explainTlsFailure(error, settings);
      }
      const waitMs = Math.min(error.retryAfterMs ?? 0, retry.maxDelayMs);
      if (!error.retryAfterMs || Date.now() + waitMs >= deadlineAt) throw error;
      await sleep(waitMs, options.signal);
    }
  }
}

/**
 * Sends one unary call and resolves with the decoded response.
 *
 * Rejects with the HeavyliftError subclass for the gRPC status. An aborted `signal` cancels
 * the call at once, and a signal that is already aborted rejects before anything is sent.
 */
function callUnaryOnce<Request, Response>(
  client: Client,
  method: UnaryMethod<Request, Response>,
  request: Request,
  options: ResolvedCallOptions,
  deadlineAt: number,
  startedAt: number,
): Promise<Response> {
  const { signal, requestId, deadlineMs } = options;
  if (signal?.aborted) {
    return Promise.reject(abortError(signal, requestId));
  }

  return new Promise<Response>((resolve, reject) => {
    const metadata = new Metadata();
    metadata.set(REQUEST_ID_METADATA_KEY, requestId);
    if (options.traceparent !== undefined) metadata.set(TRACEPARENT_METADATA_KEY, options.traceparent);

    const grpcOptions: GrpcCallOptions = {};
    if (Number.isFinite(deadlineAt)) {
      grpcOptions.deadline = deadlineAt;
    }

    // Set by whichever comes first, the response or the abort, so the other one is ignored.
    let settled = false;

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
