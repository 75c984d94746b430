/**
 * Node.js client for the heavylift daemon, which runs CPU-heavy tasks (image thumbnails,
 * argon2id password hashing) outside the Node.js process.
 *
 * @packageDocumentation
 */
export {
  createClient,
  DEFAULT_ADDRESS,
  DEFAULT_DEADLINE_MS,
  type Argon2idMethods,
  type ClientOptions,
  type CryptoMethods,
  type HeavyliftClient,
  type ImageMethods,
} from './client';
export type { CallOptions } from './call';
export type { Argon2idHashOptions, Password } from './argon2id';
export type { HealthCheckOptions, HealthStatus } from './health';
export {
  IMAGE_FORMATS,
  type ImageFormatName,
  type ImageInput,
  type Thumbnail,
  type ThumbnailOptions,
  type ThumbnailResult,
} from './image';
export {
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  HeavyliftError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  UnimplementedError,
  type HeavyliftErrorInit,
} from './errors';
export {
  createJobs,
  DEFAULT_JOBS_QUEUE,
  errorFromFailedJob,
  RedisBlobRef,
  type EnqueueOptions,
  type PutBlobOptions,
  type WithRedisBlobs,
  type HeavyliftJob,
  type HeavyliftJobs,
  type JobsClientOptions,
  type ResultOptions,
  type TaskName,
  type TaskRequest,
  type TaskResult,
} from './jobs';
