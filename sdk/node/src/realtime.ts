/**
 * The real-time hub: browsers hold their Socket.IO connections to heavylift, and the Node app
 * emits to rooms, manages membership and receives client events through these methods.
 */
import { EventEmitter } from 'node:events';

import { type Client, Metadata, type ServiceError } from '@grpc/grpc-js';

import { type CallOptions, callUnary, REQUEST_ID_METADATA_KEY, resolveCallOptions } from './call';
import { errorClassForCode, errorFromServiceError } from './errors';
import {
  type AckBatchResponse,
  type AckRequest,
  type ClientEvent as ClientEventMessage,
  ClientEvent_Type,
  RealtimeServiceService,
  type SocketSelector,
} from './gen/heavylift/v1/realtime';
import {
  checkBoolean,
  checkCallOptionKeys,
  checkIntegerInRange,
  checkKnownKeys,
  checkNonEmptyString,
  checkOptionsObject,
  checkString,
  invalidParameter,
  optionNames,
} from './validate';

/** Options of {@link RealtimeMethods.emit}. */
export interface EmitOptions {
  /** Socket.IO namespace. Default: `'/'`. */
  namespace?: string;
  /** Rooms to deliver to. Default: `[]`, every socket of the namespace. */
  rooms?: readonly string[];
  /** Sockets in any of these rooms are skipped. Default: `[]`. */
  exceptRooms?: readonly string[];
  /** Event name, as clients listen for it with `socket.on(event, ...)`. */
  event: string;
  /** Arguments: anything JSON can carry, and Buffers or Uint8Arrays at any depth. Default: `[]`. */
  args?: readonly unknown[];
}

/** Options of {@link RealtimeMethods.emitWithAck}. */
export interface EmitWithAckOptions {
  namespace?: string;
  /** The socket to send to. */
  socketId: string;
  event: string;
  args?: readonly unknown[];
  /** How long the client may take to acknowledge, in milliseconds. Default: `10000`. */
  timeoutMs?: number;
}

/** Names the sockets of a server-side join, leave or disconnect: one socket, or all of a user's. */
export type SocketTarget = { namespace?: string } & ({ socketId: string } | { userId: string });

/** A member of a room. */
export interface RoomMember {
  socketId: string;
  /** The `sub` claim of the socket's token. */
  userId: string;
}

/** An event from a client, or a change of its connection or rooms. */
export interface ClientEvent {
  type: 'connect' | 'disconnect' | 'event' | 'join' | 'leave';
  namespace: string;
  socketId: string;
  userId: string;
  /** For `event`: the event name. */
  event: string;
  /** For `event`: the arguments, with binary placeholders replaced by Buffers. */
  args: unknown[];
  /** For `event` when the client passed an ack callback: answers it with `args`. */
  ack?: (...args: unknown[]) => Promise<void>;
  /** For `join` and `leave`: the room. */
  room: string;
  /** For `disconnect`: why the socket went away. */
  reason: string;
}

/** Options of {@link RealtimeMethods.subscribe}. */
export interface SubscribeOptions {
  /** Namespaces whose events to receive. Default: all. */
  namespaces?: readonly string[];
  /**
   * Subscribers that share a group split the events: each goes to one of them, as several
   * instances of one app want. Default: `''`, every event to this subscriber.
   */
  group?: string;
}

/**
 * A stream of client events. Emits `'clientEvent'` with every {@link ClientEvent}, and also
 * `'connect'`, `'disconnect'`, `'join'` and `'leave'` with it; events sent by clients are also
 * emitted under their own name. Emits `'error'` when the stream fails and `'end'` when it stops.
 */
export interface RealtimeSubscription extends EventEmitter {
  /** Stops the stream. */
  close(): void;
}

