// Maps errors to HTTP responses. While heavylift cannot be reached, the routes
// that need it return 503 with Retry-After, and routes served from MongoDB
// alone keep working.
import {
  DeadlineExceededError,
  HeavyliftError,
  InvalidArgumentError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
} from 'heavylift';

/** An error with the HTTP status and the message sent to the client. */
export class HttpError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
}

export const HEAVYLIFT_DOWN_MESSAGE =
  'heavylift is not reachable, so this request cannot be served right now. Photos and activity stay readable; try again in a few seconds.';

/** Turns any error into { status, body, retryAfter }. */
export function toHttpResponse(error) {
  if (error instanceof HttpError) return { status: error.status, body: { error: error.message, ...error.extra } };
  // Errors of Express's body parsers (malformed JSON, a body over the limit) carry their status.
  if (error?.expose && error.status >= 400 && error.status < 500) return { status: error.status, body: { error: error.message } };
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError) {
    return { status: 503, retryAfter: 5, body: { error: HEAVYLIFT_DOWN_MESSAGE, code: 'HEAVYLIFT_UNAVAILABLE' } };
  }
  if (error instanceof ResourceExhaustedError) {
    return { status: 503, retryAfter: 2, body: { error: `heavylift is busy: ${error.message}`, code: 'HEAVYLIFT_BUSY' } };
  }
  if (error instanceof UnauthenticatedError) {
    const expired = error.reason === 'EXPIRED';
    return {
      status: 401,
      body: { error: expired ? 'Your session expired; log in again.' : `Invalid session token (${error.reason ?? 'rejected'}).`, reason: error.reason },
    };
  }
  if (error instanceof InvalidArgumentError) {
    return { status: 422, body: { error: error.message, field: error.field, reason: error.reason } };
  }
  if (error instanceof HeavyliftError) return { status: 502, body: { error: `heavylift failed: ${error.message}` } };
  return { status: 500, body: { error: 'Internal error' } };
}

/** Returns the Express error handler, which responds as toHttpResponse decides. */
export function errorHandler(log) {
  return (error, request, response, _next) => {
    const answer = toHttpResponse(error);
    if (answer.status >= 500 && answer.status !== 503) log(`${request.method} ${request.path} failed: ${error.stack ?? error}`);
    if (answer.retryAfter) response.set('retry-after', String(answer.retryAfter));
    response.status(answer.status).json(answer.body);
  };
}
