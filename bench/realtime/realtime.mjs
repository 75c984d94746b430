// Side-by-side benchmark of heavylift's real-time hub against a Node
// socket.io 4 server on loopback, in one bounded run (see bench/README.md):
//   (a) idle connections: hub memory per connection with one process, and
//       with several heavylift processes on one port (SO_REUSEPORT) sharing
//       Redis.
//   (b) fan-out: single emits to a room holding every client. It reports the
//       deliveries per second of each emit and delivery latency percentiles.
//   (c) clients sending events with acks at a fixed rate: ack latency.
//   (d) kill -9 of a hub: time until 99.9 % of its clients are connected
//       again (to a second hub on the same port).
// Load comes from heavylift_loadgen processes (bench/realtime/loadgen), each
// on its own 127.0.0.x source address.
import { spawn, fork } from 'node:child_process';
import { randomBytes, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LOADGEN = process.env.HEAVYLIFT_LOADGEN ?? path.join(HERE, '../../build/release/loadgen/heavylift_loadgen');
const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
const settings = {
  connections: Number(process.env.REALTIME_BENCH_CONNECTIONS ?? 15000),
  scaleOutConnections: Number(process.env.REALTIME_BENCH_SCALE_OUT_CONNECTIONS ?? 50000),
  hubs: Number(process.env.REALTIME_BENCH_HUBS ?? 4),
  perLoadgen: Number(process.env.REALTIME_BENCH_CONNECTIONS_PER_LOADGEN ?? 12500),
  emits: Number(process.env.REALTIME_BENCH_EMITS ?? 20),
  ackClients: Number(process.env.REALTIME_BENCH_ACK_CLIENTS ?? 5000),
  ackRate: Number(process.env.REALTIME_BENCH_ACK_RATE ?? 10),
  ackSeconds: Number(process.env.REALTIME_BENCH_ACK_SECONDS ?? 10),
  phases: (process.env.REALTIME_BENCH_PHASES ?? 'single,kill,scale,acks,node').split(','),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const loads = [];
const noteLoad = (phase) => loads.push(`${phase} ${loadavg()[0].toFixed(2)}`);

function hs256(claims, secret) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

// CPU seconds (user + system) a process has used so far, from /proc.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// The kernel's count of connections dropped because a listen queue was full
// (TcpExt ListenOverflows), for the whole machine.
function listenOverflows() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0].split(' ');
  const values = lines[1].split(' ');
  return Number(values[names.indexOf('ListenOverflows')]);
}

// --- Histograms from the load generators (buckets of 0.1 ms) -------------------

function mergeHistograms(histograms) {
  const counts = new Map();
  for (const histogram of histograms) {
    for (const [bucket, count] of histogram) counts.set(bucket, (counts.get(bucket) ?? 0) + count);
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]);
}

function quantile(histogram, q) {
  const total = histogram.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (const [bucket, count] of histogram) {
    seen += count;
    if (seen >= q * total) return (bucket + 1) / 10;
  }
  return (histogram.at(-1)[0] + 1) / 10;
}

// --- Load generator processes ------------------------------------------------------

class Loadgen {
  constructor(index, port, count, { token, joinRoom, reconnect }) {
    const args = ['--port', String(port), '--local-address', `127.0.0.${10 + index}`, '--count', String(count),
      '--token', token, '--reconnect', reconnect ? '1' : '0'];
    if (joinRoom) args.push('--join-room', joinRoom);
    this.child = spawn(LOADGEN, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.waiting = [];
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      const index = this.waiting.findIndex((waiter) => waiter.type === message.type);
      if (index >= 0) this.waiting.splice(index, 1)[0].resolve(message);
    });
  }

  request(command, type) {
    return new Promise((resolve) => {
      this.waiting.push({ type, resolve });
      this.child.stdin.write(`${command}\n`);
    });
  }

  quit() {
    this.child.stdin.write('quit\n');
    return new Promise((resolve) => this.child.once('exit', resolve));
  }
}

