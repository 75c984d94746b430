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
import { Argon2idHashRequest, Argon2idHashResponse, Argon2idVerifyRequest, Argon2idVerifyResponse } from './gen/heavylift/v1/crypto';
import { type BlobRef, ErrorDetail } from './gen/heavylift/v1/common';
import { ThumbnailRequest, ThumbnailResponse } from './gen/heavylift/v1/image';
import { EchoRequest, EchoResponse, FailRequest, FailResponse, SleepRequest, SleepResponse } from './gen/heavylift/v1/testing';
import { checkNonEmptyString, checkOptionsObject, invalidParameter } from './validate';

/** Queue name that heavylift's worker reads by default (`--bullmq-queue`). */
export const DEFAULT_JOBS_QUEUE = 'heavylift';

interface MessageCodec<T> {
  fromPartial(object: unknown): T;
  toJSON(message: T): unknown;
  fromJSON(object: unknown): T;
}

const TASKS = {
  'image.thumbnail': { request: ThumbnailRequest, result: ThumbnailResponse },
  'crypto.argon2id.hash': { request: Argon2idHashRequest, result: Argon2idHashResponse },
  'crypto.argon2id.verify': { request: Argon2idVerifyRequest, result: Argon2idVerifyResponse },
  'testing.sleep': { request: SleepRequest, result: SleepResponse },
  'testing.fail': { request: FailRequest, result: FailResponse },
  'testing.echo': { request: EchoRequest, result: EchoResponse },
} as const;

/** Task names with typed requests and results, the job names heavylift runs. */
export type TaskName = keyof typeof TASKS;
/** The request message of `T`, as generated from the proto contract. */
export type TaskRequest<T extends TaskName> = (typeof TASKS)[T]['request'] extends MessageCodec<infer R> ? R : never;
/** The result message of `T`. */
export type TaskResult<T extends TaskName> = (typeof TASKS)[T]['result'] extends MessageCodec<infer R> ? R : never;

/**
 * A blob stored in Redis by {@link HeavyliftJobs.putBlob}. Pass it where a request takes a
 * BlobRef (for example `input` of `image.thumbnail`): the job then carries only the key,
 * and the worker reads the bytes from Redis.
 */
export class RedisBlobRef {
  constructor(readonly redisKey: string) {}
}

/** `T` with every BlobRef field also accepting a {@link RedisBlobRef}. */
export type WithRedisBlobs<T> = T extends Uint8Array
  ? T
  : T extends BlobRef
    ? BlobRef | RedisBlobRef
    : T extends readonly (infer E)[]
      ? WithRedisBlobs<E>[]
      : T extends object
        ? { [K in keyof T]: WithRedisBlobs<T[K]> }
        : T;

/** Options of {@link HeavyliftJobs.putBlob}. */
export interface PutBlobOptions {
  /** Seconds until Redis deletes the blob. Default: `3600`. */
  ttlSeconds?: number;
}

/** Options of {@link createJobs}. */
export interface JobsClientOptions {
  /** Redis connection options or an ioredis instance, as BullMQ's `connection` takes them. */
  connection: ConnectionOptions;
  /** Queue the heavylift worker reads. Default: `'heavylift'`. */
  queueName?: string;
  /** BullMQ key prefix. Default: BullMQ's `'bull'`. */
  prefix?: string;
}

/** Options of {@link HeavyliftJobs.enqueue}: BullMQ's job options plus a time limit. */
export interface EnqueueOptions extends JobsOptions {
  /** Time limit of one attempt in milliseconds; the attempt then fails with DEADLINE_EXCEEDED. Default: the worker's `--bullmq-job-timeout-ms`. */
  timeoutMs?: number;
}

/** Options of {@link HeavyliftJobs.result}. */
export interface ResultOptions {
  /** How long to wait for the job to finish, in milliseconds. Default: `60000`. */
  timeoutMs?: number;
}

/** A BullMQ job whose name is task `T`. */
export type HeavyliftJob<T extends TaskName> = Job<unknown, unknown, T>;

/** Typed access to the heavylift queue. */
export interface HeavyliftJobs {
  /** The underlying BullMQ Queue, for anything these helpers do not cover. */
  readonly queue: Queue;
  /**
   * Adds a job that runs `task` with `request` on a heavylift worker. The request is
   * validated and converted with the generated type, so a misspelt field fails here.
   *
   * @example
   * const job = await jobs.enqueue('image.thumbnail', { input: { path: 'uploads/a.jpg' }, widths: [320] }, { attempts: 3 });
   */
  enqueue<T extends TaskName>(
    task: T,
    request: WithRedisBlobs<Partial<TaskRequest<T>>>,
    options?: EnqueueOptions,
  ): Promise<HeavyliftJob<T>>;
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
  result<T extends TaskName>(job: HeavyliftJob<T>, options?: ResultOptions): Promise<TaskResult<T>>;
  /** Reads the typed result of a job that completed, or undefined while it has not. */
  completedResult<T extends TaskName>(job: HeavyliftJob<T>): TaskResult<T> | undefined;
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

type JsonPath = (string | number)[];

/** Replaces each RedisBlobRef in `value` with undefined, recording where it was. */
function takeRedisBlobs(value: unknown, path: JsonPath, found: [JsonPath, RedisBlobRef][]): unknown {
  if (value instanceof RedisBlobRef) {
    found.push([path, value]);
    return undefined;
  }
  if (Array.isArray(value)) return value.map((item, i) => takeRedisBlobs(item, [...path, i], found));
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, takeRedisBlobs(item, [...path, key], found)]));
  }
  return value;
}

