// Generates TypeScript message types and grpc-js service definitions into
// src/gen/ with ts-proto, from the daemon's contract in ../../proto and the
// health checking protocol in ./proto. Set PROTOC to use another protoc.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const contractRoot = join(packageRoot, '..', '..', 'proto');
const localRoot = join(packageRoot, 'proto');
const outDir = join(packageRoot, 'src', 'gen');
const plugin = join(packageRoot, 'node_modules', '.bin', 'protoc-gen-ts_proto');
const protoc = process.env.PROTOC || 'protoc';

function listProtoFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      files.push(...listProtoFiles(path));
    } else if (entry.name.endsWith('.proto')) {
      files.push(path);
    }
  }
  return files.sort();
}

const options = [
  'outputServices=grpc-js',
  'env=node',
  'esModuleInterop=true',
  'oneof=unions',
  // JSON methods convert requests and results to and from the proto3 JSON
  // that queue jobs carry (src/jobs.ts).
  'outputJsonMethods=true',
];

const inputs = [
  ...listProtoFiles(contractRoot).map((file) => relative(contractRoot, file)),
  ...listProtoFiles(localRoot).map((file) => relative(localRoot, file)),
];

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const result = spawnSync(
  protoc,
  [
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${outDir}`,
    `--ts_proto_opt=${options.join(',')}`,
    `--proto_path=${contractRoot}`,
    `--proto_path=${localRoot}`,
    ...inputs,
  ],
  { stdio: 'inherit' },
);

if (result.error) {
  console.error(`Failed to run ${protoc}: ${result.error.message}. Install protoc or set PROTOC to its path.`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`${protoc} exited with status ${result.status}; src/gen/ is incomplete.`);
  process.exit(result.status ?? 1);
}
console.log(`Generated ${inputs.length} proto files into ${relative(packageRoot, outDir)}/`);
