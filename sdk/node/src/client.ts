import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  credentials as grpcCredentials,
} from '@grpc/grpc-js';
import type { Readable } from 'node:stream';

import {
  type AggregateOptions,
  type AggregateResult,
  buildAggregateRequest,
  buildDecodeRequest,
  type DecodeOptions,
  type DecodeResult,
  toAggregateResult,
  toDecodeResult,
} from './aggregate';
import { type CallOptions, callUnary, checkDeadlineMs, resolveCallOptions, setChannelSettings } from './call';
import {
  type OverloadRetryOptions,
  type TlsOptions,
  checkOverloadRetry,
  checkToken,
  checkTraceparentProvider,
  metadataInterceptor,
  serviceConfig,
  targetOf,
  tlsChannel,
  tlsProbe,
} from './connection';
import { createCryptoMethods, type CryptoMethods } from './crypto';
import { createFileMethods, type FileMethods } from './files';
import { buildLiveEvent, buildLiveSpec, callLive, type LiveEvent, type LiveOptions, type LiveResult } from './aggregate-live';
import { HealthService } from './gen/grpc/health/v1/health';
import { AggregateServiceService } from './gen/heavylift/v1/aggregate';
import { ImageServiceService } from './gen/heavylift/v1/image';
import { type TaskMethod, taskMethod } from './task';
import { type HealthCheckOptions, type HealthStatus, healthStatusName } from './health';
import { createRealtimeMethods, type RealtimeMethods } from './realtime';
import { buildThumbnailRequest, type ThumbnailOptions, type ThumbnailResult, toThumbnailResult } from './image';
import { type TransformUploadOptions, buildTransformUpload, callTransformStream, callTransformUpload } from './image-stream';
import {
  type AnalyzeOptions,
  type AnalyzeResult,
  buildAnalyzeRequest,
  buildMetadataRequest,
  buildTransformRequest,
  type ImageMetadataResult,
  type MetadataOptions,
  toAnalyzeResult,
  toMetadataResult,
  toTransformResult,
  type TransformOptions,
  type TransformResult,
} from './image-transform';
import {
  checkCallOptionKeys,
  checkKnownKeys,
  checkKnownOptions,
  checkOptionsObject,
  checkString,
  invalidParameter,
  optionNames,
} from './validate';

/** Address that `createClient` connects to when none is given. */
export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/** Per-call deadline in milliseconds that `createClient` applies when none is given. */
export const DEFAULT_DEADLINE_MS = 30_000;

/** Options of {@link createClient}. */
export interface ClientOptions {
  /**
   * The daemon's gRPC address as `host:port`, a list of numeric `host:port` addresses of
   * several daemons, or any grpc-js target such as `dns:heavylift.internal:50051` (every
   * record it resolves to is used) or `unix:/path`. Calls are balanced round-robin over the
   * addresses, and calls to the idempotent services are retried with backoff on UNAVAILABLE,
   * so a daemon that drains or dies is skipped. Default: `'127.0.0.1:50051'`.
   */
  address?: string | string[];
  /** TLS to the daemon, and a client certificate for mutual TLS. Default: none (plaintext). */
  tls?: TlsOptions;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on every call, or a function that
   * returns the current token for each call (for rotation). Default: none.
   */
  token?: string | (() => string);
  /**
   * Returns the W3C `traceparent` of the work in progress (for example from
   * AsyncLocalStorage), sent with each call that sets none itself. Default: none.
   */
  traceparent?: () => string | undefined;
  /** Retries of calls that the daemon rejects as overloaded, after the wait its retry hint gives. Default: `{ maxRetries: 2, maxDelayMs: 2000 }`. */
  overloadRetry?: OverloadRetryOptions;
  /** Deadline of each call in milliseconds, unless the call sets its own. `Infinity` sends none. Default: `30000`. */
  deadlineMs?: number;
  /** Channel credentials. Default: `credentials.createInsecure()` from `@grpc/grpc-js`, for a daemon on loopback or a private network. */
  credentials?: ChannelCredentials;
  /**
   * grpc-js channel options, merged over the SDK's. The SDK sets
   * `'grpc.max_receive_message_length'` to `-1` (no limit), because a response with several
   * large thumbnails can exceed grpc-js's 4 MiB default and the daemon bounds its outputs itself.
   * Default: `{}`.
   */
  channelOptions?: ChannelOptions;
}

