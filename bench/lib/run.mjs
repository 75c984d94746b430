import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

// Sampling interval of the event-loop delay histogram. Node records the time
// between the sampling timer's callbacks, so an idle loop reads about this much.
export const LOOP_DELAY_RESOLUTION_MS = 1;

/**
 * Runs `operation` in a closed loop with `concurrency` calls in flight until
 * `maxOps` calls have started or `maxSeconds` have passed, then waits for the
 * calls still in flight. Records each call's latency and the event-loop delay
 * for the whole run.
 *
 * @param {object} options
 * @param {(index: number) => Promise<unknown>} options.operation called with
 *   a running index; a rejection counts as an error and its latency is dropped.
 * @returns {Promise<object>} counts, elapsed time, throughput, latency
 *   quantiles in ms, event-loop delay quantiles in ms and the first errors.
 */
export async function runClosedLoop({ operation, concurrency, maxOps, maxSeconds }) {
  const latenciesMs = [];
  const errors = [];
  let started = 0;

  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  const startMs = performance.now();
  const stopIssuingAtMs = startMs + maxSeconds * 1000;

  async function runWorker() {
    while (started < maxOps && performance.now() < stopIssuingAtMs) {
      const index = started;
      started += 1;
      const callStartMs = performance.now();
      try {
        await operation(index);
        latenciesMs.push(performance.now() - callStartMs);
      } catch (error) {
        errors.push(error);
      }
    }
  }

  await Promise.all(Array.from({ length: concurrency }, runWorker));
  const elapsedMs = performance.now() - startMs;
  loopDelay.disable();

  return {
    ok: latenciesMs.length,
    failed: errors.length,
    elapsedSeconds: elapsedMs / 1000,
    opsPerSecond: latenciesMs.length / (elapsedMs / 1000),
    latencyMs: {
      p50: quantile(latenciesMs, 0.5),
      p99: quantile(latenciesMs, 0.99),
      max: latenciesMs.length ? Math.max(...latenciesMs) : Number.NaN,
    },
    eventLoopDelayMs: summarizeLoopDelay(loopDelay),
    firstErrors: errors.slice(0, 3).map(describeError),
  };
}

/**
 * Measures the event-loop delay of this process while it does nothing for
 * `seconds`, as the floor that the runs are compared against.
 */
export async function measureIdleLoopDelay(seconds) {
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  loopDelay.disable();
  return summarizeLoopDelay(loopDelay);
}

// Returns the nearest-rank quantile of unsorted samples, or NaN when there are none.
export function quantile(samples, q) {
  if (samples.length === 0) {
    return Number.NaN;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

function summarizeLoopDelay(histogram) {
  const nanosecondsPerMs = 1e6;
  return {
    p50: histogram.percentile(50) / nanosecondsPerMs,
    p99: histogram.percentile(99) / nanosecondsPerMs,
    max: histogram.max / nanosecondsPerMs,
  };
}

function describeError(error) {
  const code = error?.codeName ?? error?.code;
  return code ? `${code}: ${error.message}` : String(error?.message ?? error);
}
