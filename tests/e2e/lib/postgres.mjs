// A real PostgreSQL 15 server for the tests: a fresh cluster made by initdb
// in a temp directory, started on a free loopback port, stopped and removed
// by the test. The tests run as root and PostgreSQL refuses to run as root,
// so under root the cluster belongs to the `postgres` system user and both
// initdb and postgres run through runuser.
import { spawn, execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { freePort, waitForPort } from './redis.mjs';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_USER = process.env.PG_SERVER_USER ?? 'postgres';
const START_TIMEOUT_MS = 20_000;
const run = promisify(execFile);

// Runs `command` as PG_USER when this process is root.
function asServerUser(command, args) {
  if (process.getuid?.() !== 0) return [command, args];
  return ['runuser', ['-u', PG_USER, '--', command, ...args]];
}

async function serverUserIds() {
  const { stdout } = await run('id', ['-u', PG_USER]);
  const { stdout: group } = await run('id', ['-g', PG_USER]);
  return [Number(stdout.trim()), Number(group.trim())];
}

/**
 * A postgres process. `url` is a postgresql:// URI for the superuser
 * `postgres` with trust authentication, valid for loopback only.
 */
export class PostgresServer {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    this.process = undefined;
    this.output = '';
  }

  /** Creates a cluster in a temp directory and starts postgres on a free port. */
  static async start() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-postgres-'));
    if (process.getuid?.() === 0) {
      const [uid, gid] = await serverUserIds();
      await chown(dir, uid, gid);
    }
    await chmod(dir, 0o700);
    const data = path.join(dir, 'data');
    const [initdb, initArgs] = asServerUser(path.join(PG_BIN, 'initdb'), [
      '-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync',
    ]);
    await run(initdb, initArgs);
    const server = new PostgresServer(await freePort(), dir);
    await server.launch();
    return server;
  }

  async launch() {
    const [postgres, args] = asServerUser(path.join(PG_BIN, 'postgres'), [
      '-D', path.join(this.dir, 'data'),
      '-h', '127.0.0.1',
      '-p', String(this.port),
      '-k', this.dir,
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
    ]);
    this.process = spawn(postgres, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-8192);
    };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    await waitForPort(this.port, START_TIMEOUT_MS, () => `postgres output:\n${this.output}`);
    // The port opens before the server accepts queries; pg_isready waits for that.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await run(path.join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres']);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`postgres is not ready: ${error.message}\n${this.output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Stops postgres with a fast shutdown, waits for it and removes the cluster. */
  async stop() {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // runuser does not forward signals, so the postmaster (whose pid is the
      // first line of postmaster.pid) gets SIGINT, its fast shutdown.
      const pidFile = await readFile(path.join(this.dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
      const pid = Number(pidFile.split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGINT');
      else child.kill('SIGINT');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
