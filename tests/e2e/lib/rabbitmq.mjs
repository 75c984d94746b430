// A real rabbitmq-server for the tests: its own node name, Erlang cookie,
// epmd port, data and log directories in a temp dir, AMQP on a free loopback
// port. It never touches a broker or epmd that runs system-wide: the node
// registers with an epmd of its own on a free port, which stop() ends.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import amqplib from 'amqplib';

import { freePort, waitForPort } from './redis.mjs';

const RABBITMQ_BIN_DIR = process.env.RABBITMQ_BIN_DIR ?? '/usr/lib/rabbitmq/bin';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * A rabbitmq-server process. `url` is its amqp:// address with the default
 * guest account, which RabbitMQ accepts from loopback only. The data
 * directory (Mnesia and message store) lives until stop(), so restart()
 * keeps durable queues and persistent messages.
 */
export class RabbitMqServer {
  constructor(dir, ports) {
    this.dir = dir;
    this.port = ports.amqp;
    this.distPort = ports.dist;
    this.epmdPort = ports.epmd;
    this.nodeName = `heavylift-e2e-${ports.amqp}@localhost`;
    this.url = `amqp://guest:guest@127.0.0.1:${ports.amqp}/`;
    this.process = undefined;
    this.output = '';
  }

  /** Starts a broker on free ports in a new temp dir. */
  static async start() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-rabbitmq-'));
    const ports = { amqp: await freePort(), dist: await freePort(), epmd: await freePort() };
    const server = new RabbitMqServer(dir, ports);
    await server.writeConfig();
    await server.launch();
    return server;
  }

  async writeConfig() {
    await writeFile(path.join(this.dir, '.erlang.cookie'), `HEAVYLIFTE2E${this.port}`, { mode: 0o400 });
    await writeFile(path.join(this.dir, 'enabled_plugins'), '[].\n');
    await writeFile(path.join(this.dir, 'rabbitmq-env.conf'), '');
    await writeFile(
      path.join(this.dir, 'rabbitmq.conf'),
      [
        'listeners.tcp.default = 127.0.0.1:' + this.port,
        'loopback_users.guest = true',
        // A test machine's disk is shared and may be nearly full; the
        // default 50 MB free-disk alarm would block publishers.
        'disk_free_limit.absolute = 1MB',
        'vm_memory_high_watermark.relative = 0.8',
        'log.console = true',
        'log.console.level = warning',
        'log.file = false',
        '',
      ].join('\n'),
    );
  }

  environment() {
    return {
      ...process.env,
      HOME: this.dir,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      ERL_EPMD_PORT: String(this.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_CONFIG_FILE: path.join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_CONF_ENV_FILE: path.join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: path.join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(this.dir, 'log'),
      RABBITMQ_PID_FILE: path.join(this.dir, 'rabbitmq.pid'),
      RABBITMQ_LOGS: '-',
      // One scheduler thread per core is plenty for tests and starts faster.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '+S 2:2 +sbwt none',
    };
  }

  async launch() {
    this.output = '';
    this.process = spawn(path.join(RABBITMQ_BIN_DIR, 'rabbitmq-server'), [], {
      cwd: this.dir,
      env: this.environment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-16384);
    };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    await waitForPort(this.port, START_TIMEOUT_MS, () => `rabbitmq-server output:\n${this.output}`);
    await this.waitForHandshake();
  }

  // The broker accepts TCP connections before it finishes booting and closes
  // them during the AMQP handshake until then, so readiness is a handshake
  // that completes.
  async waitForHandshake() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        const connection = await amqplib.connect(this.url);
        await connection.close();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`rabbitmq-server did not complete an AMQP handshake within ${START_TIMEOUT_MS} ms: ${error.message}\nrabbitmq-server output:\n${this.output}`);
        }
        await sleep(100);
      }
    }
  }

  /** Stops the broker with SIGTERM (a clean shutdown that keeps durable data) and waits for its exit. */
  async shutdown() {
    await this.signal('SIGTERM');
  }

  /** Stops the broker and starts it again on the same ports and data directory. */
  async restart() {
    await this.shutdown();
    await this.launch();
  }

  async signal(name) {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(name);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the broker and its epmd, and removes its directory. */
  async stop() {
    await this.shutdown();
    // The broker started an epmd daemon of its own (it inherited HOME=dir);
    // `epmd -kill` refuses while a node is still registered, so the daemon
    // is found by its environment and ended directly.
    for (const pid of await processesWithHome(this.dir)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // It exited meanwhile.
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

// Returns the ids of this user's processes whose environment has HOME=`home`.
async function processesWithHome(home) {
  const pids = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environment = await readFile(`/proc/${entry}/environ`, 'latin1');
      if (environment.split('\0').includes(`HOME=${home}`)) pids.push(Number(entry));
    } catch {
      // Gone, or another user's process.
    }
  }
  return pids;
}

/**
 * Starts a broker before the tests of the enclosing `describe`. Returns an
 * object whose `broker` is set once the hook ran. node:test runs `after`
 * hooks in the order they were registered, so the caller stops the broker
 * with `running.broker?.stop()` in its own last `after` hook, once the
 * daemon and the clients that use it are gone.
 */
export function useRabbitMq() {
  const running = { broker: undefined };
  before(async () => {
    running.broker = await RabbitMqServer.start();
  });
  return running;
}

/**
 * Takes messages from `queue` with basic.get until `predicate` accepts one or
 * `timeoutMs` passes; acknowledges every message taken. Resolves with the
 * accepted message, or rejects naming the queue and what was seen.
 */
export async function takeFromQueue(channel, queue, predicate, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  const seen = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message) {
      if (predicate(message)) return message;
      seen.push(message.properties.messageId);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`no matching message in ${queue} after ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
