// Benchmarks heavylift's file work against the same work done in Node (crypto streams,
// zlib, csv-parse, and the WebAssembly zstd of @bokuweb/zstd-wasm where zlib has no zstd).
// Each side of each workload runs in its own Node process, while an Express server in that
// process serves pings. Prints MB/s for each side, the ratio, and the event-loop delay and
// ping latency during each run.
// Usage: node bench/files/files.mjs [--bytes=268435456] [--csv-bytes=268435456]
// (or BENCH_FILES_BYTES / BENCH_FILES_CSV_BYTES; a 1 GB CSV profile is
// --csv-bytes=1073741824).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

import { compress as zstdWasmCompress, init as initZstdWasm } from '@bokuweb/zstd-wasm';
import { parse } from 'csv-parse';
import express from 'express';
import { createClient } from 'heavylift';
import { startDaemon } from 'heavylift/testing';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MB = 1e6;

function readOptions() {
  const { values } = parseArgs({
    options: {
      bytes: { type: 'string', default: process.env.BENCH_FILES_BYTES ?? String(256 * 1024 * 1024) },
      'csv-bytes': { type: 'string', default: process.env.BENCH_FILES_CSV_BYTES ?? String(256 * 1024 * 1024) },
      bin: { type: 'string', default: process.env.HEAVYLIFT_BIN ?? path.join(REPO_ROOT, 'build', 'release', 'heavylift') },
      // Set by the parent when it runs one measurement in a child process.
      workload: { type: 'string' },
      side: { type: 'string' },
      root: { type: 'string' },
      'daemon-address': { type: 'string' },
      'daemon-pid': { type: 'string' },
      output: { type: 'string' },
    },
  });
  return {
    bytes: Number(values.bytes),
    csvBytes: Number(values['csv-bytes']),
    bin: values.bin,
    child: values.workload && {
      workload: values.workload,
      side: values.side,
      root: values.root,
      daemonAddress: values['daemon-address'],
      daemonPid: Number(values['daemon-pid']),
      output: values.output,
    },
  };
}

// Writes `total` bytes of random data (1 MiB of random bytes with a counter
// per chunk) to `file`.
async function writeBinary(file, total) {
  const block = randomBytes(1 << 20);
  const out = createWriteStream(file);
  for (let offset = 0, index = 0; offset < total; offset += block.length, index += 1) {
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - offset)));
    chunk.writeUInt32LE(index, 0);
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
}

// Writes a CSV of about `total` bytes with an integer, a decimal, a short
// string from 50 values, an ISO date, a boolean and a quoted free-text column.
async function writeCsv(file, total) {
  const out = createWriteStream(file);
  out.write('id,amount,city,day,active,comment\n');
  let written = 0;
  let state = 1;
  let id = 0;
  while (written < total) {
    let batch = '';
    for (let i = 0; i < 2000; i += 1) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      id += 1;
      const amount = ((state % 2000000) - 500000) / 100;
      const day = `2024-${String((state % 12) + 1).padStart(2, '0')}-${String((state % 28) + 1).padStart(2, '0')}`;
      const comment = state % 7 === 0 ? '' : `"note ${state % 1000}, ok"`;
      batch += `${id},${amount},city${state % 50},${day},${state % 3 === 0},${comment}\n`;
    }
    written += batch.length;
    if (!out.write(batch)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
}

// Compresses with zstd at `level` through the WebAssembly build of libzstd in
// @bokuweb/zstd-wasm, on the main thread, as independent frames of 1 MiB of input each (their
// concatenation is a valid zstd stream). Node 20's zlib has no zstd.
function zstdWasmStream(level) {
  let pending = [];
  let pendingBytes = 0;
  const compressPending = (stream) => {
    if (pendingBytes === 0) return;
    stream.push(Buffer.from(zstdWasmCompress(Buffer.concat(pending, pendingBytes), level)));
    pending = [];
    pendingBytes = 0;
  };
  return new Transform({
    transform(chunk, _encoding, callback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= 1 << 20) compressPending(this);
      callback();
    },
    flush(callback) {
      compressPending(this);
      callback();
    },
  });
}

