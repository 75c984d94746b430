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

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
app.get('/__stats/reset', (_req, res) => {
  delay.reset();
  res.json({});
});
app.get('/__stats', (_req, res) => {
  res.json({ p50Ms: delay.percentile(50) / 1e6, p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 });
});

const server = app.listen(0, '127.0.0.1', () => console.log(`port=${server.address().port}`));