/** Methods of the real-time hub. */
export interface RealtimeMethods {
  /**
   * Sends an event to rooms and resolves with how many sockets on the hub it was queued to.
   *
   * @example
   * await client.realtime.emit({ rooms: ['chat:1'], event: 'message', args: [{ text: 'hi' }] });
   */
  emit(options: EmitOptions, callOptions?: CallOptions): Promise<number>;
  /** Sends an event to one socket and resolves with the arguments of its acknowledgement. */
  emitWithAck(options: EmitWithAckOptions, callOptions?: CallOptions): Promise<unknown[]>;
  /** Adds sockets to a room; resolves with how many sockets the target named. */
  join(target: SocketTarget & { room: string }, callOptions?: CallOptions): Promise<number>;
  /** Removes sockets from a room; resolves with how many sockets the target named. */
  leave(target: SocketTarget & { room: string }, callOptions?: CallOptions): Promise<number>;
  /** Lists a room's members on the hub. */
  members(options: { namespace?: string; room: string }, callOptions?: CallOptions): Promise<RoomMember[]>;
  /** Disconnects sockets; with `closeConnection`, their whole WebSocket connections. */
  disconnect(target: SocketTarget & { closeConnection?: boolean }, callOptions?: CallOptions): Promise<number>;
  /**
   * Streams client events.
   *
   * @example
   * const events = client.realtime.subscribe({ group: 'api' });
   * events.on('chat', (event) => event.ack?.('stored'));
   */
  subscribe(options?: SubscribeOptions): RealtimeSubscription;
}

const EMIT_OPTION_NAMES = optionNames<EmitOptions>({ namespace: true, rooms: true, exceptRooms: true, event: true, args: true });
const EMIT_WITH_ACK_OPTION_NAMES = optionNames<EmitWithAckOptions>({ namespace: true, socketId: true, event: true, args: true, timeoutMs: true });
const SUBSCRIBE_OPTION_NAMES = optionNames<SubscribeOptions>({ namespaces: true, group: true });
// SocketTarget is a union, whose keyof holds only the keys common to its members.
const SOCKET_TARGET_NAMES = ['namespace', 'socketId', 'userId'];
const MEMBERSHIP_TARGET_NAMES = [...SOCKET_TARGET_NAMES, 'room'];
const DISCONNECT_TARGET_NAMES = [...SOCKET_TARGET_NAMES, 'closeConnection'];
const MEMBERS_OPTION_NAMES = ['namespace', 'room'];

/** Arguments encoded as JSON text with Buffers moved to attachments. */
interface EncodedArgs {
  argsJson: string;
  attachments: Buffer[];
}

/** Replaces Buffers and Uint8Arrays with Socket.IO placeholders, as socket.io-parser does. */
export function encodeArgs(args: readonly unknown[], field: string): EncodedArgs {
  if (!Array.isArray(args)) {
    throw invalidParameter(field, 'array', args);
  }
  const attachments: Buffer[] = [];
  const replace = (value: unknown): unknown => {
    if (value instanceof Uint8Array) {
      attachments.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      return { _placeholder: true, num: attachments.length - 1 };
    }
    if (Array.isArray(value)) {
      return value.map(replace);
    }
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, replace(inner)]));
    }
    return value;
  };
  return { argsJson: JSON.stringify(args.map(replace)), attachments };
}

/** Parses `argsJson` and puts the attachments back in place of their placeholders. */
export function decodeArgs(argsJson: string, attachments: readonly Buffer[]): unknown[] {
  if (argsJson === '') {
    return [];
  }
  const restore = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(restore);
    }
    if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (record._placeholder === true && typeof record.num === 'number' && record.num < attachments.length) {
        return attachments[record.num];
      }
      return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, restore(inner)]));
    }
    return value;
  };
  return (JSON.parse(argsJson) as unknown[]).map(restore);
}

function checkNames(value: unknown, field: string): string[] {
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw invalidParameter(field, 'array of strings', value);
  }
  return value.map((item, index) => checkNonEmptyString(item, `${field}[${index}]`));
}

function checkNamespace(value: unknown): string {
  return value === undefined ? '/' : checkNonEmptyString(value, 'namespace');
}

