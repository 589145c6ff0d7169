import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { formatStatus } from '../../src/producers/run-commands.ts';
import type { RunStatus } from '../../src/producers/control.ts';
import { dropPrefix, REDIS_URL, removeDir, tempDir, testPrefix } from './helpers.ts';

const execFileP = promisify(execFile);
const BIN = path.resolve('bin/smq.js');

let dir: string;
let prefix: string;

async function smq(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DB_TYPE: 'sqlite', REDIS_URL, SMQ_QUEUE_PREFIX: prefix };
  try {
    const r = await execFileP(process.execPath, [BIN, ...args], { cwd: dir, env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

before(async () => {
  dir = await tempDir();
  prefix = testPrefix();
});
after(async () => {
  await dropPrefix(prefix);
  await removeDir(dir);
});

describe('smq enqueue|status|cancel|retry', { timeout: 180_000 }, () => {
  it('queues a task, shows it, cancels it and retries it, with --json', async () => {
    const q = await smq('enqueue', 'noop', '--params', '{"note": "hi"}', '--json', '--db-file', 'run.db');
    assert.equal(q.code, 0, q.stderr);
    const queued = JSON.parse(q.stdout) as { task_id: string; dispatched: boolean };
    assert.equal(queued.dispatched, true);

    const s = await smq('status', queued.task_id, '--json', '--db-file', 'run.db');
    assert.equal(s.code, 0, s.stderr);
    const st = JSON.parse(s.stdout) as RunStatus;
    assert.equal(st.status, 'Queued');
    assert.equal(st.tasks[0]!.jobState, 'waiting');
    assert.equal(st.tasks[0]!.queueName, 'cpu');

    const c = await smq('cancel', queued.task_id, '--json', '--db-file', 'run.db');
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual((JSON.parse(c.stdout) as { cancelled: string[]; removedJobs: string[] }).removedJobs, [queued.task_id]);

    const r = await smq('retry', queued.task_id, '--db-file', 'run.db');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Re-queued 1 task\\(s\\) of ${queued.task_id}`));
    const after = JSON.parse((await smq('status', queued.task_id, '--json', '--db-file', 'run.db')).stdout) as RunStatus;
    assert.equal(after.status, 'Queued');
    assert.equal(after.tasks[0]!.jobState, 'waiting');
    assert.equal(after.tasks[0]!.attempts, 1);
  });

  it('exit 2 naming the field for bad input, exit 1 for an unknown id', async () => {
    const badType = await smq('enqueue', 'make_magic', '--params', '{}', '--db-file', 'run.db');
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /task_type: "make_magic" is not a task type/);
    const badJson = await smq('enqueue', 'noop', '--params', '{oops', '--db-file', 'run.db');
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--params: is not valid JSON/);
    const missing = await smq('status', 'nothing_here', '--db-file', 'run.db');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no task or run with id nothing_here/);
  });
});

describe('formatStatus', () => {
  it('prints the run line, the error and one row per task', () => {
    const text = formatStatus({
      id: 'r', runId: 'r', rootTaskId: 'root', status: 'Failed', outputLocation: null, errorMessage: 'segment 1 failed: oom',
      progress: { complete: 1, failed: 1, total: 2, percent: 50 }, redisReachable: false,
      tasks: [
        { taskId: 'root', taskType: 'travel_orchestrator', status: 'Failed', parentTaskId: null, queueName: 'cpu', jobState: null, jobProgress: null, progress: null, outputLocation: null, errorMessage: 'segment 1 failed: oom', attempts: 0, workerId: null, createdAt: '', updatedAt: '' },
        { taskId: 'seg', taskType: 'travel_segment', status: 'Complete', parentTaskId: 'root', queueName: 'gpu-onnx', jobState: null, jobProgress: null, progress: null, outputLocation: '/o/s.mp4', errorMessage: null, attempts: 0, workerId: 'w1', createdAt: '', updatedAt: '' },
      ],
    });
    assert.match(text, /^Run r \(root root\): Failed — 1\/2 tasks complete, 50% \[Redis did not answer/);
    assert.match(text, /Error: segment 1 failed: oom/);
    assert.match(text, /seg\s+travel_segment\s+Complete\s+-\s+100%\s+\/o\/s\.mp4/);
  });
});