/** Puts `{ redisKey }` at `path` of the request's proto3 JSON. */
function placeRedisBlob(json: Record<string, unknown>, path: JsonPath, blob: RedisBlobRef): void {
  let node: Record<string | number, unknown> = json;
  for (const step of path.slice(0, -1)) {
    node[step] ??= typeof step === 'number' ? [] : {};
    node = node[step] as Record<string | number, unknown>;
  }
  node[path[path.length - 1]!] = { redisKey: blob.redisKey };
}

function codecsOf(task: string): { request: MessageCodec<unknown>; result: MessageCodec<unknown> } {
  const codecs = (TASKS as unknown as Record<string, { request: MessageCodec<unknown>; result: MessageCodec<unknown> }>)[task];
  if (codecs === undefined) {
    throw invalidParameter('task', `one of ${Object.keys(TASKS).join(', ')}`, task);
  }
  return codecs;
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
export function createJobs(options: JobsClientOptions): HeavyliftJobs {
  checkOptionsObject(options, 'options');
  const queueName = options.queueName ?? DEFAULT_JOBS_QUEUE;
  checkNonEmptyString(queueName, 'queueName');
  const shared = { connection: options.connection, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) };
  const queue = new Queue(queueName, shared);
  let events: QueueEvents | undefined;
  // Blobs are binary, so they go through an ioredis connection of their own:
  // the caller's instance, or one opened on first use.
  let blobClient: IORedis | undefined;
  let ownsBlobClient = false;
  const blobConnection = (): IORedis => {
    if (blobClient === undefined) {
      ownsBlobClient = !(options.connection instanceof IORedis);
      blobClient = options.connection instanceof IORedis ? options.connection : new IORedis(options.connection as RedisOptions);
    }
    return blobClient;
  };

  const queueEvents = async (): Promise<QueueEvents> => {
    if (events === undefined) {
      events = new QueueEvents(queueName, shared);
      await events.waitUntilReady();
    }
    return events;
  };

  const completedResult = <T extends TaskName>(job: HeavyliftJob<T>): TaskResult<T> | undefined => {
    if (job.returnvalue === undefined || job.returnvalue === null) return undefined;
    return codecsOf(job.name).result.fromJSON(job.returnvalue) as TaskResult<T>;
  };

  return {
    queue,
    async enqueue(task, request, enqueueOptions = {}) {
      const codecs = codecsOf(task);
      checkOptionsObject(request, 'request');
      const { timeoutMs, ...jobOptions } = enqueueOptions;
      if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
        throw invalidParameter('timeoutMs', 'a whole number of milliseconds above 0', timeoutMs);
      }
      const blobs: [JsonPath, RedisBlobRef][] = [];
      const plain = takeRedisBlobs(request, [], blobs);
      const data = codecs.request.toJSON(codecs.request.fromPartial(plain)) as Record<string, unknown>;
      for (const [path, blob] of blobs) placeRedisBlob(data, path, blob);
      const opts = timeoutMs === undefined ? jobOptions : { ...jobOptions, timeout: timeoutMs };
      return (await queue.add(task, data, opts as JobsOptions)) as HeavyliftJob<typeof task>;
    },
    async result(job, resultOptions = {}) {
      const codecs = codecsOf(job.name);
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
      return codecs.result.fromJSON(value) as TaskResult<typeof job.name>;
    },
    completedResult,
    async putBlob(bytes, blobOptions = {}) {
      if (!(bytes instanceof Uint8Array)) throw invalidParameter('bytes', 'a Buffer or Uint8Array', bytes);
      const ttlSeconds = blobOptions.ttlSeconds ?? 3600;
      if (!(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) {
        throw invalidParameter('ttlSeconds', 'a whole number of seconds above 0', ttlSeconds);
      }
      const key = `${options.prefix ?? 'bull'}:${queueName}:blob:${randomUUID()}`;
      await blobConnection().set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', ttlSeconds);
      return new RedisBlobRef(key);
    },
    async close() {
      await events?.close();
      await queue.close();
      if (ownsBlobClient) await blobClient?.quit();
    },
  };
}
