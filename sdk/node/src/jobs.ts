/**
 * Typed BullMQ helpers for heavylift's queue worker: enqueue a task with the
 * same request type as its gRPC call, and read back its typed result.
 *
 * A heavylift job is an ordinary BullMQ job: its name is the task name, its
 * data the proto3 JSON of the request and its `returnvalue` the proto3 JSON of
 * the result. Anything BullMQ offers (QueueEvents, Bull Board, job options)
 * keeps working.
 */
import { randomUUID } from 'node:crypto';

import { status } from '@grpc/grpc-js';
import { Job, Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';
import IORedis, { type RedisOptions } from 'ioredis';

import {
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  HeavyliftError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  protoPathToCamelCase,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  UnimplementedError,
} from './errors';
import {
  CONTRACT_DESCRIPTOR_SET,
  type AeadDecryptRequestJson,
  type AeadEncryptRequestJson,
  type AggregateRequestJson,
  type AnalyzeRequestJson,
  type Argon2idHashRequestJson,
  type Argon2idVerifyRequestJson,
  type BcryptHashRequestJson,
  type BcryptVerifyRequestJson,
  type CompareRequestJson,
  type CompressRequestJson,
  type CsvToNdjsonRequestJson,
  type DecodeRequestJson,
  type DecompressRequestJson,
  type DigestRequestJson,
  type EchoRequestJson,
  type FailRequestJson,
  type HashRequestJson,
  type HkdfRequestJson,
  type HmacRequestJson,
  type JwtSignRequestJson,
  type JwtVerifyRequestJson,
  type KeyGenerateRequestJson,
  type MetadataRequestJson,
  type PasswordHashBatchRequestJson,
  type PasswordHashRequestJson,
  type PasswordNeedsRehashRequestJson,
  type PasswordVerifyBatchRequestJson,
  type PasswordVerifyRequestJson,
  type ProfileCsvRequestJson,
  type ProfileNdjsonRequestJson,
  type RandomRequestJson,
  type SignBatchRequestJson,
  type SignRequestJson,
  type SleepRequestJson,
  type ThumbnailRequestJson,
  type TransformRequestJson,
  type VerifyBatchRequestJson,
  type VerifyRequestJson,
} from './gen/contract-json';
import { ErrorDetail } from './gen/heavylift/v1/common';
import type {
  AggregateRequest,
  AggregateResponse,
  DecodeRequest,
  DecodeResponse,
} from './gen/heavylift/v1/aggregate';
import type {
  AeadDecryptRequest,
  AeadDecryptResponse,
  AeadEncryptRequest,
  AeadEncryptResponse,
  Argon2idHashRequest,
  Argon2idHashResponse,
  Argon2idVerifyRequest,
  Argon2idVerifyResponse,
  BcryptHashRequest,
  BcryptHashResponse,
  BcryptVerifyRequest,
  BcryptVerifyResponse,
  CompareRequest,
  CompareResponse,
  HashRequest,
  HashResponse,
  HkdfRequest,
  HkdfResponse,
  HmacRequest,
  HmacResponse,
  JwtSignRequest,
  JwtSignResponse,
  JwtVerifyRequest,
  JwtVerifyResponse,
  KeyGenerateRequest,
  KeyGenerateResponse,
  PasswordHashBatchRequest,
  PasswordHashBatchResponse,
  PasswordHashRequest,
  PasswordHashResponse,
  PasswordNeedsRehashRequest,
  PasswordNeedsRehashResponse,
  PasswordVerifyBatchRequest,
  PasswordVerifyBatchResponse,
  PasswordVerifyRequest,
  PasswordVerifyResponse,
  RandomRequest,
  RandomResponse,
  SignBatchRequest,
  SignBatchResponse,
  SignRequest,
  SignResponse,
  VerifyBatchRequest,
  VerifyBatchResponse,
  VerifyRequest,
  VerifyResponse,
} from './gen/heavylift/v1/crypto';
import type {
  CompressRequest,
  CompressResponse,
  CsvToNdjsonRequest,
  CsvToNdjsonResponse,
  DecompressRequest,
  DecompressResponse,
  DigestRequest,
  DigestResponse,
  ProfileCsvRequest,
  ProfileNdjsonRequest,
  ProfileResponse,
} from './gen/heavylift/v1/files';
import type {
  AnalyzeRequest,
  AnalyzeResponse,
  MetadataRequest,
  MetadataResponse,
  ThumbnailRequest,
  ThumbnailResponse,
  TransformRequest,
  TransformResponse,
} from './gen/heavylift/v1/image';
import type {
  EchoRequest,
  EchoResponse,
  FailRequest,
  FailResponse,
  SleepRequest,
  SleepResponse,
} from './gen/heavylift/v1/testing';
import { BUILTIN_TASK_TYPES } from './builtin-tasks';
import { registryOf, toProtoJson, type RedisKeyReference } from './proto-json';
import { type MessageType } from './task';
import { checkTraceparent } from './trace';
import { checkNonEmptyString, checkOptionsObject, invalidParameter } from './validate';

/** Queue name that heavylift's worker reads by default (`--bullmq-queue`). */
export const DEFAULT_JOBS_QUEUE = 'heavylift';

/**
 * The types of one task. `request` is the proto3 JSON of its request message, as a job
 * carries it. `message` is the request as the generated message type, which `client.task`
 * takes. `result` is the generated type of its response message.
 */
export interface TaskTypes {
  request: object;
  message: unknown;
  result: unknown;
}

/** A map from task names to their {@link TaskTypes}. */
export type TaskTypeMap<T> = { [K in keyof T]: TaskTypes };

/** The run-time types of one task, for the job helpers and `client.task`. */
export interface TaskDefinition<T extends TaskTypes> {
  /** Full name of the request message in the set's descriptors, such as `catalog.v1.SearchRequest`. */
  readonly requestMessage: string;
  /** The generated request type, for `client.task`. */
  readonly requestType: MessageType<T['message']>;
  /** The generated response type; its `fromJSON` reads a job's returnvalue. */
  readonly responseType: MessageType<T['result']> & { fromJSON(object: unknown): T['result'] };
}

/**
 * Tasks generated by `heavylift-gen --task NAME=Request:Response` from a team's `.proto`
 * files: the FileDescriptorSet that requests are checked against, and each task's types.
 * Pass it to {@link createJobs} as `tasks`.
 */
export interface TaskSet<T extends TaskTypeMap<T>> {
  /** Serialized google.protobuf.FileDescriptorSet of the protos, base64, imports included. */
  readonly descriptorSet: string;
  readonly types: { readonly [K in keyof T]: TaskDefinition<T[K]> };
}

/**
 * Every built-in task that the daemon takes from its queues, known to the job helpers without
 * a {@link TaskSet}. `testing.*` runs only on a daemon started with `--testing-tasks true`.
 */
export interface BuiltinTasks {
  'image.thumbnail': { request: ThumbnailRequestJson; message: ThumbnailRequest; result: ThumbnailResponse };
  'image.transform': { request: TransformRequestJson; message: TransformRequest; result: TransformResponse };
  'image.metadata': { request: MetadataRequestJson; message: MetadataRequest; result: MetadataResponse };
  'image.analyze': { request: AnalyzeRequestJson; message: AnalyzeRequest; result: AnalyzeResponse };
  'crypto.argon2id.hash': { request: Argon2idHashRequestJson; message: Argon2idHashRequest; result: Argon2idHashResponse };
  'crypto.argon2id.verify': { request: Argon2idVerifyRequestJson; message: Argon2idVerifyRequest; result: Argon2idVerifyResponse };
  'crypto.bcrypt.hash': { request: BcryptHashRequestJson; message: BcryptHashRequest; result: BcryptHashResponse };
  'crypto.bcrypt.verify': { request: BcryptVerifyRequestJson; message: BcryptVerifyRequest; result: BcryptVerifyResponse };
  'crypto.password.hash': { request: PasswordHashRequestJson; message: PasswordHashRequest; result: PasswordHashResponse };
  'crypto.password.verify': { request: PasswordVerifyRequestJson; message: PasswordVerifyRequest; result: PasswordVerifyResponse };
  'crypto.password.needs_rehash': { request: PasswordNeedsRehashRequestJson; message: PasswordNeedsRehashRequest; result: PasswordNeedsRehashResponse };
  'crypto.password.hash_batch': { request: PasswordHashBatchRequestJson; message: PasswordHashBatchRequest; result: PasswordHashBatchResponse };
  'crypto.password.verify_batch': { request: PasswordVerifyBatchRequestJson; message: PasswordVerifyBatchRequest; result: PasswordVerifyBatchResponse };
  'crypto.aead.encrypt': { request: AeadEncryptRequestJson; message: AeadEncryptRequest; result: AeadEncryptResponse };
  'crypto.aead.decrypt': { request: AeadDecryptRequestJson; message: AeadDecryptRequest; result: AeadDecryptResponse };
  'crypto.hash': { request: HashRequestJson; message: HashRequest; result: HashResponse };
  'crypto.hmac': { request: HmacRequestJson; message: HmacRequest; result: HmacResponse };
  'crypto.hkdf': { request: HkdfRequestJson; message: HkdfRequest; result: HkdfResponse };
  'crypto.compare': { request: CompareRequestJson; message: CompareRequest; result: CompareResponse };
  'crypto.random': { request: RandomRequestJson; message: RandomRequest; result: RandomResponse };
  'crypto.keygen': { request: KeyGenerateRequestJson; message: KeyGenerateRequest; result: KeyGenerateResponse };
  'crypto.sign': { request: SignRequestJson; message: SignRequest; result: SignResponse };
  'crypto.verify': { request: VerifyRequestJson; message: VerifyRequest; result: VerifyResponse };
  'crypto.sign_batch': { request: SignBatchRequestJson; message: SignBatchRequest; result: SignBatchResponse };
  'crypto.verify_batch': { request: VerifyBatchRequestJson; message: VerifyBatchRequest; result: VerifyBatchResponse };
  'crypto.jwt.sign': { request: JwtSignRequestJson; message: JwtSignRequest; result: JwtSignResponse };
  'crypto.jwt.verify': { request: JwtVerifyRequestJson; message: JwtVerifyRequest; result: JwtVerifyResponse };
  'files.digest': { request: DigestRequestJson; message: DigestRequest; result: DigestResponse };
  'files.compress': { request: CompressRequestJson; message: CompressRequest; result: CompressResponse };
  'files.decompress': { request: DecompressRequestJson; message: DecompressRequest; result: DecompressResponse };
  'files.profile_csv': { request: ProfileCsvRequestJson; message: ProfileCsvRequest; result: ProfileResponse };
  'files.profile_ndjson': { request: ProfileNdjsonRequestJson; message: ProfileNdjsonRequest; result: ProfileResponse };
  'files.csv_to_ndjson': { request: CsvToNdjsonRequestJson; message: CsvToNdjsonRequest; result: CsvToNdjsonResponse };
  'aggregate.run': { request: AggregateRequestJson; message: AggregateRequest; result: AggregateResponse };
  'aggregate.decode': { request: DecodeRequestJson; message: DecodeRequest; result: DecodeResponse };
  'testing.sleep': { request: SleepRequestJson; message: SleepRequest; result: SleepResponse };
  'testing.fail': { request: FailRequestJson; message: FailRequest; result: FailResponse };
  'testing.echo': { request: EchoRequestJson; message: EchoRequest; result: EchoResponse };
}

const BUILTIN_TASKS: TaskSet<BuiltinTasks> = {
  descriptorSet: CONTRACT_DESCRIPTOR_SET,
  types: Object.fromEntries(
    Object.entries(BUILTIN_TASK_TYPES)
      .filter(([name]) => name !== 'testing.crash')
      .map(([name, types]) => [name, { requestMessage: types.requestMessage, requestType: types.request, responseType: types.result }]),
  ) as unknown as TaskSet<BuiltinTasks>['types'],
};

/** Names of the built-in tasks with typed requests and results. */
export type TaskName = keyof BuiltinTasks;
/** The request of built-in task `T` as proto3 JSON, the job's data. */
export type TaskRequest<T extends TaskName> = BuiltinTasks[T]['request'];
/** The result of built-in task `T`, as its generated response type. */
export type TaskResult<T extends TaskName> = BuiltinTasks[T]['result'];

/**
 * A blob stored in Redis by {@link HeavyliftJobs.putBlob}. Pass it where a request takes a
 * BlobRef (for example `input` of `image.thumbnail`): the job then carries only the key,
 * and the worker reads the bytes from Redis.
 */
export class RedisBlobRef implements RedisKeyReference {
  constructor(readonly redisKey: string) {}
}

/** Options of {@link HeavyliftJobs.putBlob}. */
export interface PutBlobOptions {
  /** Seconds until Redis deletes the blob. Default: `3600`. */
  ttlSeconds?: number;
}

/** Options of {@link createJobs}. */
export interface JobsClientOptions<Custom extends TaskTypeMap<Custom> = {}> {
  /** Redis connection options or an ioredis instance, as BullMQ's `connection` takes them. */
  connection: ConnectionOptions;
  /** Queue the heavylift worker reads. Default: `'heavylift'`. */
  queueName?: string;
  /** BullMQ key prefix. Default: BullMQ's `'bull'`. */
  prefix?: string;
  /** Custom tasks generated by `heavylift-gen --task`, enqueued and typed like the built-in ones. */
  tasks?: TaskSet<Custom>;
  /**
   * Returns the W3C traceparent of the current request, if any (from your tracing
   * library or request context). Called by each enqueue without its own `traceparent`.
   */
  traceparent?: () => string | undefined;
}

/** Options of {@link HeavyliftJobs.enqueue}: BullMQ's job options plus a time limit and a trace context. */
export interface EnqueueOptions extends JobsOptions {
  /** Time limit of one attempt in milliseconds; the attempt then fails with DEADLINE_EXCEEDED. Default: the worker's `--bullmq-job-timeout-ms`. */
  timeoutMs?: number;
  /**
   * W3C traceparent under which the worker logs the job, carried as BullMQ telemetry
   * metadata (`opts.telemetry.metadata`, `tm` in Redis). Default: the value of the
   * `traceparent` provider given to {@link createJobs}, if any.
   */
  traceparent?: string;
}

/** Options of {@link HeavyliftJobs.result}. */
export interface ResultOptions {
  /** How long to wait for the job to finish, in milliseconds. Default: `60000`. */
  timeoutMs?: number;
}

/** A BullMQ job whose name is task `T`. */
export type HeavyliftJob<T extends string = string> = Job<unknown, unknown, T>;

/** Typed access to the heavylift queue, for the built-in tasks and those of `Tasks`. */
export interface HeavyliftJobs<Tasks extends TaskTypeMap<Tasks> = BuiltinTasks> {
  /** The underlying BullMQ Queue, for anything these helpers do not cover. */
  readonly queue: Queue;
  /**
   * Adds a job that runs `task` with `request` on a heavylift worker. `request` is the
   * proto3 JSON of the task's request message, as the worker reads it: lowerCamelCase or
   * proto field names, enum values by name (or their lower-case suffix, `'webp'`) or
   * number, bytes as a Buffer or base64, a BlobRef as `{ data }`, `{ path }` or a
   * {@link RedisBlobRef}. An unknown field or a value of the wrong type rejects with an
   * InvalidArgumentError naming the field (`request.widths[1]`) before anything is sent.
   *
   * @example
   * const job = await jobs.enqueue('image.thumbnail', { input: { path: 'uploads/a.jpg' }, widths: [320], format: 'webp' }, { attempts: 3 });
   */
  enqueue<T extends keyof Tasks & string>(task: T, request: Tasks[T]['request'], options?: EnqueueOptions): Promise<HeavyliftJob<T>>;
  /**
   * Stores `bytes` in Redis under `<prefix>:<queue>:blob:<uuid>` with a TTL, for a request's
   * BlobRef field, so large inputs do not travel as base64 inside the job. Retries of the
   * job read the same key, so choose a TTL longer than the job may wait and retry.
   *
   * @example
   * const input = await jobs.putBlob(await readFile('upload.jpg'));
   * await jobs.enqueue('image.thumbnail', { input, widths: [320] });
   */
  putBlob(bytes: Uint8Array, options?: PutBlobOptions): Promise<RedisBlobRef>;
  /**
   * Waits for `job` to finish and resolves with its typed result. Rejects with the typed
   * heavylift error (InvalidArgumentError, ResourceExhaustedError, ...) built from the
   * job's failedReason and error detail when it failed.
   *
   * @example
   * const { thumbnails } = await jobs.result(job);
   */
  result<T extends keyof Tasks & string>(job: HeavyliftJob<T>, options?: ResultOptions): Promise<Tasks[T]['result']>;
  /** Reads the typed result of a job that completed, or undefined while it has not. */
  completedResult<T extends keyof Tasks & string>(job: HeavyliftJob<T>): Tasks[T]['result'] | undefined;
  /** Closes the Queue and QueueEvents connections. */
  close(): Promise<void>;
}

/**
 * Builds the typed error of a failed heavylift job from its `failedReason`
 * ("<CODE>: message") and, when present, the ErrorDetail JSON that the worker
 * stores as the first stacktrace entry.
 */
export function errorFromFailedJob(failedReason: string, stacktrace: readonly string[] = []): HeavyliftError {
  const match = /^([A-Z_]+): ([\s\S]*)$/.exec(failedReason);
  const codeName = match?.[1];
  const code = codeName !== undefined && codeName in status ? (status as unknown as Record<string, number>)[codeName] : status.UNKNOWN;
  const message = match !== null && code !== status.UNKNOWN ? match[2] : failedReason;
  let detail: ErrorDetail | undefined;
  try {
    detail = stacktrace[0] === undefined ? undefined : ErrorDetail.fromJSON(JSON.parse(stacktrace[0]));
  } catch {
    detail = undefined;
  }
  const ErrorClass = ERROR_CLASS_BY_NAME.get(code) ?? HeavyliftError;
  const protoField = detail?.field || undefined;
  return new ErrorClass(message, {
    code,
    field: protoField === undefined ? undefined : protoPathToCamelCase(protoField),
    protoField,
    bound: detail?.bound || undefined,
    value: detail?.value || undefined,
    reason: detail?.reason || undefined,
    retryAfterMs: detail?.retryAfterMs || undefined,
    details: message,
  });
}

const ERROR_CLASS_BY_NAME: ReadonlyMap<number, typeof HeavyliftError> = new Map([
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

type AnyTaskDefinition = TaskDefinition<TaskTypes> & { descriptorSet: string };

/** Merges the built-in tasks with a custom set, rejecting a name taken twice. */
function taskDefinitions(custom: TaskSet<Record<string, TaskTypes>> | undefined): Map<string, AnyTaskDefinition> {
  const definitions = new Map<string, AnyTaskDefinition>();
  const add = (set: TaskSet<Record<string, TaskTypes>>, field: string) => {
    if (typeof set !== 'object' || set === null || typeof set.descriptorSet !== 'string' || typeof set.types !== 'object' || set.types === null) {
      throw invalidParameter(field, 'task set generated by heavylift-gen --task (with descriptorSet and types)', set);
    }
    const registry = registryOf(set.descriptorSet);
    for (const [name, definition] of Object.entries(set.types)) {
      if (definitions.has(name)) throw invalidParameter(`${field}.types`, 'task names not already known', name);
      if (registry.getMessage(definition.requestMessage) === undefined) {
        throw invalidParameter(`${field}.types[${JSON.stringify(name)}].requestMessage`, 'a message of the set\'s descriptors', definition.requestMessage);
      }
      definitions.set(name, { ...definition, descriptorSet: set.descriptorSet });
    }
  };
  add(BUILTIN_TASKS as unknown as TaskSet<Record<string, TaskTypes>>, 'builtin');
  if (custom !== undefined) add(custom, 'tasks');
  return definitions;
}

/**
 * Connects to the heavylift BullMQ queue. One QueueEvents connection is opened lazily, on
 * the first {@link HeavyliftJobs.result} call.
 *
 * @example
 * const jobs = createJobs({ connection: { host: '127.0.0.1', port: 6379 } });
 * const job = await jobs.enqueue('crypto.argon2id.hash', { password: Buffer.from('secret') });
 * const { hash } = await jobs.result(job);
 */
export function createJobs<Custom extends TaskTypeMap<Custom> = {}>(
  options: JobsClientOptions<Custom>,
): HeavyliftJobs<BuiltinTasks & Custom> {
  checkOptionsObject(options, 'options');
  const definitions = taskDefinitions(options.tasks as TaskSet<Record<string, TaskTypes>> | undefined);
  const definitionOf = (task: unknown): AnyTaskDefinition => {
    const definition = typeof task === 'string' ? definitions.get(task) : undefined;
    if (definition === undefined) throw invalidParameter('task', `one of ${[...definitions.keys()].join(', ')}`, task);
    return definition;
  };
  if (options.traceparent !== undefined && typeof options.traceparent !== 'function') {
    throw invalidParameter('traceparent', 'function returning a W3C traceparent or undefined', options.traceparent);
  }
  const queueName = options.queueName ?? DEFAULT_JOBS_QUEUE;
  checkNonEmptyString(queueName, 'queueName');
  const shared = { connection: options.connection, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) };
  const queue = new Queue(queueName, shared);
  let events: QueueEvents | undefined;
  // Blobs are binary, so they and plain reads go through an ioredis
  // connection of their own: the caller's instance, or one opened on first use.
  let redisClient: IORedis | undefined;
  let ownsRedisClient = false;
  const redisConnection = (): IORedis => {
    if (redisClient === undefined) {
      ownsRedisClient = !(options.connection instanceof IORedis);
      redisClient = options.connection instanceof IORedis ? options.connection : new IORedis(options.connection as RedisOptions);
    }
    return redisClient;
  };

  let eventsReady: Promise<QueueEvents> | undefined;
  const queueEvents = (): Promise<QueueEvents> => {
    eventsReady ??= (async () => {
      // QueueEvents reads from '$' by default, which Redis resolves at its
      // first XREAD, some time after the connection is ready: a job finishing
      // in between would be missed. Starting after the stream's last entry
      // now delivers every later event.
      const last = await redisConnection().xrevrange(queue.toKey('events'), '+', '-', 'COUNT', 1);
      events = new QueueEvents(queueName, { ...shared, lastEventId: last[0]?.[0] ?? '0-0' });
      await events.waitUntilReady();
      return events;
    })();
    // A failed start (Redis unreachable) is retried by the next result() call.
    eventsReady.catch(() => {
      eventsReady = undefined;
    });
    return eventsReady;
  };

  type Result = BuiltinTasks & Custom;
  // Typed where it is returned: TypeScript gives up on Result[T]['result']
  // for a generic T over the union of every built-in task's result.
  const completedResult = (job: HeavyliftJob): unknown => {
    if (job.returnvalue === undefined || job.returnvalue === null) return undefined;
    return definitionOf(job.name).responseType.fromJSON(job.returnvalue);
  };

  return {
    queue,
    async enqueue(task, request, enqueueOptions = {}) {
      const definition = definitionOf(task);
      const { timeoutMs, traceparent: explicitTraceparent, ...jobOptions } = checkOptionsObject(enqueueOptions, 'options');
      if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
        throw invalidParameter('timeoutMs', 'a whole number of milliseconds above 0', timeoutMs);
      }
      const desc = registryOf(definition.descriptorSet).getMessage(definition.requestMessage)!;
      const data = toProtoJson(desc, request);
      const traceparent = explicitTraceparent ?? options.traceparent?.();
      const opts: JobsOptions = { ...jobOptions };
      if (timeoutMs !== undefined) (opts as { timeout?: number }).timeout = timeoutMs;
      if (traceparent !== undefined) {
        checkTraceparent(traceparent, 'traceparent');
        // BullMQ stores telemetry metadata as the job's `tm` option; the
        // worker reads the traceparent from it.
        opts.telemetry = { ...opts.telemetry, metadata: JSON.stringify({ traceparent }) };
      }
      return (await queue.add(task, data, opts)) as HeavyliftJob<typeof task>;
    },
    async result(job, resultOptions = {}) {
      const definition = definitionOf(job.name);
      const events = await queueEvents();
      let value: unknown;
      try {
        // Resolves with the returnvalue carried by the completed event, so
        // a job removed on completion still yields its result.
        value = await job.waitUntilFinished(events, resultOptions.timeoutMs ?? 60_000);
      } catch (error) {
        const failed = await Job.fromId(queue, job.id ?? '');
        if (failed?.failedReason) throw errorFromFailedJob(failed.failedReason, failed.stacktrace ?? []);
        throw error;
      }
      return definition.responseType.fromJSON(value);
    },
    completedResult: completedResult as HeavyliftJobs<Result>['completedResult'],
    async putBlob(bytes, blobOptions = {}) {
      if (!(bytes instanceof Uint8Array)) throw invalidParameter('bytes', 'a Buffer or Uint8Array', bytes);
      const ttlSeconds = blobOptions.ttlSeconds ?? 3600;
      if (!(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) {
        throw invalidParameter('ttlSeconds', 'a whole number of seconds above 0', ttlSeconds);
      }
      const key = `${options.prefix ?? 'bull'}:${queueName}:blob:${randomUUID()}`;
      await redisConnection().set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds);
      return new RedisBlobRef(key);
    },
    async close() {
      await events?.close();
      await queue.close();
      if (ownsRedisClient) await redisClient?.quit();
    },
  };
}
