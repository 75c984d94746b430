// One client-streaming gRPC call with the SDK's call options: deadline, request id, abort
// signal and error mapping, and writes that wait whenever grpc-js reports its buffer full.
import { type CallOptions as GrpcCallOptions, type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';

import { REQUEST_ID_METADATA_KEY, type ResolvedCallOptions } from './call';
import { abortError, errorFromServiceError } from './errors';

/** Builds the request-id metadata and the deadline of a streaming call. */
export function streamCallOptions(resolved: ResolvedCallOptions): { metadata: Metadata; grpcOptions: GrpcCallOptions } {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_METADATA_KEY, resolved.requestId);
  const grpcOptions: GrpcCallOptions = {};
  if (Number.isFinite(resolved.deadlineMs)) {
    grpcOptions.deadline = Date.now() + resolved.deadlineMs;
  }
  return { metadata, grpcOptions };
}

/** A client-streaming method as the generated service definitions describe it. */
export interface ClientStreamMethod<Request, Response> {
  path: string;
  requestSerialize: (value: Request) => Buffer;
  responseDeserialize: (value: Buffer) => Response;
}

/** The writer that `produce` receives: a write that waits for 'drain', and whether the call has ended. */
export interface ClientStreamWriter<Request> {
  write(message: Request): Promise<void>;
  settled(): boolean;
}

/**
 * Starts `method` on `client`, lets `produce` write the messages, half-closes, and resolves with
 * the response. A failed `produce` cancels the call and rejects with its error.
 */
export function callClientStream<Request, Response>(
  client: Client,
  method: ClientStreamMethod<Request, Response>,
  resolved: ResolvedCallOptions,
  produce: (writer: ClientStreamWriter<Request>) => Promise<void>,
): Promise<Response> {
  const { signal, requestId, deadlineMs } = resolved;
  if (signal?.aborted) {
    return Promise.reject(abortError(signal, requestId));
  }
  return new Promise<Response>((resolve, reject) => {
    const { metadata, grpcOptions } = streamCallOptions(resolved);
    const startedAt = performance.now();
    let settled = false;
    let resolveEnded!: () => void;
    // Settles when the call ends for any reason, so a pending wait for 'drain' stops.
    const ended = new Promise<void>((done) => {
      resolveEnded = done;
    });

    const settle = (error: Error | undefined, response?: Response): void => {
      resolveEnded();
      signal?.removeEventListener('abort', onAbort);
      if (settled) {
        return;
      }
      settled = true;
      if (error) {
        reject(error);
      } else {
        resolve(response as Response);
      }
    };
    const onAbort = (): void => {
      settle(abortError(signal!, requestId));
      call.cancel();
    };

    const call = client.makeClientStreamRequest<Request, Response>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      grpcOptions,
      (error: ServiceError | null, response?: Response) => {
        if (error) {
          settle(errorFromServiceError(error, requestId, { deadlineMs, elapsedMs: performance.now() - startedAt }));
        } else {
          settle(undefined, response);
        }
      },
    );
    signal?.addEventListener('abort', onAbort, { once: true });

    const writer: ClientStreamWriter<Request> = {
      write: async (message) => {
        if (!call.write(message)) {
          await Promise.race([once(call, 'drain'), ended]);
        }
      },
      settled: () => settled,
    };
    produce(writer)
      .then(() => call.end())
      .catch((error: unknown) => {
        call.cancel();
        settle(error instanceof Error ? error : new Error(String(error)));
      });
  });
}