function toSelector(target: SocketTarget): SocketSelector {
  const checked = checkOptionsObject(target as Record<string, unknown>, 'target');
  const namespace = checkNamespace(checked.namespace);
  if (checked.socketId !== undefined && checked.userId !== undefined) {
    throw invalidParameter('target', 'exactly one of target.socketId and target.userId', target);
  }
  if (checked.socketId !== undefined) {
    return { namespace, target: { $case: 'socketId', socketId: checkNonEmptyString(checked.socketId, 'socketId') } };
  }
  if (checked.userId !== undefined) {
    return { namespace, target: { $case: 'userId', userId: checkNonEmptyString(checked.userId, 'userId') } };
  }
  throw invalidParameter('target', 'object with socketId or userId', target);
}

const EVENT_TYPES: Record<number, ClientEvent['type']> = {
  [ClientEvent_Type.CONNECT]: 'connect',
  [ClientEvent_Type.DISCONNECT]: 'disconnect',
  [ClientEvent_Type.EVENT]: 'event',
  [ClientEvent_Type.JOIN]: 'join',
  [ClientEvent_Type.LEAVE]: 'leave',
};

/** Acks sent in one AckBatch call at most; the daemon accepts up to 1000. */
const MAX_ACKS_PER_BATCH = 500;

/**
 * Collects the acks that handlers send during one turn of the event loop and sends them in
 * AckBatch calls, so that answering many client events costs a few calls, not one each.
 * Each ack's promise settles with its own result.
 */
class AckBatcher {
  private pending: { request: AckRequest; resolve: () => void; reject: (error: Error) => void }[] = [];
  private scheduled = false;

  constructor(private readonly send: (batch: AckRequest[]) => Promise<AckBatchResponse>) {}

  add(request: AckRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_ACKS_PER_BATCH);
      // A closed client throws at once; that rejects the batch like a failed call.
      Promise.resolve().then(() => this.send(batch.map((entry) => entry.request))).then(
        (response) => {
          batch.forEach((entry, index) => {
            const result = response.results[index];
            if (result === undefined || result.code === 0) {
              entry.resolve();
              return;
            }
            const ErrorClass = errorClassForCode(result.code);
            entry.reject(new ErrorClass(result.message, { code: result.code, details: result.message }));
          });
        },
        (error: Error) => {
          for (const entry of batch) entry.reject(error);
        },
      );
    }
  }
}

