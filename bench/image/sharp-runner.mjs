// Runs one sharp case in a fresh Node process, so its peak RSS is that case's alone, and
// prints the result as one JSON line. Usage: node sharp-runner.mjs CASE CONCURRENCY MAX_OPS MAX_SECONDS
import { readFile } from 'node:fs/promises';

import { runClosedLoop } from '../lib/run.mjs';
import { CASES, PHOTOS } from './cases.mjs';
import { ownCpuSeconds, peakRssBytes } from './rss.mjs';

const [name, concurrency, maxOps, maxSeconds, warmupOps] = process.argv.slice(2);
const benchCase = CASES[name];
const input = await readFile(PHOTOS[benchCase.photo]);

await runClosedLoop({ operation: () => benchCase.sharp(input), concurrency: 1, maxOps: Number(warmupOps), maxSeconds: 60 });
const cpuBefore = ownCpuSeconds();
const result = await runClosedLoop({
  operation: () => benchCase.sharp(input),
  concurrency: Number(concurrency),
  maxOps: Number(maxOps),
  maxSeconds: Number(maxSeconds),
});
// sharp's libvips threads belong to this process, so its CPU time covers all of sharp's work.
result.cpuSeconds = ownCpuSeconds() - cpuBefore;
result.peakRssBytes = peakRssBytes(process.pid);
console.log(JSON.stringify(result));