const CLIENT_OPTION_NAMES = optionNames<ClientOptions>({
  address: true,
  tls: true,
  token: true,
  traceparent: true,
  overloadRetry: true,
  deadlineMs: true,
  credentials: true,
  channelOptions: true,
});

const HEALTH_OPTION_NAMES = optionNames<Omit<HealthCheckOptions, keyof CallOptions>>({ service: true });

/** Methods of the daemon's `image` tasks. */
export interface ImageMethods {
  /**
   * Decodes an image once and encodes one thumbnail per requested width, keeping the aspect
   * ratio.
   *
   * Rejects with an InvalidArgumentError for an invalid parameter (raised before sending) or
   * for an input that the daemon rejects: too large, corrupt, an unsupported format, or a
   * path outside the blob root.
   *
   * @example
   * const { thumbnails } = await client.image.thumbnail({ input: await readFile('photo.jpg'), widths: [320, 640] });
   */
  thumbnail(options: ThumbnailOptions, callOptions?: CallOptions): Promise<ThumbnailResult>;
  /**
   * Decodes an image once, applies `operations` in order and encodes every entry of `outputs`
   * (for example 4 widths x JPEG and WebP from one call).
   *
   * Rejects with an InvalidArgumentError naming the option (raised before sending) or the bound
   * the daemon enforced: input bytes or pixels, frames, operations, outputs, output size; and
   * with CORRUPT_INPUT for a damaged image unless `corruptInput: 'warn'`.
   *
   * @example
   * const { outputs } = await client.image.transform({
   *   input: await readFile('photo.jpg'),
   *   operations: [{ resize: { width: 800, height: 600, fit: 'cover', position: 'attention' } }],
   *   outputs: [{ format: 'webp', quality: 75 }, { format: 'jpeg', resize: { width: 320 }, progressive: true }],
   * });
   */
  transform(options: TransformOptions, callOptions?: CallOptions): Promise<TransformResult>;
  /**
   * Runs {@link ImageMethods.transform} on a source streamed in chunks, for sources over the
   * daemon's unary message limit (`image.max_input_bytes` + 1 MiB). The daemon bounds the stream
   * by `image.max_stream_input_bytes` and rejects a source over `image.max_input_pixels` as
   * soon as its header has arrived. An error of the source stream cancels the call.
   *
   * @example
   * const { outputs } = await client.image.transformUpload({
   *   input: fs.createReadStream('scan.tiff'),
   *   outputs: [{ format: 'webp', resize: { width: 1600 } }],
   * });
   */
  transformUpload(options: TransformUploadOptions, callOptions?: CallOptions): Promise<TransformResult>;
  /**
   * Runs {@link ImageMethods.transform} and streams the outputs back as an object-mode Readable
   * of {@link TransformStreamPiece}s (at most `image.max_stream_chunk_bytes` of data each),
   * after an `'info'` event with the source's metadata and the warnings. The daemon produces
   * the next piece only after this one was read; destroying the Readable cancels the call.
   *
   * @example
   * for await (const piece of client.image.transformStream({ input: { path: 'big.png' }, outputs: [{ format: 'png' }] })) {
   *   file.write(piece.data);
   * }
   */
  transformStream(options: TransformOptions, callOptions?: CallOptions): Readable;
  /**
   * Reads an image's header (size, format, orientation, alpha, colour space, pages, EXIF)
   * without decoding its pixels.
   *
   * @example
   * const { width, height, orientation } = await client.image.metadata({ input: buffer });
   */
  metadata(options: MetadataOptions, callOptions?: CallOptions): Promise<ImageMetadataResult>;
  /**
   * Returns the dominant colour, a BlurHash, a ThumbHash and a 64-bit perceptual hash, computed
   * from a decode at most 100 pixels on its longest side.
   *
   * @example
   * const { blurhash, phash } = await client.image.analyze({ input: buffer });
   */
  analyze(options: AnalyzeOptions, callOptions?: CallOptions): Promise<AnalyzeResult>;
}