/** Builds the realtime methods over `channel`; `checkOpen` throws once the client is closed. */
export function createRealtimeMethods(channel: Client, defaultDeadlineMs: number, checkOpen: () => void): RealtimeMethods {
  const unary = <Request, Response>(
    method: { path: string; requestSerialize: (value: Request) => Buffer; responseDeserialize: (value: Buffer) => Response },
    request: Request,
    callOptions: CallOptions | undefined,
  ): Promise<Response> => {
    checkCallOptionKeys(callOptions);
    const resolved = resolveCallOptions(callOptions, defaultDeadlineMs);
    checkOpen();
    return callUnary(channel, method, request, resolved);
  };

  const acks = new AckBatcher((batch) => unary(RealtimeServiceService.ackBatch, { acks: batch }, undefined));

  const toClientEvent = (message: ClientEventMessage): ClientEvent => {
    const event: ClientEvent = {
      type: EVENT_TYPES[message.type] ?? 'event',
      namespace: message.namespace,
      socketId: message.socketId,
      userId: message.userId,
      event: message.event,
      args: decodeArgs(message.argsJson, message.attachments),
      room: message.room,
      reason: message.reason,
    };
    if (message.ackId !== undefined) {
      const ackId = message.ackId;
      event.ack = (...args: unknown[]) =>
        acks.add({ namespace: message.namespace, socketId: message.socketId, ackId, argsJson: JSON.stringify(args) });
    }
    return event;
  };

  return {
    emit: async (options, callOptions) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownKeys(checked, 'options', EMIT_OPTION_NAMES);
      const encoded = encodeArgs(checked.args ?? [], 'args');
      const response = await unary(
        RealtimeServiceService.emit,
        {
          namespace: checkNamespace(checked.namespace),
          rooms: checkNames(checked.rooms, 'rooms'),
          exceptRooms: checkNames(checked.exceptRooms, 'exceptRooms'),
          event: checkNonEmptyString(checked.event, 'event'),
          argsJson: encoded.argsJson,
          attachments: encoded.attachments,
        },
        callOptions,
      );
      return Number(response.delivered);
    },

    emitWithAck: async (options, callOptions) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownKeys(checked, 'options', EMIT_WITH_ACK_OPTION_NAMES);
      const encoded = encodeArgs(checked.args ?? [], 'args');
      const timeoutMs = checked.timeoutMs === undefined ? 0 : checkIntegerInRange(checked.timeoutMs, 'timeoutMs', 1, 300_000);
      const response = await unary(
        RealtimeServiceService.emitWithAck,
        {
          namespace: checkNamespace(checked.namespace),
          socketId: checkNonEmptyString(checked.socketId, 'socketId'),
          event: checkNonEmptyString(checked.event, 'event'),
          argsJson: encoded.argsJson,
          attachments: encoded.attachments,
          timeoutMs,
        },
        callOptions,
      );
      return decodeArgs(response.argsJson, []);
    },

    join: async (target, callOptions) => {
      const checked = checkOptionsObject(target, 'target');
      checkKnownKeys(checked, 'target', MEMBERSHIP_TARGET_NAMES);
      const room = checkNonEmptyString(checked.room, 'room');
      const response = await unary(RealtimeServiceService.join, { sockets: toSelector(target), room }, callOptions);
      return Number(response.sockets);
    },

    leave: async (target, callOptions) => {
      const checked = checkOptionsObject(target, 'target');
      checkKnownKeys(checked, 'target', MEMBERSHIP_TARGET_NAMES);
      const room = checkNonEmptyString(checked.room, 'room');
      const response = await unary(RealtimeServiceService.leave, { sockets: toSelector(target), room }, callOptions);
      return Number(response.sockets);
    },

    members: async (options, callOptions) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownKeys(checked, 'options', MEMBERS_OPTION_NAMES);
      const response = await unary(
        RealtimeServiceService.members,
        { namespace: checkNamespace(checked.namespace), room: checkNonEmptyString(checked.room, 'room') },
        callOptions,
      );
      return response.members.map((member) => ({ socketId: member.socketId, userId: member.userId }));
    },

    disconnect: async (target, callOptions) => {
      const checked = checkOptionsObject(target, 'target');
      checkKnownKeys(checked, 'target', DISCONNECT_TARGET_NAMES);
      const closeConnection = checked.closeConnection === undefined ? false : checkBoolean(checked.closeConnection, 'closeConnection');
      const response = await unary(
        RealtimeServiceService.disconnect,
        { sockets: toSelector(target), closeConnection },
        callOptions,
      );
      return Number(response.sockets);
    },

    subscribe: (options) => {
      const checked = checkOptionsObject(options, 'options');
      checkKnownKeys(checked, 'options', SUBSCRIBE_OPTION_NAMES);
      const request = {
        namespaces: checkNames(checked.namespaces, 'namespaces'),
        group: checked.group === undefined ? '' : checkString(checked.group, 'group'),
        batched: true,
      };
      checkOpen();
      const metadata = new Metadata();
      metadata.set(REQUEST_ID_METADATA_KEY, `subscribe-${Date.now()}`);
      const method = RealtimeServiceService.subscribe;
      const call = channel.makeServerStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        {},
      );
      const subscription = new EventEmitter() as RealtimeSubscription;
      let closed = false;
      subscription.close = () => {
        closed = true;
        call.cancel();
      };
      // Each message is a batch: the events that queued up on the hub while
      // its previous write was in flight. They are emitted one by one, in order.
      const deliver = (message: ClientEventMessage) => {
        const event = toClientEvent(message);
        subscription.emit('clientEvent', event);
        if (event.type === 'event') {
          subscription.emit(event.event, event);
        } else {
          subscription.emit(event.type, event);
        }
      };
      call.on('data', (message: ClientEventMessage) => {
        for (const event of message.batch) {
          if (closed) {
            return;
          }
          deliver(event);
        }
      });
      call.on('error', (error: ServiceError) => {
        if (closed && error.code === 1) {
          return;
        }
        subscription.emit('error', errorFromServiceError(error, 'subscribe', { deadlineMs: Infinity, elapsedMs: 0 }));
      });
      call.on('end', () => subscription.emit('end'));
      return subscription;
    },
  };
}
