// One Express process of the custom-task benchmark: the example app in one
// mode ("js" or "heavylift"), plus /__stats, which reports the event-loop
// delay measured since the last /__stats/reset. Prints its port on stdout.
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { createClient } from 'heavylift';

import { createApp, loadCatalogTypes } from '../../examples/custom-task/app.mjs';
import { generateCatalog } from '../../examples/custom-task/js/catalog.mjs';

const [mode, address, size, seed] = process.argv.slice(2);
const options = {};
if (mode === 'js') {
  options.products = generateCatalog(Number(size), Number(seed));
} else {
  options.client = createClient({ address });
  options.types = await loadCatalogTypes();
  // Long enough that queueing at 32 concurrent requests on a loaded machine is measured, not failed.
  options.deadlineMs = 120_000;
}
const app = createApp(options);

// The histogram records the time between two of its timer callbacks, which
// is the resolution plus the delay (an idle loop reads about 5 ms), so the
// resolution is taken off to report the delay itself.
const RESOLUTION_MS = 5;
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();
const delayMs = (nanoseconds) => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);
app.get('/__stats/reset', (_req, res) => {
  delay.reset();
  res.json({});
});
app.get('/__stats', (_req, res) => {
  res.json({ p50Ms: delayMs(delay.percentile(50)), p99Ms: delayMs(delay.percentile(99)), maxMs: delayMs(delay.max) });
});

const server = app.listen(0, '127.0.0.1', () => console.log(`port=${server.address().port}`));
