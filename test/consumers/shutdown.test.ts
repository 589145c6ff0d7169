import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Harness, REDIS_URL, TEST_HANDLERS, pidAlive, readPids, waitFor } from './helpers.ts';

const SMQ_BIN = fileURLToPath(new URL('../../bin/smq.js', import.meta.url));

test('close(grace) lets a running job finish within the grace period', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    const w = await h.startWorker();
    const pidFile = path.join(h.dir, 'p.json');
    const j = await h.add('test_wait', { pidFile, ms: 1500 });
    await waitFor('the job to start', () => readPids(pidFile));
    await w.close(20_000);
    const done = await h.waitForState(j.id!, ['completed', 'failed']);
    assert.equal(done.returnvalue.output_location, 'waited-1500');
  } finally {
    await h.close();
  }
});

test('past the grace period the child is killed and the job handed to another worker', { timeout: 90_000 }, async () => {
  const h = await new Harness().init();
  try {
    const fast = { lockDuration: 2000, stalledInterval: 1000 };
    const first = await h.startWorker({ name: 'first', ...fast });
    const pidFile = path.join(h.dir, 'p.json');
    const startsFile = path.join(h.dir, 'starts.txt');
    const j = await h.add('test_wait', { pidFile, ms: 4000, startsFile }, { attempts: 1 });
    const pids = await waitFor('the job to start', () => readPids(pidFile));
    await first.close(300);
    await waitFor('the first child to be killed', () => !pidAlive(pids.child) && !pidAlive(pids.grandchild), 5000);
    assert.equal(await (await h.queue().getJob(j.id!))!.getState(), 'active', 'not failed: handed back');
    await h.startWorker({ name: 'second', ...fast });
    const done = await h.waitForState(j.id!, ['completed', 'failed'], 60_000);
    assert.equal(await done.getState(), 'completed', `reason: ${done.failedReason}`);
    assert.equal(done.processedBy, 'second');
    assert.equal((await readFile(startsFile, 'utf8')).trim().split('\n').length, 2, 'ran twice: once killed, once to the end');
  } finally {
    await h.close();
  }
});

test('smq worker: SIGTERM stops taking work, finishes the running job and exits 0', { timeout: 90_000 }, async () => {
  const h = await new Harness().init();
  const child = spawn(
    process.execPath,
    [SMQ_BIN, 'worker', '--plugin', TEST_HANDLERS, '--grace', '30', '--main-output-dir', path.join(h.dir, 'out'), '--db-file', path.join(h.dir, 't.db'), '--name', 'cli-w', '--poll-interval', '5'],
    { env: { ...process.env, REDIS_URL, SMQ_QUEUE_PREFIX: h.prefix, SMQ_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const pidFile = path.join(h.dir, 'p.json');
    const j = await h.add('test_wait', { pidFile, ms: 2000 });
    await waitFor('the job to start', () => readPids(pidFile), 30_000);
    child.kill('SIGTERM');
    const later = await h.add('test_echo', { value: 'late', n: 1 });
    assert.equal(await exited, 0);
    const done = await h.waitForState(j.id!, ['completed', 'failed']);
    assert.equal(done.returnvalue.output_location, 'waited-2000');
    assert.equal(done.processedBy, 'cli-w');
    assert.equal(await (await h.queue().getJob(later.id!))!.getState(), 'waiting', 'no new work after SIGTERM');
    assert.match(stderr, /--poll-interval is ignored/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await h.close();
  }
});
