#!/usr/bin/env node
// Runs node's own test runner over test/**/*.test.ts through tsx. Files run one at a time: they
// share the machine's Redis, PostgreSQL and 2 cores, and each isolates itself by queue prefix,
// schema and temp dir. `--faults` adds the long fault suite (test/faults); extra args filter paths.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const faults = args.includes('--faults');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk('test').sort();
const isFault = (f) => f.split(path.sep).includes('faults');
files = faults ? files.filter(isFault) : files.filter((f) => !isFault(f) || f.endsWith('.short.test.ts'));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// --test-force-exit: a file whose tests are done exits even if a failed test left a handle open (a
// hung file would otherwise stall the whole run). No --test-timeout: with process isolation it caps
// whole files too, and would kill the long fault scenarios (which set their own limits) mid-run.
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
