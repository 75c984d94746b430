// Client- and server-streaming gRPC calls with flow control in both directions, shared by the
// files, image and live aggregation methods.
import { type CallOptions as GrpcCallOptions, type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';

import { REQUEST_ID_METADATA_KEY, type ResolvedCallOptions, type UnaryMethod } from './call';
import { abortError, errorFromServiceError } from './errors';

/** Bytes to stream: a Node Readable (a busboy file stream, `fs.createReadStream`), any async iterable of chunks, or a Buffer. */
export type ByteSource = AsyncIterable<Uint8Array | string> | Uint8Array;

/** The parts of a generated method definition that a streaming call needs, the same as a unary call's. */
export type StreamMethod<Request, Response> = UnaryMethod<Request, Response>;

/** Returns whether `value` can be streamed by {@link callByteStream}. */
export function isByteSource(value: unknown): value is ByteSource {
  return (
    value instanceof Uint8Array ||
    (typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}

/** Builds the request-id metadata and the deadline of a streaming call. */
function streamCallOptions(resolved: ResolvedCallOptions): { metadata: Metadata; grpcOptions: GrpcCallOptions } {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_METADATA_KEY, resolved.requestId);
  const grpcOptions: GrpcCallOptions = {};
  if (Number.isFinite(resolved.deadlineMs)) {
    grpcOptions.deadline = Date.now() + resolved.deadlineMs;
  }
  return { metadata, grpcOptions };
}

/**
 * Bytes a client stream may have written ahead of the socket. grpc-js counts messages, not
 * bytes, and reports its buffer full at 16: 16 MiB of 1 MiB messages. While the daemon was
 * slower than the source, a 268 MB upload then ran 65 to 77 garbage collections (280 to 420 ms)
 * and stalled the event loop over 8 ms 33 to 51 times. With this bound: 27 to 28 collections
 * (40 to 46 ms) and 1 or 2 such stalls.
 */
const MAX_PENDING_BYTES = 4 << 20;

/** The writer that a client-streaming call's producer receives. */
export interface ClientStreamWriter<Request> {
  /**
   * Sends `message`, waiting for 'drain' whenever grpc-js reports its buffer full, and while the
   * `bytes` of the messages written are more than MAX_PENDING_BYTES ahead of the socket.
   */
  write(message: Request, bytes?: number): Promise<void>;
  /** Reports whether the call has ended, so the producer can stop early. */
  settled(): boolean;
}

/**
 * Starts `method` on `client`, lets `produce` write the messages, half-closes, and resolves with
 * the response. An error of `produce` cancels the call and rejects with that error.
 */
export function callClientStream<Request, Response>(
  client: Client,
  method: StreamMethod<Request, Response>,
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

    // Bytes written that grpc-js has not yet handed to the socket, and the wait for them to fall.
    let pendingBytes = 0;
    let wakeWriter: (() => void) | undefined;
    const writer: ClientStreamWriter<Request> = {
      write: async (message, bytes = 0) => {
        pendingBytes += bytes;
        const accepted = call.write(message, () => {
          pendingBytes -= bytes;
          if (wakeWriter !== undefined && pendingBytes < MAX_PENDING_BYTES) {
            wakeWriter();
            wakeWriter = undefined;
          }
        });
        if (!accepted) {
          await Promise.race([once(call, 'drain'), ended]);
        }
        while (pendingBytes >= MAX_PENDING_BYTES && !settled) {
          await Promise.race([new Promise<void>((wake) => (wakeWriter = wake)), ended]);
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

/** Returns the tag (wire type 2) and the length varint that start bytes field `field` of `length` bytes. */
function bytesFieldHeader(field: number, length: number): number[] {
  const header: number[] = [];
  for (let value = (field << 3) | 2; ; value = Math.floor(value / 128)) {
    header.push(value > 0x7f ? (value & 0x7f) | 0x80 : value);
    if (value <= 0x7f) break;
  }
  for (let value = length; ; value = Math.floor(value / 128)) {
    header.push(value > 0x7f ? (value & 0x7f) | 0x80 : value);
    if (value <= 0x7f) break;
  }
  return header;
}

/**
 * Returns the protobuf encoding of a message whose only set field is the bytes field `field`:
 * its tag, the length as a varint, then `data`, written with one copy. Empty bytes are the
 * field's default, which proto3 leaves out.
 */
export function encodeBytesField(field: number, data: Uint8Array): Buffer {
  if (data.length === 0) {
    return Buffer.alloc(0);
  }
  const header = bytesFieldHeader(field, data.length);
  const encoded = Buffer.allocUnsafe(header.length + data.length);
  encoded.set(header, 0);
  encoded.set(data, header.length);
  return encoded;
}

/**
 * Yields `source` as encoded messages whose only field is the bytes field `field`, each with
 * `chunkBytes` bytes of the source (the last one fewer).
 *
 * Smaller chunks are gathered, because each gRPC message costs about the same CPU whatever its
 * size. The bytes are copied once, into the message's buffer behind room left for its header,
 * where the generated encoder copied them three times. Together these cut the Node CPU of a
 * 268 MB upload read in 64 KiB chunks from about 0.6-0.85 s to 0.3-0.45 s. Each message has its
 * own buffer, since grpc-js may queue a message before sending it.
 */
export async function* encodeByteMessages(source: ByteSource, chunkBytes: number, field: number): AsyncGenerator<Buffer> {
  // The header of a full message is the longest one.
  const headroom = bytesFieldHeader(field, chunkBytes).length;
  let gathered: Buffer | undefined;
  let gatheredBytes = 0;
  const encodeGathered = (buffer: Buffer, length: number): Buffer => {
    const header = bytesFieldHeader(field, length);
    const start = headroom - header.length;
    buffer.set(header, start);
    return buffer.subarray(start, headroom + length);
  };
  const chunks = source instanceof Uint8Array ? [source] : source;
  for await (const chunk of chunks) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let offset = 0;
    while (offset < data.length) {
      const left = data.length - offset;
      if (gatheredBytes === 0 && left >= chunkBytes) {
        yield encodeBytesField(field, data.subarray(offset, offset + chunkBytes));
        offset += chunkBytes;
        continue;
      }
      gathered ??= Buffer.allocUnsafe(headroom + chunkBytes);
      const copied = Math.min(chunkBytes - gatheredBytes, left);
      gathered.set(data.subarray(offset, offset + copied), headroom + gatheredBytes);
      gatheredBytes += copied;
      offset += copied;
      if (gatheredBytes === chunkBytes) {
        yield encodeGathered(gathered, gatheredBytes);
        gathered = undefined;
        gatheredBytes = 0;
      }
    }
  }
  if (gathered !== undefined) {
    yield encodeGathered(gathered, gatheredBytes);
  }
}

/** A message of a byte stream already encoded by {@link encodeByteMessages}. */
class EncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/**
 * Runs one client-streaming call of bytes: sends `first`, then `source` in the messages of
 * {@link encodeByteMessages}, each with only the bytes field `dataField` set.
 */
export function callByteStream<Request, Response>(
  client: Client,
  method: StreamMethod<Request, Response>,
  first: Request,
  dataField: number,
  source: ByteSource,
  chunkBytes: number,
  resolved: ResolvedCallOptions,
): Promise<Response> {
  const withEncodedMessages: StreamMethod<Request | EncodedMessage, Response> = {
    ...method,
    requestSerialize: (value) => (value instanceof EncodedMessage ? value.bytes : method.requestSerialize(value)),
  };
  return callClientStream(client, withEncodedMessages, resolved, async (writer) => {
    await writer.write(first);
    for await (const message of encodeByteMessages(source, chunkBytes, dataField)) {
      if (writer.settled()) {
        break;
      }
      await writer.write(new EncodedMessage(message), message.length);
    }
  });
}

/**
 * Runs one server-streaming call and returns a Readable fed by `onMessage`, which pushes what it
 * takes from each message and returns `push`'s result. grpc-js reads the next message only while
 * the Readable wants data, so HTTP/2 flow control reaches the daemon. Destroying the Readable
 * cancels the call.
 */
export function callServerStream<Request, Response>(
  client: Client,
  method: StreamMethod<Request, Response>,
  request: Request,
  resolved: ResolvedCallOptions,
  onMessage: (message: Response, output: Readable) => boolean,
  objectMode = false,
): Readable {
  const { signal, requestId, deadlineMs } = resolved;
  const { metadata, grpcOptions } = streamCallOptions(resolved);
  const startedAt = performance.now();
  const call = client.makeServerStreamRequest<Request, Response>(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    metadata,
    grpcOptions,
  );
  const output = new Readable({
    objectMode,
    read() {
      call.resume();
    },
    destroy(error, callback) {
      signal?.removeEventListener('abort', onAbort);
      call.removeAllListeners('data');
      call.cancel();
      callback(error);
    },
  });
  const onAbort = (): void => {
    output.destroy(abortError(signal!, requestId));
  };
  if (signal?.aborted) {
    process.nextTick(onAbort);
  } else {
    signal?.addEventListener('abort', onAbort, { once: true });
  }
  call.on('data', (message: Response) => {
    if (!onMessage(message, output)) {
      call.pause();
    }
  });
  call.on('error', (error: ServiceError) => {
    signal?.removeEventListener('abort', onAbort);
    output.destroy(errorFromServiceError(error, requestId, { deadlineMs, elapsedMs: performance.now() - startedAt }));
  });
  call.on('end', () => {
    signal?.removeEventListener('abort', onAbort);
    output.push(null);
  });
  return output;
}
