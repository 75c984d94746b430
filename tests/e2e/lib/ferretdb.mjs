// A real FerretDB 1.24 server (MongoDB wire protocol) for the tests, with its
// SQLite backend in a temp directory, on a free loopback port.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { REPO_ROOT } from './helpers.mjs';
import { freePort, waitForPort } from './redis.mjs';

export const FERRETDB_BIN = process.env.FERRETDB_BIN ?? path.join(REPO_ROOT, 'build', 'tools', 'ferretdb');
const START_TIMEOUT_MS = 20_000;

/** A ferretdb process. `url` is its mongodb:// URI. */
export class FerretServer {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.url = `mongodb://127.0.0.1:${port}/`;
    this.process = undefined;
    this.output = '';
  }

  /** Starts FerretDB with the SQLite backend on a free port. */
  static async start() {
    if (!existsSync(FERRETDB_BIN)) throw new Error(`FerretDB is not built at ${FERRETDB_BIN}; run make deps`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'heavylift-ferretdb-'));
    const server = new FerretServer(await freePort(), dir);
    server.process = spawn(
      FERRETDB_BIN,
      [
        `--listen-addr=127.0.0.1:${server.port}`,
        '--handler=sqlite',
        `--sqlite-url=file:${dir}/`,
        // FerretDB writes its state file to the working directory unless told.
        `--state-dir=${dir}`,
        '--telemetry=disable',
        '--log-level=warn',
        '--debug-addr=-',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk) => {
      server.output = (server.output + chunk.toString()).slice(-8192);
    };
    server.process.stdout.on('data', keep);
    server.process.stderr.on('data', keep);
    // Poll the port until it opens, failing at once if the process exits.
    const deadline = Date.now() + START_TIMEOUT_MS;
    try {
      for (;;) {
        if (server.process.exitCode !== null) {
          throw new Error(`ferretdb exited with code ${server.process.exitCode} before listening:\n${server.output}`);
        }
        try {
          await waitForPort(server.port, 100);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`${error.message} ferretdb output:\n${server.output}`);
        }
      }
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  async stop() {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
