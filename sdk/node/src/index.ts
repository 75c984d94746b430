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
  type AggregateMethods,
  type ClientOptions,
  type HeavyliftClient,
  type ImageMethods,
} from './client';
export type { CallOptions } from './call';
export {
  AGGREGATE_KINDS,
  TIME_BUCKET_UNITS,
  exportModelSchemas,
  type AggregateField,
  type AggregateGroup,
  type AggregateKind,
  type AggregateOptions,
  type AggregateResult,
  type AggregateSource,
  type AggregateSourceMongo,
  type AggregateSourcePostgres,
  type AggregateValue,
  type DecodeOptions,
  type DecodeResult,
  type GroupBy,
  type MovingWindowOptions,
  type ModelWithSchema,
  type SchemaViolation,
  type TimeBucketUnit,
} from './aggregate';
export type { LiveEvent, LiveOptions, LiveResult, LiveWindowResult } from './aggregate-live';
export type { OverloadRetryOptions, TlsOptions } from './connection';
export { childTraceparent, traceIdOf } from './trace';
export type {
  BatchResult,
  BcryptHashOptions,
  BcryptLongPasswordPolicy,
  CryptoMethods,
  Decrypted,
  DecryptOptions,
  EncryptOptions,
  JwtClaims,
  JwtVerifyOptions,
  KeyPair,
  Normalization,
  PasswordAlgorithmName,
  PasswordOptions,
  PasswordPolicy,
  RehashAdvice,
  SignatureAlgorithmName,
  SignatureItem,
  SignatureOptions,
} from './crypto';
export type { MessageType, PartialMessage, TaskMethod, TaskOptions } from './task';
export type { Argon2idHashOptions, Password } from './argon2id';
export type { HealthCheckOptions, HealthStatus } from './health';
export type {
  ClientEvent,
  EmitOptions,
  EmitWithAckOptions,
  RealtimeMethods,
  RealtimeSubscription,
  RoomMember,
  SocketTarget,
  SubscribeOptions,
} from './realtime';
export {
  IMAGE_FORMATS,
  type ImageFormatName,
  type ImageInput,
  type Thumbnail,
  type ThumbnailOptions,
  type ThumbnailResult,
} from './image';
export {
  FITS,
  GRAVITIES,
  hammingDistance,
  OUTPUT_FORMATS,
  type AnalyzeOptions,
  type AnalyzeResult,
  type ColorInput,
  type FitName,
  type GravityName,
  type ImageMetadataResult,
  type MetadataOptions,
  type OperationOptions,
  type OutputFormatName,
  type OutputOptions,
  type ResizeOptions,
  type TransformedImage,
  type TransformOptions,
  type TransformResult,
} from './image-transform';
export type { TransformStreamInfo, TransformStreamPiece, TransformUploadOptions } from './image-stream';
export type { ByteSource } from './stream-call';
export {
  COMPRESSION_FORMATS,
  DIGEST_NAMES,
  type ColumnProfile,
  type CompressionFormatName,
  type CsvOptions,
  type DataProfile,
  type DigestName,
  type FileDigests,
  type FileInput,
  type FileMethods,
  type UploadOptions,
  type UploadResult,
  type UploadSource,
} from './files';
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

/** Helpers over amqplib for heavylift's RabbitMQ worker. */
export * as amqp from './amqp';
export {
  createJobs,
  DEFAULT_JOBS_QUEUE,
  errorFromFailedJob,
  RedisBlobRef,
  type BuiltinTasks,
  type EnqueueOptions,
  type PutBlobOptions,
  type TaskDefinition,
  type TaskSet,
  type TaskTypeMap,
  type TaskTypes,
  type HeavyliftJob,
  type HeavyliftJobs,
  type JobsClientOptions,
  type ResultOptions,
  type TaskName,
  type TaskRequest,
  type TaskResult,
} from './jobs';