/** Methods of the daemon's `aggregate` tasks (AggregateService). */
export interface AggregateMethods {
  /**
   * Groups records of a schema model and computes aggregates per group.
   *
   * @example
   * const { groups } = await client.aggregate.run({
   *   model: 'Event',
   *   source: { mongo: { uri: 'mongodb://127.0.0.1:27017', database: 'app' } },
   *   groupBy: ['type', { field: 'at', bucket: 'day' }],
   *   aggregates: [{ kind: 'count' }, { kind: 'quantiles', field: 'amount', quantiles: [0.5, 0.99] }],
   * });
   */
  run(options: AggregateOptions, callOptions?: CallOptions): Promise<AggregateResult>;
  /** Decodes records with the schema and returns them as canonical Extended JSON. */
  decode(options: DecodeOptions, callOptions?: CallOptions): Promise<DecodeResult>;
  /**
   * Aggregates `events` over sliding windows of event time. Each window is published to
   * `options.room` of the real-time hub (Socket.IO event `aggregate:window`) as it closes; the
   * promise resolves when `events` ends, with the counters and the last windows. A stream that
   * runs longer than the client's default deadline needs `{ deadlineMs: Infinity }` or a signal.
   *
   * @example
   * const result = await client.aggregate.live(
   *   { groupBy: ['region'], aggregates: [{ kind: 'mean', field: 'latency' }], windowMs: 60_000, slideMs: 10_000, room: 'ops' },
   *   eventsFromSomewhere(), // { time, labels: { region }, numbers: { latency } }
   *   { deadlineMs: Infinity },
   * );
   */
  live(
    options: LiveOptions,
    events: Iterable<LiveEvent> | AsyncIterable<LiveEvent>,
    callOptions?: CallOptions,
  ): Promise<LiveResult>;
}

/**
 * A connection to one heavylift daemon. Calls may run concurrently over the one HTTP/2
 * connection. Every call returns a promise that rejects with a HeavyliftError subclass, except
 * a call on a closed client, which rejects with a plain Error.
 */
export interface HeavyliftClient {
  /** The address that the client connects to. */
  readonly address: string;
  /** Image tasks. */
  readonly image: ImageMethods;
  /** Cryptographic tasks. */
  readonly crypto: CryptoMethods;
  /** Aggregation over MongoDB, PostgreSQL or BSON documents with the shared schema. */
  readonly aggregate: AggregateMethods;
  /** File tasks: streaming uploads with digests, compression, CSV and NDJSON profiles. */
  readonly files: FileMethods;
  /** The real-time hub: emit to rooms, membership, presence and client events. */
  readonly realtime: RealtimeMethods;
  /** Runs any registered task, such as a team's own, with message types generated by `heavylift-gen`. */
  readonly task: TaskMethod;
  /** Returns the serving status from the standard gRPC health check (`grpc.health.v1.Health/Check`). */
  health(options?: HealthCheckOptions): Promise<HealthStatus>;
  /** Closes the channel. Later calls reject with a plain Error. */
  close(): void;
}

class GrpcHeavyliftClient implements HeavyliftClient {
  readonly address: string;
  readonly image: ImageMethods;
  readonly crypto: CryptoMethods;
  readonly aggregate: AggregateMethods;
  readonly files: FileMethods;
  readonly realtime: RealtimeMethods;
  readonly task: TaskMethod;
  readonly #channel: Client;
  readonly #defaultDeadlineMs: number;
  #closed = false;