// A Writable that counts and drops its input.
function counter() {
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      sink.bytes += chunk.length;
      callback();
    },
  });
  sink.bytes = 0;
  return sink;
}

// Profiles CSV in this process: csv-parse with per-column type inference,
// null count, min/max, mean and exact distinct counts (capped at 100000).
async function nodeProfileCsv(file) {
  const columns = [];
  let header;
  const parser = createReadStream(file).pipe(parse({ bom: true, relax_column_count: true }));
  for await (const record of parser) {
    if (!header) {
      header = record;
      for (const name of header) columns.push({ name, nulls: 0, numbers: 0, strings: 0, min: Infinity, max: -Infinity, sum: 0, distinct: new Set() });
      continue;
    }
    for (let i = 0; i < columns.length; i += 1) {
      const column = columns[i];
      const value = record[i];
      if (value === undefined || value === '') {
        column.nulls += 1;
        continue;
      }
      const number = Number(value);
      if (Number.isFinite(number)) {
        column.numbers += 1;
        column.sum += number;
        if (number < column.min) column.min = number;
        if (number > column.max) column.max = number;
      } else {
        column.strings += 1;
      }
      if (column.distinct.size < 100000) column.distinct.add(value);
    }
  }
  return columns;
}

const ping = express();
ping.get('/ping', (_req, res) => res.send('pong'));

