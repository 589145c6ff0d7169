import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TaskUpdate } from '../../src/core/types.ts';
import { SqliteStore } from '../../src/db/sqlite-store.ts';

// Measures applyBatch on SQLite in reconciler-sized batches (target ≥ 20,000 updates/s). It prints
// the rate and asserts only correctness: timing on a shared 2-core machine is not a test verdict.
it('applyBatch throughput on SQLite (batches of 500)', { timeout: 120_000 }, async () => {
  const ROWS = 10_000;
  const BATCH = 500;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-batch-'));
  const store = new SqliteStore(path.join(dir, 'tasks.db'));
  try {
    await store.init();
    await store.insertMany(Array.from({ length: ROWS }, (_, i) => ({ taskId: `t${i}`, taskType: 'noop', params: { i } })));
    const updates: TaskUpdate[] = [];
    for (let i = 0; i < ROWS; i++) {
      updates.push({ taskId: `t${i}`, status: 'In Progress', workerId: 'w', attempts: 1 });
      updates.push({ taskId: `t${i}`, status: 'Complete', outputLocation: `/o/${i}.mp4` });
    }
    const start = process.hrtime.bigint();
    let changed = 0;
    for (let i = 0; i < updates.length; i += BATCH) {
      changed += await store.applyBatch(updates.slice(i, i + BATCH), { name: 'bench', lastId: `${i}-0` });
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`applyBatch: ${updates.length} updates in ${seconds.toFixed(2)} s = ${Math.round(updates.length / seconds)} updates/s`);
    assert.equal(changed, updates.length);
    assert.deepEqual(await store.countsByStatus(), { Queued: 0, 'In Progress': 0, Complete: ROWS, Failed: 0, Cancelled: 0 });
    // A replay of everything changes nothing.
    assert.equal(await store.applyBatch(updates.slice(0, BATCH)), 0);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