  constructor(address: string, deadlineMs: number, channel: Client) {
    this.address = address;
    this.#defaultDeadlineMs = deadlineMs;
    this.#channel = channel;

    this.image = {
      thumbnail: async (options, callOptions) => {
        const request = buildThumbnailRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        const response = await callUnary(this.#channel, ImageServiceService.thumbnail, request, resolved);
        return toThumbnailResult(response);
      },
      transform: async (options, callOptions) => {
        const request = buildTransformRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return toTransformResult(await callUnary(this.#channel, ImageServiceService.transform, request, resolved));
      },
      transformUpload: async (options, callOptions) => {
        const upload = buildTransformUpload(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return callTransformUpload(this.#channel, upload, resolved);
      },
      transformStream: (options, callOptions) => {
        const request = buildTransformRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return callTransformStream(this.#channel, request, resolved);
      },
      metadata: async (options, callOptions) => {
        const request = buildMetadataRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        const response = await callUnary(this.#channel, ImageServiceService.metadata, request, resolved);
        return toMetadataResult(response.metadata);
      },
      analyze: async (options, callOptions) => {
        const request = buildAnalyzeRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return toAnalyzeResult(await callUnary(this.#channel, ImageServiceService.analyze, request, resolved));
      },
    };

    this.crypto = createCryptoMethods((method, request, options) => {
      const resolved = resolveCallOptions(options, this.#defaultDeadlineMs);
      this.#checkOpen();
      return callUnary(this.#channel, method, request, resolved);
    });
    this.aggregate = {
      run: async (options, callOptions) => {
        const request = buildAggregateRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return toAggregateResult(request, await callUnary(this.#channel, AggregateServiceService.aggregate, request, resolved));
      },
      decode: async (options, callOptions) => {
        const request = buildDecodeRequest(options);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return toDecodeResult(await callUnary(this.#channel, AggregateServiceService.decode, request, resolved));
      },
      live: async (options, events, callOptions) => {
        const spec = buildLiveSpec(options);
        if (events === null || typeof events !== 'object' || !(Symbol.iterator in events || Symbol.asyncIterator in events)) {
          throw invalidParameter('events', 'an iterable or async iterable of events', events);
        }
        // An array is checked whole before anything is sent; other iterables as they are read.
        if (Array.isArray(events)) events.forEach(buildLiveEvent);
        checkCallOptionKeys(callOptions);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        return callLive(this.#channel, spec, events, resolved);
      },
    };

    this.files = createFileMethods(() => {
      this.#checkOpen();
      return this.#channel;
    }, this.#defaultDeadlineMs);

    this.task = taskMethod(this.#channel, this.#defaultDeadlineMs, () => this.#checkOpen());

    this.realtime = createRealtimeMethods(this.#channel, this.#defaultDeadlineMs, () => this.#checkOpen());
  }

  async health(options?: HealthCheckOptions): Promise<HealthStatus> {
    const checked = checkOptionsObject(options, 'options');
    checkKnownOptions(checked, 'options', HEALTH_OPTION_NAMES);
    const service = checked.service === undefined ? '' : checkString(checked.service, 'service');
    const resolved = resolveCallOptions(options, this.#defaultDeadlineMs);
    this.#checkOpen();
    const response = await callUnary(this.#channel, HealthService.check, { service }, resolved);
    return healthStatusName(response.status);
  }

  close(): void {
    this.#closed = true;
    this.#channel.close();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new Error(`The heavylift client for ${this.address} is closed; create a new one with createClient()`);
    }
  }
}

/**
 * Creates a client for a heavylift daemon. The connection opens on the first call, so a daemon
 * that is down makes the first call reject with an UnavailableError, not this function.
 * Throws an InvalidArgumentError for an invalid option.
 *
 * @example
 * const client = createClient({ address: '127.0.0.1:50051' });
 * const hash = await client.crypto.argon2id.hash('pw');
 * client.close();
 */
export function createClient(options?: ClientOptions): HeavyliftClient {
  const checked = checkOptionsObject(options, 'options');
  checkKnownKeys(checked, 'options', CLIENT_OPTION_NAMES);

  const target = targetOf(checked.address ?? DEFAULT_ADDRESS);
  const deadlineMs = checked.deadlineMs === undefined ? DEFAULT_DEADLINE_MS : checkDeadlineMs(checked.deadlineMs, 'deadlineMs');
  if (checked.tls !== undefined && checked.credentials !== undefined) {
    throw invalidParameter('tls', 'either tls or credentials, not both', checked.tls);
  }
  const tls = checked.tls === undefined ? undefined : tlsChannel(checked.tls);
  const token = checkToken(checked.token);
  const traceparent = checkTraceparentProvider(checked.traceparent);
  const overloadRetry = checkOverloadRetry(checked.overloadRetry);

  const channelCredentials = tls?.credentials ?? checked.credentials ?? grpcCredentials.createInsecure();
  // Checked by shape rather than instanceof, so credentials from another copy of grpc-js pass.
  if (typeof (channelCredentials as { _isSecure?: unknown } | null)?._isSecure !== 'function') {
    throw invalidParameter('credentials', 'ChannelCredentials from @grpc/grpc-js', channelCredentials);
  }

  const channelOptions = checked.channelOptions ?? {};
  if (typeof channelOptions !== 'object' || channelOptions === null || Array.isArray(channelOptions)) {
    throw invalidParameter('channelOptions', 'object', channelOptions);
  }

  // One generic client carries every service over a single channel.
  const config = serviceConfig(target);
  const channel = new Client(target, channelCredentials, {
    'grpc.max_receive_message_length': -1,
    ...(config === undefined ? {} : { 'grpc.service_config': config }),
    ...tls?.options,
    ...channelOptions,
    interceptors: token === undefined && traceparent === undefined ? [] : [metadataInterceptor(token, traceparent)],
  });
  setChannelSettings(channel, {
    overloadRetry,
    probeTls: tls === undefined ? undefined : tlsProbe(target, tls.checked),
  });
  return new GrpcHeavyliftClient(target, deadlineMs, channel);
}