// Opens `count` connections to `port` from enough load generators.
async function startLoad(port, count, options) {
  const processes = Math.max(1, Math.ceil(count / settings.perLoadgen));
  const loadgens = [];
  for (let i = 0; i < processes; i += 1) {
    const share = Math.floor(count / processes) + (i < count % processes ? 1 : 0);
    loadgens.push(new Loadgen(i, port, share, options));
  }
  const started = performance.now();
  const results = await Promise.all(loadgens.map((loadgen) => loadgen.request('connect', 'connected')));
  return {
    loadgens,
    ready: results.reduce((sum, result) => sum + result.ready, 0),
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

const stopLoad = (loadgens) => Promise.all(loadgens.map((loadgen) => loadgen.quit()));

// (b): `emit(seq)` sends one tick with {ts: Date.now()} to the room of every
// client. Each emit waits until every client has it (or 10 s pass).
async function fanOut(loadgens, ready, emit, serverPid) {
  const serverCpuBefore = cpuSeconds(serverPid);
  const loadCpuBefore = loadgens.reduce((sum, loadgen) => sum + cpuSeconds(loadgen.child.pid), 0);
  const histograms = [];
  const rates = [];
  let delivered = 0;
  for (let seq = 0; seq < settings.emits; seq += 1) {
    await sleep(300);
    const emittedAt = Date.now();
    await emit(seq);
    let got = 0;
    let last = 0;
    const deadline = Date.now() + 10_000;
    while (got < ready && Date.now() < deadline) {
      await sleep(100);
      const reports = await Promise.all(loadgens.map((loadgen) => loadgen.request('report', 'report')));
      for (const report of reports) {
        got += report.deliveries;
        last = Math.max(last, report.last);
        histograms.push(report.hist);
      }
    }
    delivered += got;
    rates.push(got / Math.max((last - emittedAt) / 1000, 1e-6));
  }
  const latency = mergeHistograms(histograms);
  rates.sort((a, b) => a - b);
  const serverCpu = cpuSeconds(serverPid) - serverCpuBefore;
  const loadCpu = loadgens.reduce((sum, loadgen) => sum + cpuSeconds(loadgen.child.pid), 0) - loadCpuBefore;
  return {
    serverCpu,
    loadCpu,
    deliveriesPerServerCpuSecond: delivered / Math.max(serverCpu, 0.01),
    expected: ready * settings.emits,
    delivered,
    medianRate: rates[Math.floor(rates.length / 2)],
    p50: quantile(latency, 0.5),
    p99: quantile(latency, 0.99),
    max: quantile(latency, 1),
  };
}

// (c): every client sends settings.ackRate events a second with an ack.
async function acks(loadgens) {
  const results = await Promise.all(
    loadgens.map((loadgen) => loadgen.request(`acks ${settings.ackRate} ${settings.ackSeconds}`, 'acks')));
  const latency = mergeHistograms(results.map((result) => result.hist));
  return {
    sent: results.reduce((sum, result) => sum + result.sent, 0),
    answered: results.reduce((sum, result) => sum + result.answered, 0),
    p50: quantile(latency, 0.5),
    p99: quantile(latency, 0.99),
  };
}

// (d): after `kill()`, polls the load generators until 99.9 % of the lost
// connections are back or 60 s pass.
async function reconnectAfter(loadgens, kill) {
  await Promise.all(loadgens.map((loadgen) => loadgen.request('reconnects', 'reconnects')));
  const overflowsBefore = listenOverflows();
  const killedAt = Date.now();
  await kill();
  let lost = 0;
  const back = [];
  const failures = {};
  const deadline = Date.now() + 60_000;
  for (;;) {
    await sleep(250);
    const reports = await Promise.all(loadgens.map((loadgen) => loadgen.request('reconnects', 'reconnects')));
    for (const report of reports) {
      lost += report.disconnects;
      back.push(...report.at);
      for (const [what, count] of Object.entries(report.failures)) failures[what] = (failures[what] ?? 0) + count;
    }
    if ((lost > 0 && back.length >= 0.999 * lost) || Date.now() > deadline) break;
  }
  back.sort((a, b) => a - b);
  const at = (fraction) => (back.length === 0 ? NaN : (back[Math.max(0, Math.ceil(fraction * lost) - 1)] - killedAt) / 1000);
  return { lost, back: back.length, p50: at(0.5), p999: back.length >= 0.999 * lost ? at(0.999) : NaN,
    listenOverflows: listenOverflows() - overflowsBefore, failures };
}

// --- heavylift ------------------------------------------------------------------------

async function rssOf(daemon) {
  const text = await (await fetch(`http://${daemon.httpAddress}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)/m.exec(text)[1]);
}

function startHub(dir, port, extraArgs = []) {
  return startDaemon({
    args: ['--realtime-address', `127.0.0.1:${port}`, '--realtime-jwt-key-file', path.join(dir, 'jwt.secret'),
      '--realtime-reuse-port', '1', '--realtime-max-connections', '19000',
      '--realtime-max-send-queue-bytes', String(8 << 20), '--realtime-max-rooms-per-socket', '10', ...extraArgs],
    timeoutMs: 20_000,
  });
}

async function heavyliftPhases(results) {
  const dir = mkdtempSync(path.join(tmpdir(), 'heavylift-bench-'));
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path.join(dir, 'jwt.secret'), secret);
  const token = hs256({ sub: 'bench', rooms: ['*'], exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  const port = await freePort();
  try {
    if (settings.phases.includes('single')) {
      // (a) and (b) on one hub, then (d): a second hub takes the clients.
      const hub = await startHub(dir, port);
      const client = createClient({ address: hub.grpcAddress });
      const before = await rssOf(hub);
      const load = await startLoad(port, settings.connections, { token, joinRoom: 'fan', reconnect: true });
      await sleep(2000);
      noteLoad('heavylift idle');
      const after = await rssOf(hub);
      results.single = { ready: load.ready, failed: load.failed, connectSeconds: load.seconds,
        bytesPerConnection: (after - before) / Math.max(load.ready, 1) };
      console.log('heavylift idle', JSON.stringify(results.single));
      results.fan = await fanOut(load.loadgens, load.ready,
        (seq) => client.realtime.emit({ rooms: ['fan'], event: 'tick', args: [{ ts: Date.now(), seq }] }),
        hub.process.pid);
      noteLoad('heavylift fan-out');
      console.log('heavylift fan-out', JSON.stringify(results.fan));
      client.close();
      if (settings.phases.includes('kill')) {
        const second = await startHub(dir, port);
        results.kill = await reconnectAfter(load.loadgens, () => hub.stop('SIGKILL'));
        noteLoad('heavylift kill');
        console.log('heavylift kill', JSON.stringify(results.kill));
        await stopLoad(load.loadgens);
        await second.stop();
      } else {
        await stopLoad(load.loadgens);
        await hub.stop();
      }
    }

    if (settings.phases.includes('scale')) {
      // (a) over several hubs on one port, sharing rooms through Redis.
      const redisPort = await freePort();
      const redis = spawn(REDIS_SERVER, ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '',
        '--appendonly', 'no'], { stdio: 'ignore' });
      await sleep(300);
      const hubs = [];
      try {
        for (let i = 0; i < settings.hubs; i += 1) {
          hubs.push(await startHub(dir, port, ['--realtime-redis-address', `127.0.0.1:${redisPort}`]));
        }
        const before = await Promise.all(hubs.map(rssOf));
        const load = await startLoad(port, settings.scaleOutConnections, { token, joinRoom: 'fan' });
        await sleep(3000);
        noteLoad('heavylift scale-out idle');
        const after = await Promise.all(hubs.map(rssOf));
        const grown = after.reduce((sum, value, i) => sum + value - before[i], 0);
        const counts = await Promise.all(hubs.map(async (hub) => {
          const text = await (await fetch(`http://${hub.httpAddress}/metrics`)).text();
          return Number(/^heavylift_realtime_connections (\S+)/m.exec(text)?.[1] ?? NaN);
        }));
        results.scale = { ready: load.ready, failed: load.failed, connectSeconds: load.seconds, perHub: counts,
          bytesPerConnection: grown / Math.max(load.ready, 1) };
        console.log('heavylift scale-out', JSON.stringify(results.scale));
        await stopLoad(load.loadgens);
      } finally {
        for (const hub of hubs) await hub.stop();
        redis.kill();
      }
    }

    if (settings.phases.includes('acks')) {
      // (c): the Node app acknowledges each event from its subscription.
      const hub = await startHub(dir, port);
      const client = createClient({ address: hub.grpcAddress });
      const subscription = client.realtime.subscribe({ group: 'bench' });
      subscription.on('work', (event) => {
        void event.ack({ ok: true, n: event.args[0]?.n }).catch(() => {});
      });
      await sleep(300);
      const load = await startLoad(port, settings.ackClients, { token });
      results.acks = await acks(load.loadgens);
      noteLoad('heavylift acks');
      console.log('heavylift acks', JSON.stringify(results.acks));
      await stopLoad(load.loadgens);
      subscription.close();
      client.close();
      await hub.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- Node socket.io -----------------------------------------------------------------

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

async function nodePhases(results) {
  const server = fork(path.join(HERE, 'node-server.mjs'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await waitFor(server, 'listening');
  const memory = async () => {
    const result = waitFor(server, 'memory');
    server.send({ type: 'memory' });
    return (await result).rss;
  };
  try {
    const before = await memory();
    const load = await startLoad(port, settings.connections, { token: 'unused' });
    await sleep(2000);
    noteLoad('node idle');
    const after = await memory();
    results.nodeSingle = { ready: load.ready, failed: load.failed, connectSeconds: load.seconds,
      bytesPerConnection: (after - before) / Math.max(load.ready, 1) };
    console.log('node idle', JSON.stringify(results.nodeSingle));
    results.nodeFan = await fanOut(load.loadgens, load.ready, async (seq) => server.send({ type: 'emit', seq }),
      server.pid);
    noteLoad('node fan-out');
    console.log('node fan-out', JSON.stringify(results.nodeFan));
    await stopLoad(load.loadgens);
    const ackLoad = await startLoad(port, settings.ackClients, { token: 'unused' });
    results.nodeAcks = await acks(ackLoad.loadgens);
    noteLoad('node acks');
    console.log('node acks', JSON.stringify(results.nodeAcks));
    await stopLoad(ackLoad.loadgens);
  } finally {
    server.send({ type: 'close' });
  }
}

// --- Report ----------------------------------------------------------------------------

const format = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const ratio = (a, b) => format(a / b, 2);

if (!existsSync(LOADGEN)) {
  console.error(`heavylift_loadgen not found at ${LOADGEN}: run make build-server or set HEAVYLIFT_LOADGEN`);
  process.exit(1);
}
console.log(`realtime benchmark: ${JSON.stringify(settings)}`);
noteLoad('start');
const results = {};
await heavyliftPhases(results);
if (settings.phases.includes('node')) await nodePhases(results);

const kib = (result) => format((result?.bytesPerConnection ?? NaN) / 1024);
const h = results;
const rows = [
  ['(a) connections ready, one process', h.single?.ready, h.nodeSingle?.ready, ''],
  ['(a) memory per idle connection, one process (KiB)', kib(h.single), kib(h.nodeSingle),
    ratio(h.nodeSingle?.bytesPerConnection, h.single?.bytesPerConnection)],
  [`(a) connections ready, ${settings.hubs} processes`, h.scale?.ready, '', ''],
  [`(a) memory per idle connection, ${settings.hubs} processes (KiB)`, kib(h.scale), '', ''],
  ['(b) fan-out deliveries', `${h.fan?.delivered}/${h.fan?.expected}`, `${h.nodeFan?.delivered}/${h.nodeFan?.expected}`, ''],
  ['(b) deliveries/s of one emit (median)', format(h.fan?.medianRate, 0), format(h.nodeFan?.medianRate, 0),
    ratio(h.fan?.medianRate, h.nodeFan?.medianRate)],
  ['(b) deliveries per server CPU second', format(h.fan?.deliveriesPerServerCpuSecond, 0),
    format(h.nodeFan?.deliveriesPerServerCpuSecond, 0),
    ratio(h.fan?.deliveriesPerServerCpuSecond, h.nodeFan?.deliveriesPerServerCpuSecond)],
  ['(b) CPU seconds: server / load generators', `${format(h.fan?.serverCpu, 2)} / ${format(h.fan?.loadCpu, 2)}`,
    `${format(h.nodeFan?.serverCpu, 2)} / ${format(h.nodeFan?.loadCpu, 2)}`, ''],
  ['(b) delivery latency p50 (ms)', format(h.fan?.p50), format(h.nodeFan?.p50), ratio(h.nodeFan?.p50, h.fan?.p50)],
  ['(b) delivery latency p99 (ms)', format(h.fan?.p99), format(h.nodeFan?.p99), ratio(h.nodeFan?.p99, h.fan?.p99)],
  ['(c) acks answered', `${h.acks?.answered}/${h.acks?.sent}`, `${h.nodeAcks?.answered}/${h.nodeAcks?.sent}`, ''],
  ['(c) ack latency p50 (ms)', format(h.acks?.p50), format(h.nodeAcks?.p50), ratio(h.nodeAcks?.p50, h.acks?.p50)],
  ['(c) ack latency p99 (ms)', format(h.acks?.p99), format(h.nodeAcks?.p99), ratio(h.nodeAcks?.p99, h.acks?.p99)],
  ['(d) clients lost by the killed hub', h.kill?.lost, '', ''],
  ['(d) seconds until 50 % were back', format(h.kill?.p50, 2), '', ''],
  ['(d) seconds until 99.9 % were back', format(h.kill?.p999, 2), '', ''],
  ['(d) listen queue overflows meanwhile (whole machine)', h.kill?.listenOverflows, '', ''],
];
console.log('| measure | heavylift | node socket.io | ratio (heavylift better when > 1) |');
console.log('| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.map((cell) => cell ?? '').join(' | ')} |`);
console.log(`load average (1 min) by phase: ${loads.join(', ')}`);
process.exit(0);
