// A real redis-server for the tests: started on a free loopback port with
// its own data directory, stopped (or restarted, or killed) by the test.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
const START_TIMEOUT_MS = 10_000;

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connection to 127.0.0.1:`port` succeeds, or rejects after `timeoutMs`. */
export async function waitForPort(port, timeoutMs, describeFailure = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const connected = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > deadline) {
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms. ${describeFailure()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A redis-server process. `url` is its redis:// address. The data directory
 * (with its append-only file, so a restart keeps the data) lives until stop().
 */
export class RedisServer {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    this.process = undefined;
    this.output = '';
  }

  /** Starts redis-server on a free port; `options.args` adds redis.conf directives as flags. */
  static async start({ args = [] } = {}) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-redis-'));
    const server = new RedisServer(await freePort(), dir);
    server.args = args;
    await server.launch();
    return server;
  }

  async launch() {
    this.output = '';
    this.process = spawn(
      REDIS_SERVER,
      [
        '--bind', '127.0.0.1',
        '--port', String(this.port),
        '--dir', this.dir,
        '--save', '',
        '--appendonly', 'yes',
        '--appendfsync', 'always',
        '--maxmemory-policy', 'noeviction',
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-8192);
    };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    await waitForPort(this.port, START_TIMEOUT_MS, () => `redis-server output:\n${this.output}`);
  }

  /** Stops the server with SIGTERM (it writes its data first) and waits for its exit. */
  async shutdown() {
    await this.signal('SIGTERM');
  }

  /** Kills the server with SIGKILL, as a crash would. */
  async kill() {
    await this.signal('SIGKILL');
  }

  /** Stops the server and starts it again on the same port and data directory. */
  async restart() {
    await this.shutdown();
    await this.launch();
  }

  async signal(name) {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(name);
    await exited;
  }

  /** Stops the server and removes its data directory. */
  async stop() {
    await this.shutdown();
    await rm(this.dir, { recursive: true, force: true });
  }
}
