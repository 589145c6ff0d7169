import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { needsFacts, parseStreamEntry } from '../../src/reconciler/event-mapping.ts';
import { StreamReader } from '../../src/reconciler/stream-reader.ts';
import { deletePrefix, newPrefix, REDIS_URL } from './helpers.ts';

// The reader's script on real Redis: entries after each cursor, and the job-hash facts of exactly
// the entries the mapping needs them for (the same FACT_RULE the JS side applies).

let redis: Redis;
let prefix: string;

before(() => {
  redis = new Redis(REDIS_URL);
  prefix = newPrefix();
});

after(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

async function xadd(queue: string, fields: Record<string, string>): Promise<string> {
  return (await redis.xadd(`${prefix}:${queue}:events`, '*', ...Object.entries(fields).flat()))!;
}

test('readWithFacts returns the entries after each cursor with the facts the mapping needs, in one call', async () => {
  const reader = new StreamReader(redis, prefix, ['cpu', 'gpu-onnx']);
  await redis.hset(`${prefix}:cpu:a`, { pb: 'worker-1', atm: '0' });
  await redis.hset(`${prefix}:cpu:b`, { pb: 'worker-2', atm: '2' });
  await redis.hset(`${prefix}:cpu:c`, { attemptsMade: '4' }); // a hash from an older BullMQ
  await redis.hset(`${prefix}:cpu:d`, { pb: 'never-read' });
  const skipped = await xadd('cpu', { event: 'active', jobId: 'before-cursor' });
  await xadd('cpu', { event: 'added', jobId: 'd', name: 'noop' });
  await xadd('cpu', { event: 'active', jobId: 'a', prev: 'waiting' });
  await xadd('cpu', { event: 'completed', jobId: 'd', returnvalue: '{}' });
  await xadd('cpu', { event: 'failed', jobId: 'b', failedReason: 'boom' });
  await xadd('cpu', { event: 'waiting', jobId: 'c', prev: 'active' });
  await xadd('cpu', { event: 'waiting', jobId: 'd' });
  await xadd('cpu', { event: 'active', jobId: 'gone' });
  await xadd('cpu', { event: 'active', jobId: 'a', prev: 'waiting' });
  const gpuId = await xadd('gpu-onnx', { event: 'active', jobId: 'seg' });

  const out = await reader.readWithFacts(new Map([['cpu', skipped]]), 100);
  const cpu = out.get('cpu')!;
  assert.deepEqual(
    cpu.entries.map((e) => `${e.event}:${e.fields.jobId}`),
    ['added:d', 'active:a', 'completed:d', 'failed:b', 'waiting:c', 'waiting:d', 'active:gone', 'active:a'],
  );
  assert.deepEqual(Object.fromEntries(cpu.facts), {
    a: { processedBy: 'worker-1', attemptsMade: 0 },
    b: { processedBy: 'worker-2', attemptsMade: 2 },
    c: { processedBy: null, attemptsMade: 4 },
    gone: { processedBy: null, attemptsMade: null },
  });
  // Exactly the JS rule: every entry that needs facts has them, no other job was read.
  const needed = new Set(cpu.entries.filter(needsFacts).map((e) => e.fields.jobId));
  assert.deepEqual([...cpu.facts.keys()].sort(), [...needed].sort());
  // A queue without a cursor is read from the start; its job hash is looked up under its own queue.
  assert.deepEqual(out.get('gpu-onnx')!.entries.map((e) => e.id), [gpuId]);
  assert.deepEqual(Object.fromEntries(out.get('gpu-onnx')!.facts), { seg: { processedBy: null, attemptsMade: null } });
});

test('readWithFacts honours count and cursors, and returns nothing at the end of the streams', async () => {
  const reader = new StreamReader(redis, prefix, ['cpu']);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await xadd('cpu', { event: 'progress', jobId: `p${i}`, data: String(i) }));
  const first = await reader.readWithFacts(new Map([['cpu', ids[0]!]]), 3);
  assert.deepEqual(first.get('cpu')!.entries.map((e) => e.id), ids.slice(1, 4));
  const rest = await reader.readWithFacts(new Map([['cpu', ids[3]!]]), 3);
  assert.deepEqual(rest.get('cpu')!.entries.map((e) => e.id), [ids[4]]);
  assert.equal((await reader.readWithFacts(new Map([['cpu', ids[4]!]]), 3)).size, 0);
});

test('waitForEntries wakes on the next entry and times out when none comes', async () => {
  const waiter = new Redis(REDIS_URL);
  try {
    const reader = new StreamReader(waiter, prefix, ['wait-q']);
    const start = await xadd('wait-q', { event: 'added', jobId: 'x' });
    const cursors = new Map([['wait-q', start]]);
    assert.equal(await reader.waitForEntries(cursors, 50), false);
    const woke = reader.waitForEntries(cursors, 10_000);
    await new Promise((r) => setTimeout(r, 30));
    await xadd('wait-q', { event: 'added', jobId: 'y' });
    assert.equal(await woke, true);
  } finally {
    waiter.disconnect();
  }
});

test('needsFacts: active and failed always, delayed and waiting only when they leave active', () => {
  const e = (event: string, fields: Record<string, string> = {}) => parseStreamEntry('1-0', Object.entries({ event, jobId: 'j', ...fields }).flat());
  assert.equal(needsFacts(e('active')), true);
  assert.equal(needsFacts(e('failed')), true);
  assert.equal(needsFacts(e('waiting', { prev: 'active' })), true);
  assert.equal(needsFacts(e('delayed', { prev: 'active' })), true);
  assert.equal(needsFacts(e('waiting', { prev: 'waiting-children' })), false);
  assert.equal(needsFacts(e('completed')), false);
  assert.equal(needsFacts(e('progress')), false);
});
