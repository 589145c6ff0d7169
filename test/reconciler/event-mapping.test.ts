import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  childKeyOfFailure,
  describeChildFailure,
  needsFacts,
  mapEntries,
  outputLocationOf,
  parseJobKey,
  parseStreamEntry,
  type JobFacts,
  type StreamEntry,
} from '../../src/reconciler/event-mapping.ts';
import { compareStreamIds, cursorWasTrimmed, streamIdTimeMs } from '../../src/reconciler/stream-ids.ts';

const e = (id: string, event: string, fields: Record<string, string> = {}): StreamEntry =>
  parseStreamEntry(id, Object.entries({ event, ...fields }).flat());

const noFacts = new Map<string, JobFacts>();

test('active → In Progress with started_at from the stream id and worker_id from the job hash', () => {
  const facts = new Map([['t1', { processedBy: 'gpu-box-1', attemptsMade: 0 }]]);
  const [u] = mapEntries({ entries: [e('1700000000123-0', 'active', { jobId: 't1', prev: 'waiting' })], facts });
  assert.deepEqual(u, { taskId: 't1', status: 'In Progress', startedAt: new Date(1700000000123).toISOString(), workerId: 'gpu-box-1' });
});

test('a worker without a name leaves worker_id untouched', () => {
  const [u] = mapEntries({ entries: [e('5-0', 'active', { jobId: 't1' })], facts: new Map([['t1', { processedBy: null, attemptsMade: 0 }]]) });
  assert.equal('workerId' in u!, false);
});

test('completed → Complete with the output location from the JSON return value', () => {
  const [u] = mapEntries({ entries: [e('9-0', 'completed', { jobId: 't1', returnvalue: JSON.stringify({ output_location: '/out/a.mp4', frames: 3 }) })], facts: noFacts });
  assert.equal(u!.status, 'Complete');
  assert.equal(u!.outputLocation, '/out/a.mp4');
  assert.equal(u!.finishedAt, new Date(9).toISOString());
});

test('output location: absent, null, non-JSON and non-object return values give null', () => {
  assert.equal(outputLocationOf(undefined), null);
  assert.equal(outputLocationOf('{"output_location":null}'), null);
  assert.equal(outputLocationOf('not json'), null);
  assert.equal(outputLocationOf('[1,2]'), null);
  assert.equal(outputLocationOf('"/x.mp4"'), null);
  assert.equal(outputLocationOf('{"output_location":"s3://b/k"}'), 's3://b/k');
});

test('failed → Failed with the reason and attempts from the job hash', () => {
  const facts = new Map([['t2', { processedBy: 'w', attemptsMade: 3 }]]);
  const [u] = mapEntries({ entries: [e('10-0', 'failed', { jobId: 't2', failedReason: 'CUDA OOM', prev: 'active' })], facts });
  assert.deepEqual(u, { taskId: 't2', status: 'Failed', errorMessage: 'CUDA OOM', finishedAt: new Date(10).toISOString(), attempts: 3 });
});

test('a retry (delayed/waiting with prev=active) counts the attempt but keeps the status', () => {
  const facts = new Map([['t3', { processedBy: 'w', attemptsMade: 1 }]]);
  const updates = mapEntries({ entries: [e('11-0', 'delayed', { jobId: 't3', delay: '99999', prev: 'active' })], facts });
  assert.deepEqual(updates, [{ taskId: 't3', attempts: 1 }]);
  // A fresh `waiting` (prev absent) is not a retry and changes nothing.
  assert.deepEqual(mapEntries({ entries: [e('12-0', 'waiting', { jobId: 't3' })], facts }), []);
});

test('retries-exhausted carries attemptsMade itself', () => {
  assert.deepEqual(mapEntries({ entries: [e('1-0', 'retries-exhausted', { jobId: 't4', attemptsMade: '3' })], facts: noFacts }), [{ taskId: 't4', attempts: 3 }]);
});

test('progress is parsed JSON; a non-JSON payload is kept as text', () => {
  assert.deepEqual(mapEntries({ entries: [e('1-0', 'progress', { jobId: 'p', data: '{"stage":"gen","percent":40}' })], facts: noFacts }), [
    { taskId: 'p', progress: { stage: 'gen', percent: 40 } },
  ]);
  assert.deepEqual(mapEntries({ entries: [e('1-0', 'progress', { jobId: 'p', data: 'half' })], facts: noFacts }), [{ taskId: 'p', progress: 'half' }]);
});

