// Builds custom heavylift daemons for the custom-task tests: a CMake project
// configured against the heavylift build tree of the daemon under test, with
// ccache and a build directory kept under build/e2e-custom-task/, so a rerun
// only recompiles what changed. Also generates message types with heavylift-gen.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { DAEMON_BIN, REPO_ROOT } from '../lib/helpers.mjs';

const run = promisify(execFile);

/** How long one configure plus build may take; the first build compiles a few files and links. */
export const BUILD_TIMEOUT_MS = 240_000;

/** The heavylift build tree that holds DAEMON_BIN and its CMake package. */
export function heavyliftBuildDir() {
  const dir = path.dirname(DAEMON_BIN);
  if (!existsSync(path.join(dir, 'heavylift-config.cmake'))) {
    throw new Error(`${dir} has no heavylift-config.cmake; build heavylift there first (make build)`);
  }
  return dir;
}

/** A directory under build/e2e-custom-task/ for the daemon under test (release or asan). */
export function workDir(name) {
  return path.join(REPO_ROOT, 'build', 'e2e-custom-task', path.basename(heavyliftBuildDir()), name);
}

async function runLogged(command, args, options) {
  try {
    return await run(command, args, { maxBuffer: 64 * 1024 * 1024, timeout: BUILD_TIMEOUT_MS, ...options });
  } catch (error) {
    error.message = `${command} ${args.join(' ')} failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`;
    throw error;
  }
}

/** Configures `sourceDir` into `buildDir` against heavylift's build tree, builds `target`, and returns its path. */
export async function buildDaemon(sourceDir, buildDir, target) {
  const args = ['-S', sourceDir, '-B', buildDir, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    `-Dheavylift_DIR=${heavyliftBuildDir()}`];
  if (existsSync('/usr/bin/ccache')) args.push('-DCMAKE_CXX_COMPILER_LAUNCHER=ccache');
  await runLogged('cmake', args);
  await runLogged('cmake', ['--build', buildDir, '-j', '2', '--target', target]);
  return path.join(buildDir, target);
}

/**
 * Generates ES module message types from `protoFiles` (under `protoPath`, one directory or
 * several) with heavylift-gen
 * into `outDir`, which must lie under tests/e2e so the modules resolve @bufbuild/protobuf.
 * `tasks` ("name=Request:Response" each) also writes heavylift-tasks.js.
 */
export async function generateTypes(protoPath, protoFiles, outDir, tasks = []) {
  await mkdir(outDir, { recursive: true });
  const generator = path.join(REPO_ROOT, 'sdk', 'node', 'scripts', 'heavylift-gen.mjs');
  const protoPaths = [protoPath].flat().flatMap((dir) => ['--proto-path', dir]);
  await runLogged(process.execPath, [generator, ...protoPaths, '--out', outDir, '--js',
    ...tasks.flatMap((task) => ['--task', task]), ...protoFiles]);
}

/** Where generated modules go: tests/e2e/custom-task/gen/<flavor>/<name> (ignored by git). */
export function genDir(name) {
  return path.join(REPO_ROOT, 'tests', 'e2e', 'custom-task', 'gen', path.basename(heavyliftBuildDir()), name);
}

/** Returns the Prometheus sample value of `name{labels}` in `text`, or undefined. */
export function metricValue(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
