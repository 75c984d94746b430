// Side-by-side benchmark of heavylift's real-time hub against a Node
// socket.io 4 server on loopback, in one bounded run:
//   (a) idle connections: server memory per connection;
//   (b) fan-out: one emit to a room holding every client, repeated;
//       deliveries per second and delivery latency percentiles;
//   (c) clients sending events with acks at a fixed rate: ack latency.
// Clients come from several load-generating processes (clients.mjs), each
// with its own 127.0.0.x source address. Sizes are set by environment
// variables so the run fits the machine; see bench/README.md.
import { fork } from 'node:child_process';
import { randomBytes, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const settings = {
  connections: Number(process.env.REALTIME_BENCH_CONNECTIONS ?? 4000),
  processes: Number(process.env.REALTIME_BENCH_PROCESSES ?? 4),
  emits: Number(process.env.REALTIME_BENCH_EMITS ?? 20),
  emitIntervalMs: Number(process.env.REALTIME_BENCH_EMIT_INTERVAL_MS ?? 250),
  ackClients: Number(process.env.REALTIME_BENCH_ACK_CLIENTS ?? 1000),
  ackRate: Number(process.env.REALTIME_BENCH_ACK_RATE ?? 10),
  ackSeconds: Number(process.env.REALTIME_BENCH_ACK_SECONDS ?? 5),
};

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function hs256(claims, secret) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function waitFor(child, type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message.type === type) {
        child.off('message', listener);
        resolve(message);
      }
    };
    child.on('message', listener);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts the load generators against `url`, splitting `count` connections.
