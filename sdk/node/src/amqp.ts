/**
 * Helpers over `amqplib` for heavylift's RabbitMQ worker: declare the queues the worker uses,
 * publish typed task messages, call a task and await its reply (request/reply with `replyTo`
 * and `correlationId`, with a timeout), and consume results of fire-and-forget messages from
 * the results exchange.
 *
 * Requests are sent as binary protobuf (`application/x-protobuf`) built from the generated
 * types, and the worker replies in the same encoding, so both sides share one contract. A
 * failed task replies with `x-heavylift-status: failed`, the reason `"<CODE>: message"` in
 * `x-heavylift-error` and the `heavylift.v1.ErrorDetail` as JSON in the body; the helpers turn
 * it into the same typed errors the gRPC client raises.
 *
 * @example
 * const connection = await amqplib.connect('amqp://127.0.0.1');
 * const tasks = await AmqpTaskClient.create(connection);
 * const { hash } = await tasks.call('crypto.argon2id.hash', { password: Buffer.from('pw') });
 */
import { randomUUID } from 'node:crypto';

import { status } from '@grpc/grpc-js';
import type { Channel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';

import { BUILTIN_TASK_TYPES } from './builtin-tasks';
import { detailFields, errorClassForCode, messageInCallerNames, type HeavyliftError } from './errors';
import { ErrorDetail } from './gen/heavylift/v1/common';
import { checkTraceparentProvider } from './connection';
import { checkTraceparent } from './trace';
import { checkKnownOptions, checkOptionsObject, invalidParameter } from './validate';

/** Header naming the task to run. */
export const TASK_HEADER = 'x-heavylift-task';
/** Header carrying which attempt a delivery is, from 1. */
export const ATTEMPT_HEADER = 'x-heavylift-attempt';
/** Header of a result: `completed` or `failed`. */
export const STATUS_HEADER = 'x-heavylift-status';
/** Header of a failed result or dead-lettered message: `"<CODE>: message"`. */
export const ERROR_HEADER = 'x-heavylift-error';
/** Header of a result: `true` when an earlier run of the message was interrupted (a worker was lost or stopped), so the task may have run twice. */
export const REDELIVERED_HEADER = 'x-heavylift-redelivered';
/** Header of a dead-lettered message: why it was dead-lettered (for example `MAX_ATTEMPTS`). */
export const DEAD_REASON_HEADER = 'x-heavylift-dead-reason';
/** Header carrying the W3C trace context; the worker logs the task under its trace id. */
export const TRACEPARENT_HEADER = 'traceparent';

/** The worker's default task queue (`--amqp-queue`). */
export const DEFAULT_TASK_QUEUE = 'heavylift.tasks';
/** The worker's default results exchange (`--amqp-results-exchange`). */
export const DEFAULT_RESULTS_EXCHANGE = 'heavylift.results';
/** The worker's default retry delay (`--amqp-retry-delay-ms`). */
export const DEFAULT_RETRY_DELAY_MS = 5000;
/** How long {@link AmqpTaskClient.call} waits for a reply by default. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

interface MessageType<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: never): T;
}

// Request and result types of each task, from the generated protobuf code.
const TASK_TYPES = BUILTIN_TASK_TYPES;

type TaskTypes = typeof TASK_TYPES;
/** Names of the tasks the helpers know the types of. */
export type TaskName = keyof TaskTypes;
/** The request of task `N`: its protobuf message with every field optional. */
export type TaskRequest<N extends TaskName> = Partial<ReturnType<TaskTypes[N]['request']['decode']>>;
/** The result of task `N`, decoded from protobuf. */
export type TaskResult<N extends TaskName> = ReturnType<TaskTypes[N]['result']['decode']>;

/** Options of {@link assertTaskQueues}; they must match the worker's settings. */
export interface TaskQueueOptions {
  /** The task queue. Default: `'heavylift.tasks'`. */
  queue?: string;
  /** The worker's `--amqp-retry-delay-ms`: the retry queue's `x-message-ttl`. Default: `5000`. */
  retryDelayMs?: number;
  /** The worker's `--amqp-results-exchange`. Default: `'heavylift.results'`. */
  resultsExchange?: string;
}

/**
 * Declares the task queue, its retry and dead-letter queues and the results exchange with
 * the arguments the worker declares, so messages published before the worker first starts
 * are kept. RabbitMQ rejects a declaration whose arguments differ from an existing queue's
 * (PRECONDITION_FAILED), so `options` must match the worker's settings.
 */
export async function assertTaskQueues(channel: Channel, options: TaskQueueOptions = {}): Promise<void> {
  checkAmqpOptions(options, 'options', TASK_QUEUE_OPTION_NAMES);
  const queue = options.queue ?? DEFAULT_TASK_QUEUE;
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  await channel.assertExchange(options.resultsExchange ?? DEFAULT_RESULTS_EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(`${queue}.dead`, { durable: true });
  await channel.assertQueue(queue, {
    durable: true,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': `${queue}.dead` },
  });
  await channel.assertQueue(`${queue}.retry`, {
    durable: true,
    arguments: {
      'x-message-ttl': retryDelayMs,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queue,
    },
  });
}

const TASK_QUEUE_OPTION_NAMES = ['queue', 'retryDelayMs', 'resultsExchange'] as const;

/**
 * Rejects keys of `options` that `allowed` does not name, so a misspelt option (`replyto`,
 * `timeout`) fails instead of being ignored. The gRPC call options are not accepted unless
 * `allowed` names them: the helpers do not read `deadlineMs`, `signal` or `requestId`.
 */
function checkAmqpOptions(options: unknown, field: string, allowed: readonly string[]): void {
  checkKnownOptions(checkOptionsObject(options as object | undefined, field), field, allowed, []);
}

/** Options of {@link publishTask}. */
export interface PublishTaskOptions {
  /** The task queue. Default: `'heavylift.tasks'`. */
  queue?: string;
  /** The message id, which the worker uses as job id in logs and results. Default: a random UUID. */
  messageId?: string;
  /** Copied to the result. Default: the message id. */
  correlationId?: string;
  /** Queue the result is sent to. Without it the result goes to the results exchange. */
  replyTo?: string;
  /** Extra headers. */
  headers?: Record<string, unknown>;
  /**
   * W3C trace context sent in the `traceparent` header, or a function returning the current
   * one (or undefined). The worker logs the task's lines with its trace id as `trace_id`.
   */
  traceparent?: string | (() => string | undefined);
}

const PUBLISH_OPTION_NAMES = ['queue', 'messageId', 'correlationId', 'replyTo', 'headers', 'traceparent'] as const;

// Returns the traceparent of a `traceparent` option (a value or a provider), checked.
function resolveTraceparent(option: unknown, field: string): string | undefined {
  if (typeof option === 'function') return checkTraceparentProvider(option)?.();
  return option === undefined ? undefined : checkTraceparent(option, field);
}

/** Encodes `request` of `task` as binary protobuf. Throws InvalidArgumentError for an unknown task. */
export function encodeTaskRequest<N extends TaskName>(task: N, request: TaskRequest<N>): Buffer {
  const types = TASK_TYPES[task] as { request: MessageType<unknown> } | undefined;
  if (types === undefined) {
    throw invalidParameter('task', `one of ${Object.keys(TASK_TYPES).join(', ')}`, task);
  }
  const message = types.request.fromPartial(request as never);
  return Buffer.from(types.request.encode(message).finish());
}

/**
 * Publishes one persistent task message and returns its message id. On a ConfirmChannel,
 * await `channel.waitForConfirms()` to know the broker stored it.
 *
 * @example
 * publishTask(channel, 'image.thumbnail', { input: { source: { $case: 'path', path: 'a.jpg' } }, widths: [320] });
 */
export function publishTask<N extends TaskName>(
  channel: Channel,
  task: N,
  request: TaskRequest<N>,
  options: PublishTaskOptions = {},
): string {
  checkAmqpOptions(options, 'options', PUBLISH_OPTION_NAMES);
  const traceparent = resolveTraceparent(options.traceparent, 'options.traceparent');
  const messageId = options.messageId ?? randomUUID();
  const headers: Record<string, unknown> = { ...options.headers, [TASK_HEADER]: task };
  if (traceparent !== undefined) headers[TRACEPARENT_HEADER] = traceparent;
  const publishOptions: Options.Publish = {
    persistent: true,
    contentType: 'application/x-protobuf',
    messageId,
    correlationId: options.correlationId ?? messageId,
    headers,
  };
  if (options.replyTo !== undefined) publishOptions.replyTo = options.replyTo;
  channel.sendToQueue(options.queue ?? DEFAULT_TASK_QUEUE, encodeTaskRequest(task, request), publishOptions);
  return messageId;
}

/** The outcome of one task message, as the worker published it. */
export type TaskOutcome<N extends TaskName = TaskName> = OutcomeInfo<N> &
  ({ status: 'completed'; result: TaskResult<N> } | { status: 'failed'; error: HeavyliftError });

/** Fields of every outcome besides its result or error. */
export interface OutcomeInfo<N extends TaskName = TaskName> {
  /** The task that ran. */
  task: N;
  /** Attempt that produced the outcome, counted from 1. */
  attempt: number;
  /** True when an earlier run of the message was interrupted (a worker was lost or stopped), so the task may have run before. */
  redelivered: boolean;
  /** The request's message id. */
  messageId?: string;
  /** The request's correlation id, or its message id when it had none. */
  correlationId?: string;
}

/**
 * Decodes a result message from the worker. A completed result in protobuf is decoded with
 * the task's generated type; one in JSON (for a request sent as JSON) is returned parsed,
 * in the proto3 JSON mapping.
 */
export function decodeTaskOutcome(message: ConsumeMessage): TaskOutcome {
  const headers = message.properties.headers ?? {};
  const task = String(headers[TASK_HEADER] ?? '') as TaskName;
  const attempt = Number(headers[ATTEMPT_HEADER] ?? 1);
  const ids = {
    redelivered: headers[REDELIVERED_HEADER] === true,
    messageId: message.properties.messageId as string | undefined,
    correlationId: message.properties.correlationId as string | undefined,
  };
  if (headers[STATUS_HEADER] === 'failed') {
    return { status: 'failed', task, attempt, ...ids, error: errorFromFailedResult(message) };
  }
  const types = TASK_TYPES[task] as { result: MessageType<unknown> } | undefined;
  const result =
    message.properties.contentType === 'application/x-protobuf' && types !== undefined
      ? types.result.decode(message.content)
      : JSON.parse(message.content.toString('utf8'));
  return { status: 'completed', task, attempt, ...ids, result: result as TaskResult<TaskName> };
}

// Builds the typed error of a failed result: the code comes from the
// ErrorDetail body, the message from the x-heavylift-error header.
function errorFromFailedResult(message: ConsumeMessage): HeavyliftError {
  const reason = String(message.properties.headers?.[ERROR_HEADER] ?? 'UNKNOWN: the task failed');
  let detail: ErrorDetail = ErrorDetail.fromPartial({});
  try {
    detail = ErrorDetail.fromPartial(JSON.parse(message.content.toString('utf8')) as Partial<ErrorDetail>);
  } catch {
    // A body that does not parse leaves the error with the header's text only.
  }
  const codeName = detail.code || reason.slice(0, Math.max(0, reason.indexOf(':'))) || 'UNKNOWN';
  const code = (status as unknown as Record<string, number | undefined>)[codeName] ?? status.UNKNOWN;
  const ErrorClass = errorClassForCode(code);
  const text = reason.startsWith(`${codeName}: `) ? reason.slice(codeName.length + 2) : reason;
  const fields = detailFields(detail);
  return new ErrorClass(messageInCallerNames(text, fields), {
    code,
    ...fields,
    requestId: (message.properties.messageId as string | undefined) ?? undefined,
    details: reason,
  });
}

/** The connection `amqplib.connect()` resolves with. Only its `createConfirmChannel` is used. */
export interface ConfirmChannelSource {
  createConfirmChannel(): Promise<ConfirmChannel>;
}

/** Options of {@link AmqpTaskClient.create}. */
export interface AmqpTaskClientOptions extends TaskQueueOptions {
  /** Declare the queues with {@link assertTaskQueues} first. Default: `true`. */
  assertQueues?: boolean;
  /**
   * Returns the W3C `traceparent` of the work in progress (for example from
   * AsyncLocalStorage), sent with calls that do not pass their own.
   */
  traceparent?: () => string | undefined;
}

const CLIENT_OPTION_NAMES = [...TASK_QUEUE_OPTION_NAMES, 'assertQueues', 'traceparent'] as const;

/** Options of one {@link AmqpTaskClient.call}. */
export interface AmqpCallOptions {
  /** How long to wait for the reply. Default: `30000`. */
  timeoutMs?: number;
  /** The message id. Default: a random UUID. */
  messageId?: string;
  /** W3C trace context sent in the `traceparent` header. Default: the client's provider's, else none. */
  traceparent?: string;
}

const AMQP_CALL_OPTION_NAMES = ['timeoutMs', 'messageId', 'traceparent'] as const;

interface PendingCall {
  resolve(outcome: TaskOutcome): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Calls tasks over RabbitMQ and awaits their replies. It publishes on a confirm channel,
 * with `replyTo` set to an exclusive reply queue of its own and a fresh `correlationId` per
 * call, and matches replies by correlation id. A reply arriving after the call's timeout is
 * dropped. One client may run many calls at once.
 */
export class AmqpTaskClient {
  private readonly pending = new Map<string, PendingCall>();

  private constructor(
    private readonly channel: ConfirmChannel,
    private readonly replyQueue: string,
    private readonly queue: string,
    private readonly traceparent: (() => string | undefined) | undefined,
  ) {}

  /** Opens a confirm channel on `connection`, declares the queues and starts consuming replies. */
  static async create(connection: ConfirmChannelSource, options: AmqpTaskClientOptions = {}): Promise<AmqpTaskClient> {
    checkAmqpOptions(options, 'options', CLIENT_OPTION_NAMES);
    const traceparent = checkTraceparentProvider(options.traceparent);
    const channel = await connection.createConfirmChannel();
    if (options.assertQueues ?? true) {
      await assertTaskQueues(channel, {
        queue: options.queue,
        retryDelayMs: options.retryDelayMs,
        resultsExchange: options.resultsExchange,
      });
    }
    const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    const client = new AmqpTaskClient(channel, replyQueue, options.queue ?? DEFAULT_TASK_QUEUE, traceparent);
    await channel.consume(replyQueue, (message: ConsumeMessage | null) => message && client.onReply(message), {
      noAck: true,
    });
    return client;
  }

  /**
   * Runs `task` with `request` and resolves with its result, or rejects with the task's
   * typed error (for example InvalidArgumentError), or with a DeadlineExceededError after
   * `timeoutMs` without a reply.
   */
  async call<N extends TaskName>(task: N, request: TaskRequest<N>, options: AmqpCallOptions = {}): Promise<TaskResult<N>> {
    const outcome = await this.callOutcome(task, request, options);
    if (outcome.status === 'failed') throw outcome.error;
    return outcome.result;
  }

  /** Like {@link call}, but resolves with the outcome (completed or failed) and its attempt number. */
  async callOutcome<N extends TaskName>(
    task: N,
    request: TaskRequest<N>,
    options: AmqpCallOptions = {},
  ): Promise<TaskOutcome<N>> {
    checkAmqpOptions(options, 'options', AMQP_CALL_OPTION_NAMES);
    const traceparent = options.traceparent ?? this.traceparent?.();
    if (traceparent !== undefined) checkTraceparent(traceparent, 'options.traceparent');
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw invalidParameter('timeoutMs', 'a positive number of milliseconds', timeoutMs);
    }
    const correlationId = randomUUID();
    const reply = new Promise<TaskOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        const DeadlineError = errorClassForCode(status.DEADLINE_EXCEEDED);
        reject(
          new DeadlineError(`no reply to ${task} within ${timeoutMs} ms`, {
            code: status.DEADLINE_EXCEEDED,
            field: 'timeoutMs',
            bound: `${timeoutMs} ms`,
            reason: 'DEADLINE_EXCEEDED',
            requestId: options.messageId,
          }),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    try {
      publishTask(this.channel, task, request, {
        queue: this.queue,
        replyTo: this.replyQueue,
        correlationId,
        messageId: options.messageId,
        traceparent,
      });
      await this.channel.waitForConfirms();
    } catch (error) {
      const call = this.pending.get(correlationId);
      if (call) {
        clearTimeout(call.timer);
        this.pending.delete(correlationId);
      }
      throw error;
    }
    return (await reply) as TaskOutcome<N>;
  }

  private onReply(message: ConsumeMessage): void {
    const call = this.pending.get(String(message.properties.correlationId));
    if (!call) return;
    this.pending.delete(String(message.properties.correlationId));
    clearTimeout(call.timer);
    try {
      call.resolve(decodeTaskOutcome(message));
    } catch (error) {
      call.reject(error as Error);
    }
  }

  /** Rejects the calls still waiting and closes the channel. */
  async close(): Promise<void> {
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      call.reject(new Error(`the AmqpTaskClient was closed before the reply to ${id} arrived`));
    }
    this.pending.clear();
    await this.channel.close();
  }
}

/** Options of {@link consumeResults}. */
export interface ConsumeResultsOptions {
  /** The results exchange. Default: `'heavylift.results'`. */
  exchange?: string;
  /** A durable queue to bind and consume; results wait there while no consumer runs. */
  queue: string;
  /** Routing key pattern: the task name, or `#` for all. Default: `'#'`. */
  pattern?: string;
  /** Unacknowledged results delivered at once. Default: `100`. */
  prefetch?: number;
}

/**
 * Consumes the outcomes of fire-and-forget task messages (those without `replyTo`) from the
 * results exchange. Each result is acknowledged after `handler` resolves; when it throws,
 * the result is requeued. Resolves with the consumer tag (pass it to `channel.cancel`).
 */
export async function consumeResults(
  channel: Channel,
  options: ConsumeResultsOptions,
  handler: (outcome: TaskOutcome, message: ConsumeMessage) => void | Promise<void>,
): Promise<string> {
  checkAmqpOptions(options, 'options', ['exchange', 'queue', 'pattern', 'prefetch']);
  const exchange = options.exchange ?? DEFAULT_RESULTS_EXCHANGE;
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertQueue(options.queue, { durable: true });
  await channel.bindQueue(options.queue, exchange, options.pattern ?? '#');
  await channel.prefetch(options.prefetch ?? 100);
  const { consumerTag } = await channel.consume(options.queue, (message: ConsumeMessage | null) => {
    if (!message) return;
    Promise.resolve()
      .then(() => handler(decodeTaskOutcome(message), message))
      .then(
        () => channel.ack(message),
        () => channel.nack(message, false, true),
      );
  });
  return consumerTag;
}