// CPU seconds (user + system) the process `pid` has used, from
// /proc/PID/stat, whose times are in clock ticks of 1/100 s on Linux.
function processCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// Runs `work` while pinging the Express server every 5 ms. Returns MB/s of
// wall time, the event-loop delay and the ping latency during the run, and
// MB per CPU second of the side doing the work: this Node process, or the
// daemon when `onDaemon` is set.
async function measure(bytes, work, { onDaemon = false, daemonPid, warmUp = async () => {} }) {
  const server = await new Promise((resolve) => {
    const listening = ping.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const url = `http://127.0.0.1:${server.address().port}/ping`;
  const pings = [];
  let running = true;
  let recording = false;
  const pinger = (async () => {
    while (running) {
      const started = performance.now();
      await (await fetch(url)).text();
      if (recording) pings.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  // The first pings and the first gRPC call load and compile code, which would read as a
  // stall of the work that follows, so they happen before the measurement starts.
  await warmUp();
  await new Promise((resolve) => setTimeout(resolve, 500));
  recording = true;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const nodeCpuStart = process.cpuUsage();
  const daemonCpuStart = processCpuSeconds(daemonPid);
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const nodeCpuUsed = process.cpuUsage(nodeCpuStart);
  const nodeCpuSeconds = (nodeCpuUsed.user + nodeCpuUsed.system) / 1e6;
  const daemonCpuSeconds = processCpuSeconds(daemonPid) - daemonCpuStart;
  loop.disable();
  running = false;
  await pinger;
  server.close();
  pings.sort((a, b) => a - b);
  return {
    mbPerSecond: bytes / MB / seconds,
    mbPerCpuSecond: bytes / MB / (onDaemon ? daemonCpuSeconds : nodeCpuSeconds),
    nodeCpuSeconds,
    daemonCpuSeconds,
    seconds,
    loopMaxMs: loop.max / 1e6,
    loopP99Ms: loop.percentile(99) / 1e6,
    pingP99Ms: pings[Math.floor(pings.length * 0.99)] ?? Number.NaN,
    pingMaxMs: pings[pings.length - 1] ?? Number.NaN,
  };
}

// MB per CPU second, or "-" when the CPU time was below the 10 ms tick of /proc/PID/stat
// (JSON turns the infinite quotient into null).
function perCpu(value) {
  return Number.isFinite(value) ? value.toFixed(0) : '-';
}

function row(name, node, heavylift, note = '') {
  const cell = (result) =>
    `${result.mbPerSecond.toFixed(0).padStart(6)} MB/s ${perCpu(result.mbPerCpuSecond).padStart(6)} MB/cpu-s` +
    ` (cpu node ${result.nodeCpuSeconds.toFixed(2)} s, daemon ${result.daemonCpuSeconds.toFixed(2)} s)` +
    `  loop max ${result.loopMaxMs.toFixed(1).padStart(6)} ms (p99 ${result.loopP99Ms.toFixed(1).padStart(5)})` +
    `  ping max ${result.pingMaxMs.toFixed(1).padStart(6)} ms`;
  const ratio = `${(heavylift.mbPerSecond / node.mbPerSecond).toFixed(2)}x`;
  console.log(`${name.padEnd(34)} node: ${cell(node)} | heavylift: ${cell(heavylift)} | ratio ${ratio} ${note}`);
}

// zlib has zstd from Node v22.15/v23.8 on. Older versions use the WebAssembly build.
const hasZlibZstd = typeof zlib.createZstdCompress === 'function';
const zstdSide = hasZlibZstd ? 'zlib' : 'zstd-wasm';
function nodeZstdStream() {
  return hasZlibZstd
    ? zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } })
    : zstdWasmStream(3);
}

// Node has no XXH3, so its side of the upload pipeline is SHA-256 + zstd level 3.
async function nodePipeline(file) {
  const hash = createHash('sha256');
  const source = createReadStream(file);
  source.on('data', (chunk) => hash.update(chunk));
  await pipeline(source, nodeZstdStream(), counter());
  hash.digest('hex');
}

const pipelineNote = `(node side: SHA-256 + ${zstdSide} level 3)`;
const uploadPipelineOptions = { digests: ['sha256', 'xxh3'], compression: 'zstd', compressionLevel: 3 };

// The workloads in the order printed. `input` is the file each reads, and `node` and
// `heavylift` are the work of each side. `heavylift` gets a client, the input's path, its name
// under the blob root and an unused output name.
const WORKLOADS = [
  {
    name: 'SHA-256 (stream)',
    input: 'data.bin',
    node: (file) => pipeline(createReadStream(file), createHash('sha256'), counter()),
    heavylift: (client, file) => client.files.upload(createReadStream(file), { digests: ['sha256'] }),
  },
  {
    name: 'SHA-256 (blob path, no transfer)',
    input: 'data.bin',
    node: (file) => pipeline(createReadStream(file), createHash('sha256'), counter()),
    heavylift: (client, _file, name) => client.files.digest({ path: name }, { digests: ['sha256'] }),
  },
  {
    name: 'zstd level 3',
    input: 'data.bin',
    node: (file) => pipeline(createReadStream(file), nodeZstdStream(), counter()),
    heavylift: (client, _file, name, output) => client.files.compress({ path: name }, { format: 'zstd', level: 3, outputPath: output }),
    note: `(node side: ${zstdSide})`,
  },
  {
    name: 'zstd level 3 (CSV text)',
    input: 'data.csv',
    node: (file) => pipeline(createReadStream(file), nodeZstdStream(), counter()),
    heavylift: (client, _file, name, output) => client.files.compress({ path: name }, { format: 'zstd', level: 3, outputPath: output }),
    note: `(node side: ${zstdSide})`,
  },
  {
    name: 'gzip level 6',
    input: 'data.bin',
    node: (file) => pipeline(createReadStream(file), zlib.createGzip({ level: 6 }), counter()),
    heavylift: (client, _file, name, output) => client.files.compress({ path: name }, { format: 'gzip', level: 6, outputPath: output }),
  },
  {
    name: 'gzip level 6 (CSV text)',
    input: 'data.csv',
    node: (file) => pipeline(createReadStream(file), zlib.createGzip({ level: 6 }), counter()),
    heavylift: (client, _file, name, output) => client.files.compress({ path: name }, { format: 'gzip', level: 6, outputPath: output }),
  },
  {
    name: 'CSV profile, blob path',
    input: 'data.csv',
    node: (file) => nodeProfileCsv(file),
    heavylift: (client, _file, name) => client.files.profileCsv({ path: name }),
  },
  {
    name: 'CSV profile (streamed upload)',
    input: 'data.csv',
    node: (file) => nodeProfileCsv(file),
    heavylift: (client, file) => client.files.upload(createReadStream(file), { digests: ['xxh3'], profileCsv: true }),
  },
  {
    name: 'upload: SHA-256 + XXH3 + zstd 3',
    input: 'data.bin',
    node: (file) => nodePipeline(file),
    heavylift: (client, file) => client.files.upload(createReadStream(file), uploadPipelineOptions),
    note: pipelineNote,
  },
  {
    name: 'upload pipeline on CSV text',
    input: 'data.csv',
    node: (file) => nodePipeline(file),
    heavylift: (client, file) => client.files.upload(createReadStream(file), uploadPipelineOptions),
    note: pipelineNote,
  },
];

// Runs one side of one workload in this process, a child of the benchmark, and prints its
// measurement as JSON. Each measurement gets a fresh process, so no run pays for the garbage
// or the heap growth of the one before. In one process, a forced collection between runs made
// the next streamed upload run a full collection every 50 ms.
async function runChild({ workload: index, side, root, daemonAddress, daemonPid, output }) {
  const workload = WORKLOADS[Number(index)];
  const file = path.join(root, workload.input);
  const bytes = (await stat(file)).size;
  let result;
  if (side === 'node') {
    await initZstdWasm();
    result = await measure(bytes, () => workload.node(file), { daemonPid });
  } else {
    const client = createClient({ address: daemonAddress, deadlineMs: 600_000 });
    try {
      result = await measure(bytes, () => workload.heavylift(client, file, workload.input, output), {
        onDaemon: true,
        daemonPid,
        warmUp: () => client.health(),
      });
    } finally {
      client.close();
    }
  }
  process.stdout.write(JSON.stringify(result));
}

// Runs one side of workload `index` in a child process and returns its measurement.
async function measureInChild(index, side, common) {
  const args = [fileURLToPath(import.meta.url), `--workload=${index}`, `--side=${side}`, ...common];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) {
    throw new Error(`${WORKLOADS[index].name}, ${side} side: the measuring process failed with exit code ${code}`);
  }
  return JSON.parse(stdout);
}

async function main() {
  const options = readOptions();
  if (options.child) {
    await runChild(options.child);
    return;
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'heavylift-bench-files-'));
  const binary = path.join(root, 'data.bin');
  const csv = path.join(root, 'data.csv');
  console.log(`# generating ${options.bytes} random bytes and a ${options.csvBytes}-byte CSV in ${root}`);
  await writeBinary(binary, options.bytes);
  await writeCsv(csv, options.csvBytes);

  const daemon = await startDaemon({
    bin: options.bin,
    args: ['--blob-root', root, '--files-max-input-bytes', String(8 * 1024 ** 3), '--files-max-field-bytes', '1048576'],
  });
  const common = [`--root=${root}`, `--daemon-address=${daemon.grpcAddress}`, `--daemon-pid=${daemon.process.pid}`];
  try {
    console.log(`# node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0].model}), load ${os.loadavg()[0].toFixed(1)}`);
    console.log('# each side of each workload runs in its own Node process');
    for (const [index, workload] of WORKLOADS.entries()) {
      const node = await measureInChild(index, 'node', common);
      const heavylift = await measureInChild(index, 'heavylift', [...common, `--output=out-${index}`]);
      row(workload.name, node, heavylift, workload.note);
    }
  } finally {
    await daemon.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
