#!/usr/bin/env node
// heavylift-gen: generates TypeScript message types from a team's own .proto
// files with ts-proto, for client.task(name, request, { requestType,
// responseType }). With --js it also writes an ES module .js file next to
// each .ts file, for apps that run plain JavaScript.
//
//   heavylift-gen --proto-path proto --out src/gen [--js]
//                 [--task catalog.search=SearchRequest:SearchResponse ...] proto/catalog/v1/catalog.proto ...
//
// Each --task names a task registered in the daemon and its request and
// response messages (short or full names). With at least one, it also writes
// heavylift-tasks.ts: the proto3 JSON types of the requests, `taskTypes`
// (the message types of each task, for client.task) and `tasks` (for
// createJobs({ tasks }), which checks and types enqueued requests).
//
// Set PROTOC to use another protoc.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describeProtos, jsonTypeDeclarations, jsonTypeName, registryOf } from './proto-json.mjs';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: heavylift-gen --proto-path DIR [--proto-path DIR ...] --out DIR [--js] [--task NAME=REQUEST:RESPONSE ...] FILE.proto ...';

function fail(message) {
  console.error(`heavylift-gen: ${message}`);
  process.exit(2);
}

const protoPaths = [];
const files = [];
let outDir;
let emitJs = false;
const taskSpecs = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--proto-path' || arg === '--out') {
    const value = args[++i];
    if (value === undefined) fail(`${arg} needs a directory\n${usage}`);
    if (arg === '--out') outDir = resolve(value);
    else protoPaths.push(resolve(value));
  } else if (arg === '--task') {
    const value = args[++i];
    const match = /^([A-Za-z0-9_.-]{1,128})=([A-Za-z0-9_.]+):([A-Za-z0-9_.]+)$/.exec(value ?? '');
    if (match === null) fail(`--task needs NAME=REQUEST:RESPONSE, such as catalog.search=SearchRequest:SearchResponse; got ${value}\n${usage}`);
    taskSpecs.push({ name: match[1], request: match[2], response: match[3] });
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

// Finds a message of the given files by full or short name.
function findMessage(registry, fileNames, name, what, task) {
  const full = registry.getMessage(name);
  if (full !== undefined) return full;
  const matches = [];
  for (const file of registry.files) {
    if (!fileNames.has(file.name)) continue;
    const visit = (messages) => {
      for (const message of messages) {
        if (message.name === name || message.typeName.endsWith(`.${name}`)) matches.push(message);
        visit(message.nestedMessages);
      }
    };
    visit(file.messages);
  }
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) fail(`--task ${task}: no ${what} message named ${name} in the given .proto files`);
  fail(`--task ${task}: ${what} message ${name} is ambiguous (${matches.map((m) => m.typeName).join(', ')}); use its full name`);
}

function writeTaskModule() {
  let descriptorSet;
  try {
    descriptorSet = describeProtos(protoc, protoPaths, files);
  } catch (error) {
    fail(error.message);
  }
  const registry = registryOf(descriptorSet);
  const fileNames = new Set(files.map((file) => {
    const root = protoPaths.find((path) => file.startsWith(path + '/'));
    return relative(root ?? process.cwd(), file).replace(/\.proto$/, '');
  }));
  const modules = new Map();
  const moduleOf = (desc) => {
    const alias = desc.file.name.replace(/[^A-Za-z0-9_]/g, '_');
    modules.set(alias, `./${desc.file.name}.js`);
    const local = desc.file.proto.package ? desc.typeName.slice(desc.file.proto.package.length + 1) : desc.typeName;
    return `${alias}.${local.replaceAll('.', '_')}`;
  };
  const tasks = taskSpecs.map((spec) => {
    const label = `${spec.name}=${spec.request}:${spec.response}`;
    const request = findMessage(registry, fileNames, spec.request, 'request', label);
    const response = findMessage(registry, fileNames, spec.response, 'response', label);
    return { name: spec.name, request, response, requestType: moduleOf(request), responseType: moduleOf(response) };
  });
  const quote = JSON.stringify;
  const text = [
    `// Generated by heavylift-gen. Do not edit.`,
    `import type { TaskSet } from 'heavylift';`,
    ...[...modules].map(([alias, path]) => `import * as ${alias} from ${quote(path)};`),
    '',
    jsonTypeDeclarations(tasks.map((task) => task.request)),
    '',
    `/** Each task's request as proto3 JSON (what a job carries), as a message, and its result. */`,
    `export interface Tasks {`,
    ...tasks.map((task) => `  ${quote(task.name)}: { request: ${jsonTypeName(task.request)}; message: ${task.requestType}; result: ${task.responseType} };`),
    `}`,
    '',
    `/** The message types of each task: client.task(name, request, { ...taskTypes[name], deadlineMs }). */`,
    `export const taskTypes = {`,
    ...tasks.map((task) => `  ${quote(task.name)}: { requestMessage: ${quote(task.request.typeName)}, requestType: ${task.requestType}, responseType: ${task.responseType} },`),
    `};`,
    '',
    `/** The tasks with their descriptors, for createJobs({ connection, tasks }). */`,
    `export const tasks: TaskSet<Tasks> = {`,
    `  descriptorSet: ${quote(descriptorSet.toString('base64'))},`,
    `  types: taskTypes,`,
    `};`,
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'heavylift-tasks.ts'), text);
}

if (taskSpecs.length > 0) writeTaskModule();

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