test('events for one job coalesce into one update; the last wins and attempts only grow', () => {
  const facts = new Map([['j', { processedBy: 'w2', attemptsMade: 1 }]]);
  const updates = mapEntries({
    entries: [
      e('1-0', 'added', { jobId: 'j', name: 'noop' }),
      e('2-0', 'active', { jobId: 'j' }),
      e('3-0', 'progress', { jobId: 'j', data: '50' }),
      e('4-0', 'delayed', { jobId: 'j', prev: 'active', delay: '10' }),
      e('5-0', 'active', { jobId: 'j' }),
      e('6-0', 'completed', { jobId: 'j', returnvalue: '{"output_location":"/o.mp4"}' }),
      e('7-0', 'progress', { jobId: 'j', data: '99' }),
      e('8-0', 'removed', { jobId: 'j', prev: 'completed' }),
      e('2-5', 'active', { jobId: 'other' }),
    ],
    facts,
  });
  assert.equal(updates.length, 2);
  assert.deepEqual(updates[0], {
    taskId: 'j',
    status: 'Complete',
    startedAt: new Date(5).toISOString(),
    workerId: 'w2',
    progress: 50,
    attempts: 1,
    outputLocation: '/o.mp4',
    finishedAt: new Date(6).toISOString(),
  });
  assert.equal(updates[1]!.taskId, 'other');
});

test('removed → Cancelled when nothing terminal came before it in the batch', () => {
  assert.deepEqual(mapEntries({ entries: [e('3-0', 'removed', { jobId: 'r', prev: 'waiting' })], facts: noFacts }), [
    { taskId: 'r', status: 'Cancelled', finishedAt: new Date(3).toISOString() },
  ]);
});

test('resolved child failures replace BullMQ\'s "child <key> failed" text', () => {
  const reason = 'child {smq}:gpu-onnx:seg-2 failed';
  const [u] = mapEntries({
    entries: [e('3-0', 'failed', { jobId: 'orch', failedReason: reason })],
    facts: noFacts,
    resolvedFailures: new Map([['orch', 'child task seg-2 failed: engine exploded']]),
  });
  assert.equal(u!.errorMessage, 'child task seg-2 failed: engine exploded');
});

test('child failure keys and messages', () => {
  assert.equal(childKeyOfFailure('child {smq}:cpu:abc failed'), '{smq}:cpu:abc');
  assert.equal(childKeyOfFailure('boom'), null);
  assert.equal(childKeyOfFailure(null), null);
  assert.deepEqual(parseJobKey('{smq}:gpu-onnx:seg-1'), { prefix: '{smq}', queue: 'gpu-onnx', jobId: 'seg-1' });
  assert.deepEqual(parseJobKey('a:b:cpu:x'), { prefix: 'a:b', queue: 'cpu', jobId: 'x' });
  assert.equal(parseJobKey('nokey'), null);
  assert.equal(
    describeChildFailure([
      { jobId: 'stitch', reason: 'child {smq}:gpu-onnx:seg-1 failed' },
      { jobId: 'seg-1', reason: 'bad guide' },
    ]),
    'child task seg-1 failed (via stitch): bad guide',
  );
  assert.match(describeChildFailure([{ jobId: 'seg-9', reason: null }]), /seg-9 failed: reason unknown/);
});

test('only active, failed and retry entries need the job hash', () => {
  const entries = [
    e('1-0', 'added', { jobId: 'a' }),
    e('2-0', 'active', { jobId: 'b' }),
    e('3-0', 'failed', { jobId: 'c' }),
    e('4-0', 'waiting', { jobId: 'd', prev: 'active' }),
    e('5-0', 'waiting', { jobId: 'e' }),
    e('6-0', 'completed', { jobId: 'f' }),
    e('7-0', 'active', { jobId: 'b' }),
  ];
  assert.deepEqual([...new Set(entries.filter(needsFacts).map((x) => x.fields.jobId))], ['b', 'c', 'd']);
});

test('stream ids compare numerically and detect trimmed cursors', () => {
  assert.ok(compareStreamIds('9-0', '10-0') < 0);
  assert.ok(compareStreamIds('10-2', '10-10') < 0);
  assert.equal(compareStreamIds('7-1', '7-1'), 0);
  assert.equal(streamIdTimeMs('1700000000000-4'), 1700000000000);
  assert.equal(cursorWasTrimmed('100-0', '200-0'), true);
  assert.equal(cursorWasTrimmed('100-0', '100-1'), false);
  assert.equal(cursorWasTrimmed('300-0', '200-0'), false);
  assert.equal(cursorWasTrimmed(null, '200-0'), false);
  assert.equal(cursorWasTrimmed('100-0', null), false);
  assert.throws(() => compareStreamIds('x', '1-0'), /not a stream id/);
});
