import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { smqKeys } from '../../src/flows/queues.ts';
import { Harness, waitFor } from './helpers.ts';

const HANDLERS = fileURLToPath(new URL('./fixtures/inline-stop-handlers.ts', import.meta.url));

const exists = (f: string) => stat(f).then(
  () => true,
  () => false,
);

test('a cancel reaches an inline handler through ctx.signal, whether it read the signal before or after the cancel', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker({ plugins: [HANDLERS], concurrency: 2 });
    const keys = smqKeys(h.prefix);
    const early = path.join(h.dir, 'early.json');
    const late = path.join(h.dir, 'late.json');
    const a = await h.add('test_inline_signal', { file: early, readSignalAfterMs: 0 }, { attempts: 3 });
    const b = await h.add('test_inline_signal', { file: late, readSignalAfterMs: 1500 }, { attempts: 3 });
    await waitFor('both handlers to start', async () => (await exists(`${early}.started`)) && (await exists(`${late}.started`)));
    await h.redis.publish(keys.cancelChannel, JSON.stringify({ taskIds: [a.id, b.id] }));
    for (const id of [a.id!, b.id!]) {
      const done = await h.waitForState(id, ['failed', 'completed']);
      assert.equal(done.failedReason, 'cancelled', id);
      assert.equal(done.attemptsMade, 1, `${id}: a cancel is not retried`);
    }
    // The handler that asked for its signal only after the cancel gets one that is already aborted.
    for (const file of [early, late]) {
      const seen = JSON.parse(await waitFor(`${path.basename(file)} to be written`, () => readFile(file, 'utf8').catch(() => null)));
      assert.deepEqual(seen, { aborted: true, reason: 'cancelled' }, file);
    }
  } finally {
    await h.close();
  }
});

test('an inline handler that ignores its signal still ends the job at its timeout, without retries', { timeout: 60_000 }, async () => {
  const h = await new Harness().init();
  try {
    await h.startWorker({ plugins: [HANDLERS] });
    const j = await h.add('test_inline_deaf', { ms: 5000 }, { attempts: 3 });
    const done = await h.waitForState(j.id!, ['failed', 'completed'], 4000);
    assert.equal(await done.getState(), 'failed');
    assert.equal(done.failedReason, 'timed out after 0.5 s');
    assert.equal(done.attemptsMade, 1);
  } finally {
    await h.close();
  }
});
