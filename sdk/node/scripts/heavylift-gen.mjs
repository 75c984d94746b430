#!/usr/bin/env node
// heavylift-gen: generates TypeScript message types from a team's own .proto
// files with ts-proto, for client.task(name, request, { requestType,
// responseType }). With --js it also writes an ES module .js file next to
// each .ts file, for apps that run plain JavaScript.
//
//   heavylift-gen --proto-path proto --out src/gen [--js] proto/catalog/v1/catalog.proto ...
//
// Set PROTOC to use another protoc.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: heavylift-gen --proto-path DIR [--proto-path DIR ...] --out DIR [--js] FILE.proto ...';

function fail(message) {
  console.error(`heavylift-gen: ${message}`);
  process.exit(2);
}

const protoPaths = [];
const files = [];
let outDir;
let emitJs = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--proto-path' || arg === '--out') {
    const value = args[++i];
    if (value === undefined) fail(`${arg} needs a directory\n${usage}`);
    if (arg === '--out') outDir = resolve(value);
    else protoPaths.push(resolve(value));
  } else if (arg === '--js') {
    emitJs = true;
  } else if (arg === '--help' || arg === '-h') {
    console.log(usage);
    process.exit(0);
  } else if (arg.startsWith('-')) {
    fail(`unknown option ${arg}\n${usage}`);
  } else {
    files.push(resolve(arg));
  }
}
if (outDir === undefined || files.length === 0) fail(usage);
if (protoPaths.length === 0) protoPaths.push(process.cwd());

// ts-proto is a dependency of this package, so the plugin is found next to it.
const require = createRequire(import.meta.url);
let plugin;
try {
  plugin = join(dirname(require.resolve('ts-proto/package.json')), 'protoc-gen-ts_proto');
} catch {
  plugin = join(packageRoot, 'node_modules', '.bin', 'protoc-gen-ts_proto');
}

const options = [
  'env=node',
  'esModuleInterop=true',
  'oneof=unions',
  'outputServices=false',
  // toJSON() gives the proto3 JSON that the queue workers accept as job data.
  'outputJsonMethods=true',
  'importSuffix=.js',
];
mkdirSync(outDir, { recursive: true });
const protoc = process.env.PROTOC || 'protoc';
const result = spawnSync(
  protoc,
  [
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${outDir}`,
    `--ts_proto_opt=${options.join(',')}`,
    ...protoPaths.map((path) => `--proto_path=${path}`),
    ...files,
  ],
  { stdio: 'inherit' },
);
if (result.error) fail(`failed to run ${protoc}: ${result.error.message}; install protoc or set PROTOC`);
if (result.status !== 0) fail(`${protoc} exited with status ${result.status}`);

function listTs(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listTs(join(dir, entry.name)) : entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [join(dir, entry.name)] : [],
  );
}

const generated = listTs(outDir);
if (emitJs) {
  const ts = require('typescript');
  for (const file of generated) {
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: file,
    });
    writeFileSync(file.replace(/\.ts$/, '.js'), output.outputText);
  }
  // Marks the .js files as ES modules whatever the enclosing package declares.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
}
console.log(`heavylift-gen: wrote ${generated.length} file(s)${emitJs ? ' (.ts and .js)' : ''} into ${relative(process.cwd(), outDir) || '.'}`);
