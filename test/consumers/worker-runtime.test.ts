import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { smqKeys } from '../../src/flows/queues.ts';
import { Harness, pidAlive, readPids, waitFor } from './helpers.ts';

test('inline and child-process handlers complete with their result; noop is built in', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker({ name: 'w-echo' });
    const a = await h.add('test_echo', { value: 'hi', n: 3 });
    const b = await h.add('test_echo_child', { value: 'kid', n: 1 });
    const c = await h.add('noop', {});
    const ja = await h.waitForState(a.id!, ['completed', 'failed']);
    const jb = await h.waitForState(b.id!, ['completed', 'failed']);
    const jc = await h.waitForState(c.id!, ['completed', 'failed']);
    assert.equal(ja.returnvalue.output_location, 'hi:3');
    assert.equal(ja.returnvalue.outputRoot, path.join(h.dir, 'outputs'));
    assert.equal(ja.returnvalue.pid, process.pid, 'inline handlers run in the worker process');
    assert.equal(jb.returnvalue.output_location, 'kid:1');
    assert.notEqual(jb.returnvalue.pid, process.pid, 'process handlers run in a child');
    assert.deepEqual(jc.returnvalue, { output_location: null });
    assert.equal(ja.processedBy, 'w-echo');
  } finally {
    await h.close();
  }
});

test('bad params fail at once, without retries, naming the field', { timeout: 30_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const j = await h.add('test_echo', { value: 5 }, { attempts: 3 });
    const done = await h.waitForState(j.id!, ['failed', 'completed']);
    assert.equal(await done.getState(), 'failed');
    assert.equal(done.attemptsMade, 1);
    assert.match(done.failedReason, /invalid params for test_echo/);
    assert.match(done.failedReason, /value: .*expected string/);
    assert.match(done.failedReason, /n: /);
  } finally {
    await h.close();
  }
});

test('an unknown task type fails without retries and is named, never run', { timeout: 30_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const j = await h.add('made_up_type', { prompt: 'x' }, { attempts: 3 });
    const done = await h.waitForState(j.id!, ['failed', 'completed']);
    assert.equal(await done.getState(), 'failed');
    assert.equal(done.attemptsMade, 1);
    assert.match(done.failedReason, /unknown task_type "made_up_type"/);
  } finally {
    await h.close();
  }
});

test('a timeout kills the child process group and fails the job without retries', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const pidFile = path.join(h.dir, 'hang.json');
    const j = await h.add('test_hang', { pidFile }, { attempts: 3 });
    const pids = await waitFor('the child to record its pids', () => readPids(pidFile));
    const done = await h.waitForState(j.id!, ['failed', 'completed']);
    assert.equal(await done.getState(), 'failed');
    assert.equal(done.failedReason, 'timed out after 4 s');
    assert.equal(done.attemptsMade, 1);
    await waitFor('child and grandchild to be gone', () => !pidAlive(pids.child) && !pidAlive(pids.grandchild), 5000);
  } finally {
    await h.close();
  }
});

test('a cancel broadcast kills the running child; a cancelled id is refused before it runs', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const keys = smqKeys(h.prefix);
    const pidFile = path.join(h.dir, 'wait.json');
    const j = await h.add('test_wait', { pidFile, ms: 60_000 }, { attempts: 3 });
    const pids = await waitFor('the child to record its pids', () => readPids(pidFile));
    await h.redis.publish(keys.cancelChannel, JSON.stringify({ taskIds: ['someone-else', j.id] }));
    const done = await h.waitForState(j.id!, ['failed', 'completed']);
    assert.equal(done.failedReason, 'cancelled');
    assert.equal(done.attemptsMade, 1);
    await waitFor('child and grandchild to be gone', () => !pidAlive(pids.child) && !pidAlive(pids.grandchild), 5000);

    const startsFile = path.join(h.dir, 'starts.txt');
    await h.redis.sadd(keys.cancelledSet, 'pre-cancelled');
    const k = await h.add('test_wait', { pidFile: path.join(h.dir, 'never.json'), ms: 10, startsFile }, { jobId: 'pre-cancelled', attempts: 3 });
    const refused = await h.waitForState(k.id!, ['failed', 'completed']);
    assert.equal(refused.failedReason, 'cancelled');
    await assert.rejects(readFile(startsFile), /ENOENT/, 'the handler never ran');
  } finally {
    await h.close();
  }
});

test('a throwing handler is retried per attempts; a non-retryable SmqError is not', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const attemptsFile = path.join(h.dir, 'attempts.txt');
    const j = await h.add('test_flaky', { failTimes: 2, attemptsFile }, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
    const done = await h.waitForState(j.id!, ['completed', 'failed']);
    assert.equal(await done.getState(), 'completed');
    assert.equal(done.returnvalue.output_location, 'ok-after-2');
    assert.deepEqual((await readFile(attemptsFile, 'utf8')).trim().split('\n'), ['0', '1', '2']);

    const attemptsFile2 = path.join(h.dir, 'attempts2.txt');
    const k = await h.add('test_flaky', { failTimes: 9, attemptsFile: attemptsFile2 }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    const failed = await h.waitForState(k.id!, ['failed']);
    assert.equal(failed.attemptsMade, 2);
    assert.match(failed.failedReason, /transient failure on attempt 2/);

    const f = await h.add('test_fatal_child', {}, { attempts: 3 });
    const fatal = await h.waitForState(f.id!, ['failed', 'completed']);
    assert.equal(fatal.attemptsMade, 1);
    assert.equal(fatal.failedReason, 'input image /nope.png does not exist');
  } finally {
    await h.close();
  }
});

test('a child killed by SIGKILL is reported as such and retried', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const j = await h.add('test_crash', {}, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    const done = await h.waitForState(j.id!, ['failed', 'completed']);
    assert.equal(done.attemptsMade, 2);
    assert.match(done.failedReason, /^child process killed by SIGKILL \(out of memory\?\)/);
  } finally {
    await h.close();
  }
});

test('progress from a child process reaches job.progress', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker();
    const j = await h.add('test_wait', { pidFile: path.join(h.dir, 'p.json'), ms: 300 });
    const done = await h.waitForState(j.id!, ['completed', 'failed']);
    assert.equal(done.returnvalue.output_location, 'waited-300');
    assert.deepEqual(done.progress, { stage: 'waiting', percent: 100 });
  } finally {
    await h.close();
  }
});
