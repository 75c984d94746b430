import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  credentials as grpcCredentials,
} from '@grpc/grpc-js';

import { buildArgon2idHashRequest, buildArgon2idVerifyRequest, type Argon2idHashOptions, type Password } from './argon2id';
import { type CallOptions, callUnary, checkDeadlineMs, resolveCallOptions } from './call';
import { createFileMethods, type FileMethods } from './files';
import { HealthService } from './gen/grpc/health/v1/health';
import { CryptoServiceService } from './gen/heavylift/v1/crypto';
import { ImageServiceService } from './gen/heavylift/v1/image';
import { type HealthCheckOptions, type HealthStatus, healthStatusName } from './health';
import { buildThumbnailRequest, type ThumbnailOptions, type ThumbnailResult, toThumbnailResult } from './image';
import { checkNonEmptyString, checkOptionsObject, checkString, invalidParameter } from './validate';

/** Address that `createClient` connects to when none is given. */
export const DEFAULT_ADDRESS = '127.0.0.1:50051';

/** Per-call deadline in milliseconds that `createClient` applies when none is given. */
export const DEFAULT_DEADLINE_MS = 30_000;

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The daemon's gRPC address as `host:port`, or any grpc-js target such as `unix:/path`. Default: `'127.0.0.1:50051'`. */
  address?: string;
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
}

/** Methods of the daemon's argon2id task. */
export interface Argon2idMethods {
  /**
   * Hashes a password with argon2id (RFC 9106, version 0x13) and returns the PHC string, for
   * example `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
   *
   * @example
   * const hash = await client.crypto.argon2id.hash('correct horse battery staple');
   */
  hash(password: Password, options?: Argon2idHashOptions): Promise<string>;
  /**
   * Checks a password against a PHC string made by argon2id, argon2i or argon2d, such as one
   * from {@link Argon2idMethods.hash} or from the npm `argon2` package. Resolves to `false` on
   * a mismatch and rejects with an InvalidArgumentError when `hash` is not a valid PHC string.
   *
   * @example
   * if (await client.crypto.argon2id.verify(storedHash, password)) { ... }
   */
  verify(hash: string, password: Password, options?: CallOptions): Promise<boolean>;
}

/** Methods of the daemon's `crypto` tasks. */
export interface CryptoMethods {
  /** The argon2id password hash. */
  readonly argon2id: Argon2idMethods;
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
  /** File tasks: streaming uploads with digests, compression, CSV and NDJSON profiles. */
  readonly files: FileMethods;
  /** Returns the serving status from the standard gRPC health check (`grpc.health.v1.Health/Check`). */
  health(options?: HealthCheckOptions): Promise<HealthStatus>;
  /** Closes the channel. Later calls reject with a plain Error. */
  close(): void;
}

class GrpcHeavyliftClient implements HeavyliftClient {
  readonly address: string;
  readonly image: ImageMethods;
  readonly crypto: CryptoMethods;
  readonly files: FileMethods;
  readonly #channel: Client;
  readonly #defaultDeadlineMs: number;
  #closed = false;

  constructor(address: string, deadlineMs: number, channelCredentials: ChannelCredentials, channelOptions: ChannelOptions) {
    this.address = address;
    this.#defaultDeadlineMs = deadlineMs;
    // One generic client carries all three services over a single channel.
    this.#channel = new Client(address, channelCredentials, {
      'grpc.max_receive_message_length': -1,
      ...channelOptions,
    });

    this.image = {
      thumbnail: async (options, callOptions) => {
        const request = buildThumbnailRequest(options);
        const resolved = resolveCallOptions(callOptions, this.#defaultDeadlineMs);
        this.#checkOpen();
        const response = await callUnary(this.#channel, ImageServiceService.thumbnail, request, resolved);
        return toThumbnailResult(response);
      },
    };

    this.files = createFileMethods(() => {
      this.#checkOpen();
      return this.#channel;
    }, this.#defaultDeadlineMs);

    this.crypto = {
      argon2id: {
        hash: async (password, options) => {
          const request = buildArgon2idHashRequest(password, options);
          const resolved = resolveCallOptions(options, this.#defaultDeadlineMs);
          this.#checkOpen();
          const response = await callUnary(this.#channel, CryptoServiceService.argon2IdHash, request, resolved);
          return response.hash;
        },
        verify: async (hash, password, options) => {
          const request = buildArgon2idVerifyRequest(hash, password);
          const resolved = resolveCallOptions(options, this.#defaultDeadlineMs);
          this.#checkOpen();
          const response = await callUnary(this.#channel, CryptoServiceService.argon2IdVerify, request, resolved);
          return response.match;
        },
      },
    };
  }

  async health(options?: HealthCheckOptions): Promise<HealthStatus> {
    const checked = checkOptionsObject(options, 'options');
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

  const address = checked.address === undefined ? DEFAULT_ADDRESS : checkNonEmptyString(checked.address, 'address');
  const deadlineMs = checked.deadlineMs === undefined ? DEFAULT_DEADLINE_MS : checkDeadlineMs(checked.deadlineMs, 'deadlineMs');

  const channelCredentials = checked.credentials ?? grpcCredentials.createInsecure();
  // Checked by shape rather than instanceof, so credentials from another copy of grpc-js pass.
  if (typeof (channelCredentials as { _isSecure?: unknown } | null)?._isSecure !== 'function') {
    throw invalidParameter('credentials', 'ChannelCredentials from @grpc/grpc-js', channelCredentials);
  }

  const channelOptions = checked.channelOptions ?? {};
  if (typeof channelOptions !== 'object' || channelOptions === null || Array.isArray(channelOptions)) {
    throw invalidParameter('channelOptions', 'object', channelOptions);
  }

  return new GrpcHeavyliftClient(address, deadlineMs, channelCredentials, channelOptions);
}
