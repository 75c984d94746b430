// A load-generating process for realtime.mjs: opens `count` WebSocket
// connections from one 127.0.0.x source address, speaks just enough
// Engine.IO 4 / Socket.IO 5 to connect (and, for heavylift, join the room),
// answers pings, and records when each "tick" event arrives. The parent
// talks to it over IPC.
import { performance } from 'node:perf_hooks';

import WebSocket from 'ws';

const { url, count, localAddress, token, joinRoom, concurrency } = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();

const sockets = [];
let ready = 0;
let failed = 0;
let deliveries = 0;
let firstDelivery = 0;
let lastDelivery = 0;
const latencies = [];
const ackLatencies = [];
const pendingAcks = new Map();
let nextAckId = 1;

function open() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}/socket.io/?EIO=4&transport=websocket`, { localAddress, perMessageDeflate: false });
    let settled = false;
    const done = (ok) => {
      if (settled) return;
      settled = true;
      if (ok) ready += 1;
      else failed += 1;
      resolve();
    };
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === '2') {
        ws.send('3');
      } else if (text.startsWith('0')) {
        ws.send(`40${JSON.stringify({ token })}`);
      } else if (text.startsWith('40{')) {
        if (joinRoom) ws.send(`420${JSON.stringify(['heavylift:join', joinRoom])}`);
        else done(true);
      } else if (text.startsWith('430')) {
        done(true);
      } else if (text.startsWith('42["tick"')) {
        const at = now();
        const payload = JSON.parse(text.slice(2))[1];
        deliveries += 1;
        if (firstDelivery === 0) firstDelivery = at;
        lastDelivery = at;
        latencies.push(at - payload.ts);
      } else if (text.startsWith('43')) {
        const match = /^43(\d+)/.exec(text);
        const sent = pendingAcks.get(Number(match[1]));
        if (sent !== undefined) {
          pendingAcks.delete(Number(match[1]));
          ackLatencies.push(now() - sent);
        }
      } else if (text.startsWith('44')) {
        done(false);
      }
    });
    ws.on('error', () => done(false));
    ws.on('close', () => done(false));
    sockets.push(ws);
  });
}

async function connectAll() {
  let next = 0;
  const runners = Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next += 1;
      await open();
    }
  });
  await Promise.all(runners);
  process.send({ type: 'connected', ready, failed });
}

// Each connection sends `rate` events per second with an ack id for `seconds`.
async function sendWithAcks(rate, seconds) {
  const interval = 1000 / rate;
  const until = now() + seconds * 1000;
  let sent = 0;
  const timers = sockets.map((ws, index) =>
    setTimeout(function tick() {
      if (now() >= until || ws.readyState !== WebSocket.OPEN) return;
      const id = nextAckId;
      nextAckId += 1;
      pendingAcks.set(id, now());
      ws.send(`42${id}${JSON.stringify(['work', { n: index }])}`);
      sent += 1;
      timers[index] = setTimeout(tick, interval);
    }, (index * interval) / sockets.length),
  );
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 2000));
  for (const timer of timers) clearTimeout(timer);
  process.send({ type: 'acks', sent, answered: ackLatencies.length, latencies: ackLatencies.splice(0) });
  pendingAcks.clear();
}

process.on('message', async (message) => {
  if (message.type === 'connect') {
    await connectAll();
  } else if (message.type === 'report') {
    process.send({ type: 'report', deliveries, firstDelivery, lastDelivery, latencies: latencies.splice(0) });
    deliveries = 0;
    firstDelivery = 0;
    lastDelivery = 0;
  } else if (message.type === 'acks') {
    await sendWithAcks(message.rate, message.seconds);
  } else if (message.type === 'close') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
