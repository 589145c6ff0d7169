import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { enqueueTask } from '../../src/producers/api.ts';
import { cancel } from '../../src/producers/control.ts';
import { concludeScenario } from '../support/faults/scenario.ts';
import { childPids, pidAlive, sigkill, sleep, until } from '../support/faults/proc.ts';
import { recordResult } from '../support/faults/results.ts';
import { FaultWorld } from '../support/faults/world.ts';

const FAST_LOCKS = ['--lock-duration', '2000', '--stalled-interval', '1500'];

test('SIGKILL the reconciler mid-batch: a new one resumes from the committed cursor', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    const first = world.spawnReconciler('reconciler-1', ['--batch-size', '50']);
    world.spawnWorker('w1', [...FAST_LOCKS, '--concurrency', '4']);
    world.spawnWorker('w2', FAST_LOCKS);
    await until('workers to register', async () => (await world.workerNames('cpu')).length >= 2, 60_000);
    const run = await world.travel(await world.images(5), { frames: 10, overlap: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 600; i++) ids.push((await enqueueTask('noop', {}, world.producer(), { taskId: `noop_${String(i).padStart(4, '0')}` })).orchestratorTaskId);
    await until('some rows Complete', async () => (await world.store.countsByStatus()).Complete >= 100, 120_000, 50);
    assert.ok((await world.store.countsByStatus()).Complete < ids.length + run.taskIds.length, 'the reconciler was still busy when killed');
    await sigkill(first);
    await sleep(1500);
    world.spawnReconciler('reconciler-2', ['--batch-size', '50']);
    await concludeScenario(world, 'SIGKILL reconciler mid-batch', { waitFor: [...ids, ...run.taskIds], timeoutMs: 240_000, expectComplete: [...ids, ...run.taskIds] });
  } finally {
    await world.close();
  }
});

test('SIGKILL the worker that runs the orchestrator while its segments run', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    world.spawnReconciler();
    const boss = world.spawnWorker('boss', [...FAST_LOCKS, '--queues', 'cpu']);
    world.spawnWorker('gpu', [...FAST_LOCKS, '--queues', 'gpu-onnx']);
    await until('workers to register', async () => (await world.workerNames('cpu')).includes('boss') && (await world.workerNames('gpu-onnx')).includes('gpu'), 60_000);
    const run = await world.travel(await world.images(6), { frames: 12, overlap: 2 });
    await until(
      'segments running under a waiting orchestrator',
      async () => {
        const orch = await world.queue('cpu').getJob(run.orchestratorTaskId);
        if (!orch || orch.processedBy !== 'boss' || (await orch.getState()) !== 'waiting-children') return false;
        for (const id of run.segmentTaskIds) if ((await (await world.queue('gpu-onnx').getJob(id))?.getState()) === 'active') return true;
        return false;
      },
      120_000,
      50,
    );
    await sigkill(boss);
    world.spawnWorker('boss-2', [...FAST_LOCKS, '--queues', 'cpu']);
    await concludeScenario(world, 'SIGKILL orchestrating worker', { waitFor: run.taskIds, timeoutMs: 240_000, expectComplete: run.taskIds });
  } finally {
    await world.close();
  }
});

test('cancel a run while its segments run on two workers: children gone, rows Cancelled, no output afterwards', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    world.spawnReconciler();
    world.spawnWorker('cpu', ['--queues', 'cpu']);
    const g1 = world.spawnWorker('g1', ['--queues', 'gpu-onnx']);
    const g2 = world.spawnWorker('g2', ['--queues', 'gpu-onnx']);
    await until('workers to register', async () => (await world.workerNames('gpu-onnx')).length >= 2, 60_000);
    // Long segments (many frames) so both workers are mid-segment when the cancel lands.
    const run = await world.travel(await world.images(6), { frames: 120, overlap: 4 });
    const pids = await until(
      'a segment child process on each worker',
      async () => {
        const active = await world.queue('gpu-onnx').getActive();
        const kids = [...childPids(g1.child.pid!), ...childPids(g2.child.pid!)];
        return active.length >= 2 && childPids(g1.child.pid!).length && childPids(g2.child.pid!).length ? kids : null;
      },
      180_000,
      50,
    );
    const before = await world.store.getMany(run.taskIds);
    assert.deepEqual(before.filter((r) => r.status === 'Complete').map((r) => r.taskId), [], 'no segment had finished when the cancel was sent');
    const res = await cancel(run.runId, world.producer());
    assert.ok(res.redisReachable);
    const outDir = path.join(world.dir, 'travel-out');
    const problems: string[] = [];
    await until('the handlers\' child processes to be gone', () => pids.every((p) => !pidAlive(p)), 20_000).catch(() => problems.push(`still alive after cancel: ${pids.filter(pidAlive).join(', ')}`));
    const listing = async () => (await readdir(outDir, { recursive: true }).catch(() => [] as string[])).map(String).sort();
    const afterCancel = await listing();
    await sleep(6000);
    const later = await listing();
    const appeared = later.filter((f) => !afterCancel.includes(f));
    if (appeared.length) problems.push(`files appeared after the cancel: ${appeared.join(', ')}`);
    await concludeScenario(world, 'cancel during segments on two workers', {
      waitFor: run.taskIds,
      timeoutMs: 60_000,
      extraProblems: async () => [
        ...problems,
        ...(await world.store.getMany(run.taskIds)).filter((r) => r.status !== 'Cancelled').map((r) => `${r.taskId} ended ${r.status}`),
        ...(g1.alive() && g2.alive() ? [] : ['a worker died']),
      ],
    });
  } finally {
    await world.close();
  }
});

test('a healthy CPU-bound handler 6x the lock duration on a busy worker is never stalled nor rerun', { timeout: 200_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    world.spawnReconciler();
    world.spawnWorker('steady', ['--queues', 'cpu', '--concurrency', '2', '--lock-duration', '1500', '--stalled-interval', '1000']);
    await until('worker to register', async () => (await world.workerNames('cpu')).includes('steady'), 60_000);
    const ledger = path.join(world.dir, 'cpu.ledger');
    const ids = [await world.addPluginTask('fault_cpu', { ledger, ms: 9000 }), await world.addPluginTask('fault_cpu', { ledger, ms: 9000 })];
    await concludeScenario(world, 'two CPU-bound handlers 6x lock, concurrency 2', {
      waitFor: ids,
      timeoutMs: 120_000,
      expectComplete: ids,
      tries: 2,
      extraProblems: async () => {
        const lines = (await (await import('node:fs/promises')).readFile(ledger, 'utf8')).split('\n').filter((l) => l.startsWith('start'));
        const p = ids.filter((id) => world.monitor.count(world.monitor.stalled, id) > 0).map((id) => `${id} was marked stalled`);
        if (lines.length !== 2) p.push(`${lines.length} starts for 2 tasks`);
        return p;
      },
    });
    recordResult({ fault: 'CPU-bound handlers: stalled events', tries: 2, survived: ids.filter((id) => !world.monitor.count(world.monitor.stalled, id)).length, lost: 0 });
  } finally {
    await world.close();
  }
});
