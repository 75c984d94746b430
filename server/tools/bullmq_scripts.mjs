#!/usr/bin/env node
// Generates the C++ source of the BullMQ Lua scripts the heavylift worker runs,
// from the pinned `bullmq` npm package, and checks each script's KEYS and ARGV
// against the committed per-version table.
//
// Each module in <package>/dist/cjs/scripts/<name>-<keys>.js exports
// { name, content, keys }, where content is the Lua source with its includes
// resolved. The header comment of every script lists its inputs as
// "KEYS[n] description" and "ARGV[n] description" lines; the table stores the
// same descriptions, plus the key role the worker fills in for each KEYS slot.
//
// Usage:
//   node bullmq_scripts.mjs --package DIR --table FILE --output FILE
//       Checks the table against the package and writes the C++ header.
//   node bullmq_scripts.mjs --package DIR --table FILE --draft
//       Prints a table for the package's version, reusing the roles of the
//       current table, as the starting point of an upgrade.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

function parseArguments(argv) {
  const options = { draft: false };
  for (let i = 2; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--draft') options.draft = true;
    else if (flag === '--package') options.packageDir = argv[++i];
    else if (flag === '--table') options.table = argv[++i];
    else if (flag === '--output') options.output = argv[++i];
    else fail(`unknown argument ${flag}`);
  }
  if (!options.packageDir || !options.table || (!options.draft && !options.output)) {
    fail('usage: bullmq_scripts.mjs --package DIR --table FILE (--output FILE | --draft)');
  }
  return options;
}

function fail(message) {
  process.stderr.write(`bullmq_scripts: ${message}\n`);
  process.exit(1);
}

// Reduces a header description to the words that identify it, so that
// "KEYS[1] 'lock'," and "KEYS[1] = stalled key" compare by their text.
function normalize(text) {
  return text.replace(/^[\s=]+/, '').replace(/['",]/g, '').replace(/\s+/g, ' ').trim();
}

// Reads the "KEYS[n] ..." and "ARGV[n] ..." lines of the script's header
// comment, the first --[[ ... ]] block.
function readHeader(content) {
  const end = content.indexOf(']]');
  const header = end > 0 ? content.slice(0, end) : '';
  const keys = [];
  const args = [];
  for (const line of header.split('\n')) {
    const match = /^\s*(KEYS|ARGV)\[(\d+)\]\s*(.*)$/.exec(line);
    if (!match) continue;
    const list = match[1] === 'KEYS' ? keys : args;
    list[Number(match[2]) - 1] = normalize(match[3]);
  }
  return { keys, args };
}

function loadPackage(packageDir) {
  const packageJson = join(packageDir, 'package.json');
  if (!existsSync(packageJson)) {
    fail(`${packageJson} not found: run "npm ci" in sdk/node (make deps) first`);
  }
  const version = JSON.parse(readFileSync(packageJson, 'utf8')).version;
  const scriptsDir = join(packageDir, 'dist', 'cjs', 'scripts');
  const require = createRequire(join(scriptsDir, 'index.js'));
  const scripts = new Map();
  for (const file of readdirSync(scriptsDir)) {
    if (!/^[A-Za-z]+-\d+\.js$/.test(file)) continue;
    const module = require(join(scriptsDir, file));
    for (const script of Object.values(module)) {
      if (script && typeof script.content === 'string') scripts.set(script.name, script);
    }
  }
  return { version, scripts };
}

// Compares the table with the package and returns the list of differences.
function compare(table, pkg) {
  const problems = [];
  if (table.bullmq !== pkg.version) {
    problems.push(`the table is for bullmq ${table.bullmq} but the package is ${pkg.version}`);
  }
  for (const [name, entry] of Object.entries(table.scripts)) {
    const script = pkg.scripts.get(name);
    if (!script) {
      problems.push(`${name}: no such script in bullmq ${pkg.version}`);
      continue;
    }
    const header = readHeader(script.content);
    if (script.keys !== entry.keys.length) {
      problems.push(`${name}: the package passes ${script.keys} keys, the table lists ${entry.keys.length}`);
    }
    entry.keys.forEach(([, description], i) => {
      if (header.keys[i] !== undefined && header.keys[i] !== normalize(description)) {
        problems.push(`${name}: KEYS[${i + 1}] is "${header.keys[i]}" in the package, "${description}" in the table`);
      }
    });
    const argCount = Math.max(header.args.length, entry.args.length);
    for (let i = 0; i < argCount; i++) {
      if (header.args[i] !== normalize(entry.args[i] ?? '')) {
        problems.push(`${name}: ARGV[${i + 1}] is "${header.args[i] ?? '(none)'}" in the package, "${entry.args[i] ?? '(none)'}" in the table`);
      }
    }
  }
  return problems;
}

function draft(table, pkg) {
  const scripts = {};
  for (const [name, entry] of Object.entries(table.scripts)) {
    const script = pkg.scripts.get(name);
    if (!script) continue;
    const header = readHeader(script.content);
    const keys = [];
    for (let i = 0; i < script.keys; i++) {
      const description = header.keys[i] ?? '';
      const previous = entry.keys.find(([, old]) => normalize(old) === description);
      keys.push([previous ? previous[0] : 'ROLE?', description]);
    }
    scripts[name] = { keys, args: header.args.map(a => a ?? '') };
  }
  return { bullmq: pkg.version, scripts };
}

function cppString(text) {
  // A raw string literal whose delimiter does not occur in Lua sources.
  if (text.includes(')lua"')) fail('a script contains the raw string delimiter )lua"');
  return `R"lua(${text})lua"`;
}

function render(table, pkg) {
  const lines = [
    '// Generated by server/tools/bullmq_scripts.mjs from the bullmq npm package.',
    '// Do not edit: the build regenerates it.',
    '#pragma once',
    '',
    '#include <array>',
    '#include <string_view>',
    '',
    'namespace heavylift::bullmq::generated {',
    '',
    `inline constexpr std::string_view kBullmqVersion = "${pkg.version}";`,
    '',
  ];
  const names = Object.keys(table.scripts);
  for (const name of names) {
    const script = pkg.scripts.get(name);
    const sha1 = createHash('sha1').update(script.content).digest('hex');
    const roles = table.scripts[name].keys.map(([role]) => `"${role}"`).join(', ');
    lines.push(`inline constexpr std::string_view k${name[0].toUpperCase()}${name.slice(1)}Source = ${cppString(script.content)};`);
    lines.push(`inline constexpr std::array<std::string_view, ${script.keys}> k${name[0].toUpperCase()}${name.slice(1)}Keys = {${roles}};`);
    lines.push(`inline constexpr std::string_view k${name[0].toUpperCase()}${name.slice(1)}Sha1 = "${sha1}";`);
    lines.push('');
  }
  lines.push('}  // namespace heavylift::bullmq::generated', '');
  return lines.join('\n');
}

const options = parseArguments(process.argv);
const table = JSON.parse(readFileSync(options.table, 'utf8'));
const pkg = loadPackage(resolve(options.packageDir));
if (options.draft) {
  process.stdout.write(JSON.stringify(draft(table, pkg), null, 2) + '\n');
  process.exit(0);
}
const problems = compare(table, pkg);
if (problems.length > 0) {
  fail(`the script table ${options.table} does not match the installed bullmq ${pkg.version}:\n  ` +
       problems.join('\n  ') +
       '\nSee docs/bullmq.md, "Moving to a newer bullmq".');
}
mkdirSync(dirname(options.output), { recursive: true });
writeFileSync(options.output, render(table, pkg));
