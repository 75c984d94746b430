// The Node side of the BullMQ benchmark, in its own process so that its CPU
// time is measured apart from the benchmark's own clients. It runs a BullMQ
// Worker on queue argv[2] of the Redis at port argv[3], with concurrency
// argv[4] and the no-op (`echo`) or the `thumbnail` processor (argv[5]).
// It prints "ready" once the worker is connected and closes it on SIGTERM.
import path from 'node:path';

import { Worker } from 'bullmq';
import sharp from 'sharp';

const [queueName, port, concurrency, processorName, photoRoot] = process.argv.slice(2);

// The Node side of the same tasks.
const processors = {
  echo: async (job) => ({ payload: job.data.payload }),
  async thumbnail(job) {
    const file = path.join(photoRoot, job.data.input.path);
    const { data, info } = await sharp(file).rotate().resize({ width: job.data.widths[0] }).jpeg({ quality: 80 })
      .toBuffer({ resolveWithObject: true });
    return { thumbnails: [{ width: info.width, height: info.height, format: 'IMAGE_FORMAT_JPEG', data: data.toString('base64') }] };
  },
};
if (!processors[processorName]) throw new Error(`processor must be echo or thumbnail, got ${JSON.stringify(processorName)}`);

const worker = new Worker(queueName, processors[processorName], {
  connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
