// Live analysis: aggregates over a sliding window of an event stream, sent to the daemon over
// one AggregateService.Live client stream. Windows are published to a real-time hub room as
// they close and returned, with the counters, when the stream ends.
import type { Client } from '@grpc/grpc-js';

import { type AggregateField, type AggregateGroup, buildAggregateSpec, keyValue, valuesByName } from './aggregate';
import type { ResolvedCallOptions } from './call';
import { callClientStream } from './stream-call';
import {
  AggregateServiceService,
  type LiveEvent as LiveEventMessage,
  type LiveSpec,
  type LiveSummary,
} from './gen/heavylift/v1/aggregate';
import { checkKnownKeys, checkOptionsObject, invalidParameter, optionNames } from './validate';

/** Options of `client.aggregate.live`. */
export interface LiveOptions {
  /** Label names to group by. */
  groupBy?: string[];
  /**
   * count, sum, mean, min, max, stddev, quantiles (a 1% relative-error sketch) and histogram over
   * a number; distinctCount and topK over a label; count with a field counts events that have it.
   */
  aggregates: AggregateField[];
  /** Window length in milliseconds, a multiple of slideMs. */
  windowMs: number;
  /** Step between two windows' starts, in milliseconds. */
  slideMs: number;
  /** How far behind the latest event time an event may be and still count. Default 0. */
  allowedLatenessMs?: number;
  /** Groups per window pane; default 100. */
  maxGroups?: number;
  /** Real-time hub room that receives each window as the Socket.IO event `aggregate:window`. */
  room?: string;
  /** Namespace of `room`; default "/". */
  namespace?: string;
}

/** One event of a live stream. */
export interface LiveEvent {
  /** Event time: a Date or epoch milliseconds. */
  time: Date | number;
  /** Text values by name: group keys, distinct counts, top-k. */
  labels?: Record<string, string>;
  /** Numeric values by name. */
  numbers?: Record<string, number>;
}

export interface LiveWindowResult {
  start: Date;
  end: Date;
  /** Events in the window. */
  events: number;
  groups: AggregateGroup[];
}

export interface LiveResult {
  eventsReceived: number;
  /** Events dropped because a window that contains them had closed. */
  eventsLate: number;
  /** Events dropped because their pane already had maxGroups groups. */
  eventsOverGroupLimit: number;
  windowsPublished: number;
  /** The last windows (at most 100), oldest first. */
  windows: LiveWindowResult[];
  /** The bound of the stream's window state that the daemon checked the options against. */
  memoryBoundBytes: number;
}

const LIVE_OPTION_NAMES = optionNames<LiveOptions>({
  groupBy: true,
  aggregates: true,
  windowMs: true,
  slideMs: true,
  allowedLatenessMs: true,
  maxGroups: true,
  room: true,
  namespace: true,
});
const LIVE_EVENT_NAMES = optionNames<LiveEvent>({ time: true, labels: true, numbers: true });
// Events per message.
const EVENTS_PER_MESSAGE = 512;

/** Builds the LiveSpec message; throws InvalidArgumentError for a malformed option. */
export function buildLiveSpec(options: LiveOptions): LiveSpec {
  const checked = checkOptionsObject(options, 'options');
  checkKnownKeys(checked, 'options', LIVE_OPTION_NAMES);
  const groupBy: unknown = checked.groupBy ?? [];
  if (!Array.isArray(groupBy) || groupBy.some((name) => typeof name !== 'string')) {
    throw invalidParameter('groupBy', 'an array of label names', groupBy);
  }
  if (!Array.isArray(checked.aggregates) || checked.aggregates.length === 0) {
    throw invalidParameter('aggregates', 'a non-empty array', checked.aggregates);
  }
  for (const name of ['windowMs', 'slideMs'] as const) {
    if (!Number.isInteger(checked[name]) || (checked[name] as number) <= 0) {
      throw invalidParameter(name, 'a positive integer of milliseconds', checked[name]);
    }
  }
  return {
    groupBy: groupBy as string[],
    aggregates: checked.aggregates.map(buildAggregateSpec),
    windowMs: checked.windowMs as number,
    slideMs: checked.slideMs as number,
    allowedLatenessMs: checked.allowedLatenessMs ?? 0,
    maxGroups: checked.maxGroups ?? 0,
    room: checked.room ?? '',
    namespace: checked.namespace ?? '',
  };
}

/** Builds one LiveEvent message; `index` counts events from the start of the stream. */
export function buildLiveEvent(value: unknown, index: number): LiveEventMessage {
  const field = `events[${index}]`;
  const event = checkOptionsObject(value as LiveEvent, field);
  checkKnownKeys(event, field, LIVE_EVENT_NAMES);
  const time = event.time instanceof Date ? event.time.getTime() : event.time;
  if (typeof time !== 'number' || !Number.isInteger(time)) {
    throw invalidParameter(`${field}.time`, 'a Date or integer epoch milliseconds', event.time);
  }
  return { timeMs: time, labels: event.labels ?? {}, numbers: event.numbers ?? {} };
}

function toLiveResult(spec: LiveSpec, summary: LiveSummary): LiveResult {
  return {
    eventsReceived: summary.eventsReceived,
    eventsLate: summary.eventsLate,
    eventsOverGroupLimit: summary.eventsOverGroupLimit,
    windowsPublished: summary.windowsPublished,
    memoryBoundBytes: summary.memoryBoundBytes,
    windows: summary.windows.map((window) => ({
      start: new Date(window.startMs),
      end: new Date(window.endMs),
      events: window.events,
      groups: window.groups.map((group) => ({
        keys: group.keys.map(keyValue),
        count: group.count,
        values: valuesByName(spec.aggregates, group.values),
      })),
    })),
  };
}

/**
 * Streams `events` over one AggregateService.Live call, in messages of up to 512 events, waiting
 * whenever grpc-js reports its buffer full.
 */
export function callLive(
  client: Client,
  spec: LiveSpec,
  events: Iterable<LiveEvent> | AsyncIterable<LiveEvent>,
  resolved: ResolvedCallOptions,
): Promise<LiveResult> {
  const summary = callClientStream(client, AggregateServiceService.live, resolved, async (stream) => {
    await stream.write({ spec, events: [] });
    let batch: LiveEventMessage[] = [];
    let index = 0;
    for await (const event of events) {
      if (stream.settled()) {
        break;
      }
      batch.push(buildLiveEvent(event, index++));
      if (batch.length === EVENTS_PER_MESSAGE) {
        await stream.write({ spec: undefined, events: batch });
        batch = [];
      }
    }
    if (batch.length > 0 && !stream.settled()) {
      await stream.write({ spec: undefined, events: batch });
    }
  });
  return summary.then((response) => toLiveResult(spec, response));
}
