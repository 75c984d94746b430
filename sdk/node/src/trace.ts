import { randomBytes } from 'node:crypto';

import { invalidParameter } from './validate';

/** Metadata key of the W3C trace context that the daemon logs with each task as `trace_id`. */
export const TRACEPARENT_METADATA_KEY = 'traceparent';

const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;

/** Checks a W3C `traceparent` value such as `00-<32 hex>-<16 hex>-01`. */
export function checkTraceparent(value: unknown, field: string): string {
  const match = typeof value === 'string' ? TRACEPARENT_PATTERN.exec(value) : null;
  if (
    match === null ||
    (value as string).startsWith('ff') ||
    /^0+$/.test(match[1]!) ||
    /^0+$/.test(match[2]!) ||
    ((value as string).startsWith('00-') && match[3] !== undefined)
  ) {
    throw invalidParameter(field, 'W3C traceparent such as 00-<32 lower-case hex>-<16 lower-case hex>-01', value);
  }
  return value as string;
}

/** Returns the trace id (32 hex digits) of a valid traceparent. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/**
 * Makes a new traceparent: a child of `parent` (same trace id, new span id) when given, or
 * the start of a new sampled trace. Queue helpers put it into job data so the daemon logs
 * the job's work under the caller's trace.
 */
export function childTraceparent(parent?: string): string {
  const spanId = randomBytes(8).toString('hex');
  if (parent !== undefined) {
    checkTraceparent(parent, 'traceparent');
    return `00-${traceIdOf(parent)}-${spanId}-${parent.slice(53, 55)}`;
  }
  return `00-${randomBytes(16).toString('hex')}-${spanId}-01`;
}