async function startClients(url, count, { token, joinRoom }) {
  const workers = [];
  for (let i = 0; i < settings.processes; i += 1) {
    const share = Math.floor(count / settings.processes) + (i < count % settings.processes ? 1 : 0);
    const config = { url, count: share, localAddress: `127.0.0.${10 + i}`, token, joinRoom, concurrency: 50 };
    workers.push(fork(path.join(HERE, 'clients.mjs'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }
  const connected = await Promise.all(workers.map((worker) => {
    const result = waitFor(worker, 'connected');
    worker.send({ type: 'connect' });
    return result;
  }));
  return {
    workers,
    ready: connected.reduce((sum, result) => sum + result.ready, 0),
    failed: connected.reduce((sum, result) => sum + result.failed, 0),
  };
}

async function collect(workers) {
  const reports = await Promise.all(workers.map((worker) => {
    const result = waitFor(worker, 'report');
    worker.send({ type: 'report' });
    return result;
  }));
  return {
    deliveries: reports.reduce((sum, report) => sum + report.deliveries, 0),
    first: Math.min(...reports.filter((r) => r.firstDelivery > 0).map((r) => r.firstDelivery)),
    last: Math.max(...reports.map((r) => r.lastDelivery)),
    latencies: reports.flatMap((report) => report.latencies),
  };
}

async function stopClients(workers) {
  for (const worker of workers) worker.send({ type: 'close' });
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
}

// Runs the fan-out: `emit(seq)` sends one tick to the room of all clients.
async function fanOut(workers, ready, emit) {
  const started = performance.timeOrigin + performance.now();
  for (let seq = 0; seq < settings.emits; seq += 1) {
    await emit(seq);
    await sleep(settings.emitIntervalMs);
  }
  const expected = ready * settings.emits;
  let result = await collect(workers);
  let total = result;
  const deadline = Date.now() + 15_000;
  while (total.deliveries < expected && Date.now() < deadline) {
    await sleep(200);
    result = await collect(workers);
    total = { ...total, deliveries: total.deliveries + result.deliveries, last: Math.max(total.last, result.last),
      latencies: total.latencies.concat(result.latencies) };
  }
  // Deliveries per second while delivering: each emit's burst, summed.
  const burstSeconds = settings.emits * percentile(total.latencies, 100) / 1000;
  return {
    expected,
    delivered: total.deliveries,
    deliveriesPerSecondInBursts: total.deliveries / Math.max(burstSeconds, 1e-6),
    wallSeconds: (total.last - started) / 1000,
    p50: percentile(total.latencies, 50),
    p99: percentile(total.latencies, 99),
    max: percentile(total.latencies, 100),
  };
}

async function acks(workers) {
  const results = await Promise.all(workers.map((worker) => {
    const result = waitFor(worker, 'acks');
    worker.send({ type: 'acks', rate: settings.ackRate, seconds: settings.ackSeconds });
    return result;
  }));
  const latencies = results.flatMap((result) => result.latencies);
  return {
    sent: results.reduce((sum, result) => sum + result.sent, 0),
    answered: results.reduce((sum, result) => sum + result.answered, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function rssOfDaemon(httpAddress) {
  const text = await (await fetch(`http://${httpAddress}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)/m.exec(text)[1]);
}

async function runHeavylift() {
  const dir = mkdtempSync(path.join(tmpdir(), 'heavylift-bench-'));
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path.join(dir, 'jwt.secret'), secret);
  const daemon = await startDaemon({
    args: ['--realtime-address', '127.0.0.1:0', '--realtime-jwt-key-file', path.join(dir, 'jwt.secret'),
      '--realtime-max-connections', '20000', '--realtime-max-send-queue-bytes', String(8 << 20),
      '--realtime-max-rooms-per-socket', '10'],
    timeoutMs: 20_000,
  });
  const client = createClient({ address: daemon.grpcAddress });
  try {
    const line = await daemon.waitForLog('event=realtime.listening');
    const address = /address=(\S+)/.exec(line)[1];
    const token = hs256({ sub: 'bench', rooms: ['*'], exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
    const before = await rssOfDaemon(daemon.httpAddress);
    const { workers, ready, failed } = await startClients(`ws://${address}`, settings.connections, { token, joinRoom: 'fan' });
    await sleep(1000);
    const after = await rssOfDaemon(daemon.httpAddress);
    const fan = await fanOut(workers, ready, (seq) =>
      client.realtime.emit({ rooms: ['fan'], event: 'tick', args: [{ ts: performance.timeOrigin + performance.now(), seq }] }));
    await stopClients(workers);

    // Acks: the Node app replies through a subscription, as it would in production.
    const subscription = client.realtime.subscribe({ group: 'bench' });
    subscription.on('work', (event) => {
      void event.ack({ ok: true, n: event.args[0]?.n }).catch(() => {});
    });
    await sleep(200);
    const ackClients = await startClients(`ws://${address}`, settings.ackClients, { token });
    const ack = await acks(ackClients.workers);
    await stopClients(ackClients.workers);
    subscription.close();
    return { ready, failed, bytesPerConnection: (after - before) / Math.max(ready, 1), fan, ack };
  } finally {
    client.close();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runNode() {
  const server = fork(path.join(HERE, 'node-server.mjs'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await waitFor(server, 'listening');
  const memory = async () => {
    const result = waitFor(server, 'memory');
    server.send({ type: 'memory' });
    return (await result).rss;
  };
  try {
    const before = await memory();
    const { workers, ready, failed } = await startClients(`ws://127.0.0.1:${port}`, settings.connections, { token: 'unused' });
    await sleep(1000);
    const after = await memory();
    const fan = await fanOut(workers, ready, async (seq) => server.send({ type: 'emit', seq }));
    await stopClients(workers);
    const ackClients = await startClients(`ws://127.0.0.1:${port}`, settings.ackClients, { token: 'unused' });
    const ack = await acks(ackClients.workers);
    await stopClients(ackClients.workers);
    return { ready, failed, bytesPerConnection: (after - before) / Math.max(ready, 1), fan, ack };
  } finally {
    server.send({ type: 'close' });
  }
}

const format = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

console.log(`realtime benchmark: ${JSON.stringify(settings)}`);
const heavylift = await runHeavylift();
const node = await runNode();
const rows = [
  ['connections ready', heavylift.ready, node.ready, ''],
  ['connections failed', heavylift.failed, node.failed, ''],
  ['server memory per idle connection (KiB)', format(heavylift.bytesPerConnection / 1024), format(node.bytesPerConnection / 1024),
    format(node.bytesPerConnection / heavylift.bytesPerConnection, 2)],
  ['fan-out deliveries', `${heavylift.fan.delivered}/${heavylift.fan.expected}`, `${node.fan.delivered}/${node.fan.expected}`, ''],
  ['fan-out deliveries/s within a burst', format(heavylift.fan.deliveriesPerSecondInBursts, 0), format(node.fan.deliveriesPerSecondInBursts, 0),
    format(heavylift.fan.deliveriesPerSecondInBursts / node.fan.deliveriesPerSecondInBursts, 2)],
  ['fan-out latency p50 (ms)', format(heavylift.fan.p50), format(node.fan.p50), format(node.fan.p50 / heavylift.fan.p50, 2)],
  ['fan-out latency p99 (ms)', format(heavylift.fan.p99), format(node.fan.p99), format(node.fan.p99 / heavylift.fan.p99, 2)],
  ['acks answered', `${heavylift.ack.answered}/${heavylift.ack.sent}`, `${node.ack.answered}/${node.ack.sent}`, ''],
  ['ack latency p50 (ms)', format(heavylift.ack.p50), format(node.ack.p50), format(node.ack.p50 / heavylift.ack.p50, 2)],
  ['ack latency p99 (ms)', format(heavylift.ack.p99), format(node.ack.p99), format(node.ack.p99 / heavylift.ack.p99, 2)],
];
console.log('| measure | heavylift | node socket.io | ratio (heavylift better when > 1) |');
console.log('| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
process.exit(0);
