// The Node-only side of the AMQP benchmark, run in a worker thread so it has
// an event loop of its own: an amqplib consumer that does the work itself
// and replies the way heavylift's worker does (reply published on a confirm
// channel, the request acknowledged once the broker confirmed the reply).
import { parentPort, workerData } from 'node:worker_threads';

import amqplib from 'amqplib';
import sharp from 'sharp';

const { url, queue, prefetch } = workerData;

const connection = await amqplib.connect(url);
const channel = await connection.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });
await channel.prefetch(prefetch);

// No-op: the payload goes back unchanged. Thumbnail: the request is JSON
// { path, width, quality } and the reply is the JPEG.
async function work(message) {
  if (message.properties.headers['x-heavylift-task'] === 'testing.echo') return message.content;
  const { path, width, quality } = JSON.parse(message.content.toString());
  return sharp(path).resize({ width }).jpeg({ quality }).toBuffer();
}

await channel.consume(queue, (message) => {
  work(message).then(
    (body) =>
      channel.sendToQueue(
        message.properties.replyTo,
        body,
        {
          persistent: true,
          correlationId: message.properties.correlationId,
          headers: { 'x-heavylift-status': 'completed' },
        },
        (error) => (error ? channel.nack(message, false, true) : channel.ack(message)),
      ),
    () => channel.nack(message, false, false),
  );
});

parentPort.postMessage('ready');
parentPort.on('message', async () => {
  await connection.close();
  parentPort.postMessage('closed');
});
