/**
 * Helpers for tests that run the real heavylift daemon, imported as `heavylift/testing`.
 *
 * @packageDocumentation
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';

import { checkKnownKeys, checkOptionsObject, optionNames } from './validate';

/** Options of {@link startDaemon}. */
export interface StartDaemonOptions {
  /**
   * Path of the daemon binary. Default: the `HEAVYLIFT_BIN` environment variable, else
   * `build/release/heavylift` in the heavylift repository that contains this package.
   */
  bin?: string;
  /**
   * Command-line arguments. `--grpc-address 127.0.0.1:0` and `--http-address 127.0.0.1:0` are
   * added unless these set the flag, so the daemon listens on free loopback ports. Default: `[]`.
   */
  args?: readonly string[];
  /** Environment variables of the daemon, merged over this process's environment. Default: `{}`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Maximum time in milliseconds to wait for the daemon's `server.listening` log line. Default: `15000`. */
  timeoutMs?: number;
}

/** Exit status of a daemon process: its exit code, or the signal that ended it. */
export interface DaemonExit {
  /** Exit code, or `null` when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process, or `null` when it exited by itself. */
  signal: NodeJS.Signals | null;
}

/** A running daemon started by {@link startDaemon}. */
export interface RunningDaemon {
  /** The gRPC address the daemon listens on, as `HOST:PORT`. Pass it to `createClient({ address })`. */
  grpcAddress: string;
  /** The HTTP address (health and metrics) the daemon listens on, as `HOST:PORT`. */
  httpAddress: string;
  /** The daemon's process. */
  process: ChildProcess;
  /** Returns the daemon's stderr and stdout so far, in arrival order (the last 1 MiB). */
  logs(): string;
  /**
   * Resolves with the first log line, logged before or after this call, that contains
   * `pattern` (a string) or matches it (a RegExp). Rejects with the logs when no such line
   * arrives within `timeoutMs` (default 5000) or when the daemon exits first.
   */
  waitForLog(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /**
   * Sends `signal` to the daemon and resolves with its exit once it has exited and its output
   * has been read, so `logs()` is complete. When it has not exited after `timeoutMs`, sends
   * SIGKILL and rejects with its logs. Resolves at once if the daemon already exited.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<DaemonExit>;
}

const START_DAEMON_OPTION_NAMES = optionNames<StartDaemonOptions>({ bin: true, args: true, env: true, timeoutMs: true });

const MAX_LOG_CHARS = 1024 * 1024;
const MAX_KEPT_LINES = 10_000;
const DEFAULT_WAIT_FOR_LOG_MS = 5_000;
const DEFAULT_START_TIMEOUT_MS = 15_000;
const DEFAULT_STOP_TIMEOUT_MS = 15_000;
const LISTENING_EVENT = 'event=server.listening';

/** Returns the daemon binary that {@link startDaemon} runs when `bin` is not given. */
export function defaultDaemonBinary(): string {
  const fromEnv = process.env.HEAVYLIFT_BIN;
  if (fromEnv) {
    return fromEnv;
  }
  // This file is compiled to <repository>/sdk/node/dist/testing.js.
  const packageRoot = resolve(__dirname, '..');
  return resolve(packageRoot, '..', '..', 'build', 'release', 'heavylift');
}

/** Returns the value of `key` in a logfmt line, written as `key=value` or `key="value"`. */
function logField(line: string, key: string): string | undefined {
  const match = new RegExp(`(?:^|\\s)${key}="?([^\\s"]+)`).exec(line);
  return match?.[1];
}

function hasFlag(args: readonly string[], flag: string): boolean {
  return args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}

function describeExit(exit: DaemonExit): string {
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

/**
 * Starts the heavylift daemon on free loopback ports and resolves once it logs
 * `event=server.listening`, with the addresses from that line.
 *
 * Rejects with an InvalidArgumentError for an option that {@link StartDaemonOptions} lacks.
 * Rejects when the binary is missing, when the daemon exits first, or when `timeoutMs` passes
 * first, with an error that includes the daemon's output. A test must stop every daemon it
 * starts, for example in `after(() => daemon.stop())`. As a safeguard, a daemon still running
 * when this process exits receives SIGKILL.
 *
 * @example
 * const daemon = await startDaemon({ args: ['--blob-root', dir] });
 * after(() => daemon.stop());
 * const client = createClient({ address: daemon.grpcAddress });
 */
export function startDaemon(options: StartDaemonOptions = {}): Promise<RunningDaemon> {
  try {
    checkKnownKeys(checkOptionsObject(options, 'options'), 'options', START_DAEMON_OPTION_NAMES);
  } catch (error) {
    return Promise.reject(error);
  }
  const bin = options.bin ?? defaultDaemonBinary();
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const args = [...(options.args ?? [])];
  if (!hasFlag(args, '--grpc-address')) {
    args.push('--grpc-address', '127.0.0.1:0');
  }
  if (!hasFlag(args, '--http-address')) {
    args.push('--http-address', '127.0.0.1:0');
  }

  try {
    accessSync(bin, constants.X_OK);
  } catch (error) {
    return Promise.reject(
      new Error(
        `heavylift daemon binary not found or not executable at ${bin} (${(error as Error).message}). ` +
          'Build it with `make build` in the repository root, or set HEAVYLIFT_BIN to its path.',
        { cause: error },
      ),
    );
  }

  const child = spawn(bin, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let output = '';
  // Complete lines of both streams, for waitForLog.
  const lines: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  let exit: DaemonExit | undefined;
  const exited = new Promise<DaemonExit>((resolveExit) => {
    // 'close' comes after 'exit' once both output pipes are read to the end, so logs() then
    // contains every line the daemon wrote.
    child.once('close', (code, signal) => {
      exit = { code, signal };
      resolveExit(exit);
    });
  });

  const killOnParentExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnParentExit);
  void exited.then(() => process.removeListener('exit', killOnParentExit));

  const logs = (): string => output;
  const commandLine = [bin, ...args].join(' ');

  const waitForLog = (pattern: string | RegExp, waitTimeoutMs = DEFAULT_WAIT_FOR_LOG_MS): Promise<string> => {
    const matches = (line: string): boolean => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    const logged = lines.find(matches);
    if (logged !== undefined) {
      return Promise.resolve(logged);
    }

    return new Promise<string>((resolveLine, rejectLine) => {
      const finish = (error: Error | undefined, line?: string): void => {
        clearTimeout(timer);
        lineListeners.delete(onLine);
        if (error) {
          rejectLine(error);
        } else {
          resolveLine(line!);
        }
      };
      const onLine = (line: string): void => {
        if (matches(line)) {
          finish(undefined, line);
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`heavylift daemon logged no line matching ${String(pattern)} within ${waitTimeoutMs} ms. Its output:\n${output}`)),
        waitTimeoutMs,
      );
      lineListeners.add(onLine);
      void exited.then((exitInfo) =>
        finish(new Error(`heavylift daemon exited with ${describeExit(exitInfo)} before logging a line matching ${String(pattern)}. Its output:\n${output}`)),
      );
    });
  };

  return new Promise<RunningDaemon>((resolveStart, rejectStart) => {
    let started = false;
    // Text after the last newline of each stream, kept until its line is complete.
    const partialLines = { stdout: '', stderr: '' };
    let timer: NodeJS.Timeout | undefined;

    const fail = (reason: string, cause?: unknown): void => {
      if (started) {
        return;
      }
      started = true;
      clearTimeout(timer);
      if (exit === undefined) {
        child.kill('SIGKILL');
      }
      rejectStart(new Error(`heavylift daemon (${commandLine}) ${reason}. Its output:\n${output || '(none)'}`, { cause }));
    };

    const onLine = (line: string): void => {
      if (started || !line.includes(LISTENING_EVENT)) {
        return;
      }
      const grpcAddress = logField(line, 'grpc_address');
      const httpAddress = logField(line, 'http_address');
      if (grpcAddress === undefined || httpAddress === undefined) {
        fail(`logged ${LISTENING_EVENT} without grpc_address and http_address: ${line}`);
        return;
      }
      started = true;
      clearTimeout(timer);
      resolveStart({ grpcAddress, httpAddress, process: child, logs, waitForLog, stop });
    };

    const onData = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      if (output.length > MAX_LOG_CHARS) {
        output = output.slice(output.length - MAX_LOG_CHARS);
      }
      const newLines = (partialLines[stream] + text).split('\n');
      partialLines[stream] = newLines.pop() ?? '';
      for (const line of newLines) {
        lines.push(line);
        if (lines.length > MAX_KEPT_LINES) {
          lines.shift();
        }
        onLine(line);
        lineListeners.forEach((listener) => listener(line));
      }
    };

    // Both streams are read for the whole life of the process, because a full pipe would
    // block the daemon's logger.
    child.stdout.on('data', (chunk: Buffer) => onData('stdout', chunk));
    child.stderr.on('data', (chunk: Buffer) => onData('stderr', chunk));

    child.once('error', (error) => fail(`failed to start: ${error.message}`, error));
    void exited.then((exitInfo) => fail(`exited with ${describeExit(exitInfo)} before logging ${LISTENING_EVENT}`));

    timer = setTimeout(() => fail(`did not log ${LISTENING_EVENT} within ${timeoutMs} ms`), timeoutMs);
  });

  async function stop(signal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<DaemonExit> {
    if (exit !== undefined) {
      return exit;
    }
    child.kill(signal);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout('timeout'), stopTimeoutMs);
    });
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome !== 'timeout') {
      return outcome;
    }

    child.kill('SIGKILL');
    await exited;
    throw new Error(
      `heavylift daemon did not exit within ${stopTimeoutMs} ms of ${signal}, so it was sent SIGKILL. Its output:\n${output}`,
    );
  }
}
