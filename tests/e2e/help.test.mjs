// `heavylift --help` documents every flag with its unit or default.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { DAEMON_BIN } from './lib/helpers.mjs';

// Each flag with the patterns its help entry must contain: the default value
// or the unit that the value is given in.
const DOCUMENTED_FLAGS = [
  { flag: '--grpc-address', patterns: [/127\.0\.0\.1:50051/] },
  { flag: '--http-address', patterns: [/127\.0\.0\.1:9464/] },
  { flag: '--blob-root', patterns: [/dir|directory|path/i] },
  { flag: '--image-max-input-pixels', patterns: [/pixel/i, /100000000|100,000,000|1e8/] },
  { flag: '--crypto-argon2-max-memory-cost', patterns: [/KiB/, /262144/] },
  { flag: '--executor-threads', patterns: [/thread/i] },
  { flag: '--executor-queue-capacity', patterns: [/\d|default/i] },
  { flag: '--shutdown-grace-ms', patterns: [/\bms\b|millisecond/i, /\d/] },
  { flag: '--log-level', patterns: [/info/] },
];

describe('heavylift --help', () => {
  let run;

  before(async () => {
    try {
      const { stdout, stderr } = await promisify(execFile)(DAEMON_BIN, ['--help'], { timeout: 10_000 });
      run = { exitCode: 0, text: stdout + stderr };
    } catch (error) {
      run = { exitCode: error.code, text: `${error.stdout ?? ''}${error.stderr ?? ''}` };
    }
  });

  test('exits 0', () => {
    assert.equal(run.exitCode, 0, run.text);
  });

  for (const { flag, patterns } of DOCUMENTED_FLAGS) {
    test(`documents ${flag}`, () => {
      const entry = helpEntry(run.text, flag);
      assert.ok(entry, `${flag} is missing from --help:\n${run.text}`);
      assert.match(entry, /\b(unit|default)\b/i, `help entry for ${flag} names neither a unit nor a default`);
      for (const pattern of patterns) {
        assert.match(entry, pattern, `help entry for ${flag} lacks ${pattern}`);
      }
    });
  }
});

// Returns the help text from `flag` up to the next line that starts another
// option, so each flag is checked against its own description only.
function helpEntry(text, flag) {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => new RegExp(`(^|[\\s,])${flag}(?![\\w-])`).test(line));
  if (start === -1) {
    return undefined;
  }
  const entry = [lines[start]];
  for (const line of lines.slice(start + 1)) {
    if (/^\s*-/.test(line) || line.trim() === '') {
      break;
    }
    entry.push(line);
  }
  return entry.join('\n');
}
