import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { concludeScenario } from '../support/faults/scenario.ts';
import { pidAlive, until } from '../support/faults/proc.ts';
import { recordResult } from '../support/faults/results.ts';
import { FaultWorld } from '../support/faults/world.ts';

const LOCK_MS = 2000;

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

test('a handler that throws, one that hangs, one that runs out of memory, and a long CPU-bound one', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    world.spawnReconciler();
    // The heap cap reaches the task children through NODE_OPTIONS (they are forked with their own
    // execArgv), so the OOM handler dies at ~160 MB instead of eating a shared machine.
    const worker = world.spawnWorker('hardy', ['--concurrency', '4', '--queues', 'cpu', '--lock-duration', String(LOCK_MS), '--stalled-interval', '1500'], {
      env: { NODE_OPTIONS: '--max-old-space-size=160' },
    });
    await until('the worker to register', async () => (await world.workerNames('cpu')).includes('hardy'), 60_000);
    const file = (name: string) => path.join(world.dir, name);
    await Promise.all(['throw', 'hang', 'oom', 'cpu', 'noop'].map((n) => writeFile(file(`${n}.ledger`), '')));
    const retry = { attempts: 2, backoff: { type: 'fixed', delay: 200 } };
    const thrower = await world.addPluginTask('fault_throw', { ledger: file('throw.ledger') }, retry);
    const hanger = await world.addPluginTask('fault_hang', { ledger: file('hang.ledger'), pidFile: file('hang.pids') });
    const hog = await world.addPluginTask('fault_oom', { ledger: file('oom.ledger'), pidFile: file('oom.pids') }, retry);
    const spinner = await world.addPluginTask('fault_cpu', { ledger: file('cpu.ledger'), ms: LOCK_MS * 5 });
    const ids = [thrower, hanger, hog, spinner];
    await until('the first four to finish', async () => (await world.store.getMany(ids)).every((r) => ['Complete', 'Failed'].includes(r.status)), 180_000, 250);
    // The worker survived all of it and still takes work.
    const canary = await world.addPluginTask('fault_noop', { ledger: file('noop.ledger') });

    const checks: Array<[string, () => Promise<string[]>]> = [
      ['handler throws (2 attempts)', async () => {
        const r = (await world.store.get(thrower))!;
        const p: string[] = [];
        if (r.status !== 'Failed' || !/deliberate failure on attempt 2/.test(r.errorMessage ?? '')) p.push(`thrower ended ${r.status}: ${r.errorMessage}`);
        const starts = (await lines(file('throw.ledger'))).length;
        if (starts !== 2) p.push(`thrower ran ${starts} times, expected 2 (attempts: 2)`);
        return p;
      }],
      ['handler hangs past its timeout', async () => {
        const r = (await world.store.get(hanger))!;
        const p: string[] = [];
        if (r.status !== 'Failed' || !/timed out after 3 s/.test(r.errorMessage ?? '')) p.push(`hanger ended ${r.status}: ${r.errorMessage}`);
        for (const pid of (await lines(file('hang.pids'))).map(Number)) if (pidAlive(pid)) p.push(`hanging child ${pid} still alive after the timeout`);
        return p;
      }],
      ['handler runs out of memory (child)', async () => {
        const r = (await world.store.get(hog))!;
        const p: string[] = [];
        if (r.status !== 'Failed' || !/child process/.test(r.errorMessage ?? '')) p.push(`OOM task ended ${r.status}: ${r.errorMessage}`);
        const pids = (await lines(file('oom.pids'))).map(Number);
        if (pids.length !== 2) p.push(`OOM task started ${pids.length} children, expected 2 (attempts: 2)`);
        for (const pid of pids) if (pidAlive(pid)) p.push(`OOM child ${pid} still alive`);
        if (!worker.alive()) p.push('the worker died with its task child');
        return p;
      }],
      [`long CPU-bound handler (${(LOCK_MS * 5) / 1000} s, lock ${LOCK_MS / 1000} s)`, async () => {
        const r = (await world.store.get(spinner))!;
        const p: string[] = [];
        if (r.status !== 'Complete') p.push(`CPU-bound task ended ${r.status}: ${r.errorMessage}`);
        const ledger = await lines(file('cpu.ledger'));
        if (ledger.filter((l) => l.startsWith('start')).length !== 1) p.push(`CPU-bound task started ${ledger.filter((l) => l.startsWith('start')).length} times`);
        await world.monitor.catchUp();
        if (world.monitor.count(world.monitor.stalled, spinner)) p.push('CPU-bound task was marked stalled');
        return p;
      }],
    ];
    const all: string[] = [];
    for (const [fault, check] of checks) {
      const problems = await check();
      recordResult({ fault, tries: 1, survived: problems.length ? 0 : 1, lost: 0 });
      all.push(...problems);
    }
    await concludeScenario(world, 'worker after handler faults (final check)', { waitFor: [...ids, canary], timeoutMs: 60_000, expectComplete: [canary, spinner] });
    assert.deepEqual(all, []);
    assert.ok(worker.alive(), 'the worker is still running');
  } finally {
    await world.close();
  }
});
