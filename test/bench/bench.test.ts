/**
 * Smoke test of the benchmark suite: every bench function runs at a tiny size on real Redis,
 * SQLite and ffmpeg and returns figures that make sense (counts add up, percentiles are ordered,
 * nothing is zero or NaN where work was done). Speed is never asserted: this machine is shared.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { benchDispatchThroughput } from '../../bench/dispatch-throughput.ts';
import { benchFanOut } from '../../bench/fan-out.ts';
import { benchIdleWorkerRss, benchRedisBytesPerTask } from '../../bench/memory.ts';
import { benchPickupLatency } from '../../bench/pickup-latency.ts';
import { benchReconcilerLag } from '../../bench/reconciler-lag.ts';
import { dispatchRows, fanOutRows, formatTable, stitchRows } from '../../bench/report.ts';
import { parseArgs, runBench } from '../../bench/run.ts';
import { benchStitch } from '../../bench/stitch.ts';
import { makeWorkDir, openRedis, percentile } from '../../bench/support.ts';

let work: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  work = await makeWorkDir('test');
});
after(async () => {
  await work.cleanup();
});

const positive = (x: number, what: string) => assert.ok(Number.isFinite(x) && x > 0, `${what} should be a positive number, got ${x}`);

/** No key of any bench prefix may be left behind on the shared Redis. */
async function assertNoBenchKeysLeft(prefixes: string[]): Promise<void> {
  const redis = openRedis();
  try {
    for (const p of prefixes) {
      const [, keys] = await redis.scan('0', 'MATCH', `${p}*`, 'COUNT', 100000);
      assert.deepEqual(keys, [], `keys left under ${p}`);
    }
  } finally {
    redis.disconnect();
  }
}

describe('bench functions at tiny sizes', () => {
  it('dispatch throughput: raw and smq both finish every job', { timeout: 120_000 }, async () => {
    const r = await benchDispatchThroughput({ jobs: 60, concurrency: 10, chunk: 25, workDir: work.dir });
    assert.equal(r.raw.jobs, 60);
    assert.equal(r.smq.jobs, 60);
    positive(r.raw.jobsPerSec, 'raw jobs/s');
    positive(r.smq.jobsPerSec, 'smq jobs/s');
    assert.ok(r.smq.enqueueSeconds <= r.smq.seconds, 'enqueueing is part of the smq time, so it cannot exceed it');
    const [row] = dispatchRows(r);
    assert.equal(row!.ratio, r.smq.jobsPerSec / r.raw.jobsPerSec);
  });

  it('pickup latency: every side measures every task, p50 ≤ p99', { timeout: 120_000 }, async () => {
    const r = await benchPickupLatency({ tasks: 6, pollTasks: 2, pollIntervalMs: 150, workDir: work.dir });
    for (const [name, s] of Object.entries({ smq: r.smq, raw: r.raw })) {
      assert.equal(s.n, 6, name);
      positive(s.p50Ms, `${name} p50`);
      assert.ok(s.p50Ms <= s.p99Ms && s.p99Ms <= s.maxMs, `${name}: ${JSON.stringify(s)}`);
    }
    assert.equal(r.polling.n, 2);
    positive(r.polling.p50Ms, 'polling p50');
    // A claim can only happen at a poll, at most one interval after the insert (plus scheduling slack).
    assert.ok(r.polling.maxMs < 150 * 5 + 5000, `polling max ${r.polling.maxMs}`);
  });

  it('fan-out: smq writes the rows and both sides add the tree; lean trees are smaller', { timeout: 120_000 }, async () => {
    const spec = await benchFanOut({ sizes: [2, 4], workDir: work.dir, repeats: 1 });
    const lean = await benchFanOut({ sizes: [2, 4], workDir: work.dir, repeats: 1, payload: 'lean' });
    assert.deepEqual(spec.map((r) => r.segments), [2, 4]);
    for (const r of [...spec, ...lean]) {
      positive(r.smqMs, 'smq ms');
      positive(r.rawMs, 'raw ms');
      assert.ok(Math.abs(r.smqMsPerSegment * r.segments - r.smqMs) < 0.01 * r.segments, `per-segment time matches: ${JSON.stringify(r)}`);
    }
    // Each spec segment carries the whole details, which list every segment's inputs: bytes grow faster than N.
    assert.ok(spec[1]!.treeDataBytes / 4 > spec[0]!.treeDataBytes / 2, 'per-segment bytes grow with N in the spec tree');
    assert.ok(lean[1]!.treeDataBytes < spec[1]!.treeDataBytes);
    const rows = fanOutRows(spec);
    assert.equal(rows.length, 3, 'a row per size plus the growth row');
    assert.equal(rows[2]!.smq, spec[1]!.smqMsPerSegment / spec[0]!.smqMsPerSegment);
  });

  it('reconciler lag (the reconciler area\'s bench) returns ordered percentiles', { timeout: 120_000 }, async () => {
    const r = await benchReconcilerLag({ rate: 100, seconds: 1, workDir: path.join(work.dir, 'lag') });
    assert.ok(r.applied > 0, `applied ${r.applied}`);
    assert.ok(r.p50Ms >= 0 && r.p50Ms <= r.p99Ms, JSON.stringify(r));
  });

  it('stitch (the media area\'s bench) times smq, floor and seed at each size', { timeout: 180_000 }, async () => {
    const rows = await benchStitch({ segments: [2, 3], width: 96, height: 64, frames: 9, overlap: 2, workDir: path.join(work.dir, 'stitch') });
    for (const n of [2, 3]) {
      for (const prefix of ['smq stitch (streaming)', 'floor', 'seed']) {
        const r = rows.find((x) => x.segments === n && x.name.startsWith(prefix));
        assert.ok(r, `${prefix} at ${n} segments`);
        positive(r.seconds, `${prefix} seconds`);
        positive(r.peakRssMB, `${prefix} RSS`);
      }
    }
    const table = stitchRows(rows);
    assert.ok(table.some((r) => r.name === 'stitch RSS flatness'));
  });

  it('memory: idle RSS of both workers and Redis bytes per queued task', { timeout: 180_000 }, async () => {
    const idle = await benchIdleWorkerRss({ workDir: work.dir, maxSettleMs: 5000 });
    positive(idle.smqMB, 'smq worker RSS');
    positive(idle.rawMB, 'raw worker RSS');
    const bytes = await benchRedisBytesPerTask({ tasks: 50, workDir: work.dir });
    // A waiting job is at least its hash and its list entry: tens of bytes, never nothing.
    assert.ok(bytes.smq.bytesPerTask > 50 && bytes.raw.bytesPerTask > 50, JSON.stringify(bytes));
    await assertNoBenchKeysLeft(['{smqb-smq-bytes', '{smqb-raw-bytes', '{smqb-smq-idle', '{smqb-raw-idle']);
  });
});

describe('bench runner and report', () => {
  it('runBench --only writes one table and the JSON it describes', { timeout: 120_000 }, async () => {
    const out = path.join(work.dir, 'results.json');
    const r = await runBench({ quick: true, only: ['pickup'], out, log: () => {} });
    assert.ok(r.rows.length >= 2 && r.rows.every((x) => x.bench === 'pickup'));
    const doc = JSON.parse(await readFile(out, 'utf8')) as { quick: boolean; rows: unknown[]; results: Record<string, unknown> };
    assert.equal(doc.quick, true);
    assert.deepEqual(doc.rows, JSON.parse(JSON.stringify(r.rows)));
    assert.deepEqual(Object.keys(doc.results), ['pickup']);
    assert.match(r.table.split('\n')[0]!, /\| name +\| metric +\| +smq \| +baseline \| ratio \| target +\| met\? \|/);
  });

  it('flags: --only names a bench, --out needs a value', () => {
    assert.deepEqual(parseArgs(['--quick', '--only', 'dispatch,memory']), { quick: true, only: ['dispatch', 'memory'] });
    assert.throws(() => parseArgs(['--only', 'speed']), /--only: "speed" is not a bench; use a comma list of dispatch/);
    assert.throws(() => parseArgs(['--out']), /--out: needs a value/);
    assert.throws(() => parseArgs(['--fast']), /--fast: is not a bench flag/);
  });

  it('targets: a miss says NO, context rows say nothing', () => {
    const rows = dispatchRows({ raw: { jobs: 10, seconds: 1, jobsPerSec: 1000 }, smq: { jobs: 10, seconds: 2, jobsPerSec: 500, enqueueSeconds: 1, lastSweepRepairs: 0, ingested: 0 } });
    assert.equal(rows[0]!.met, false);
    const table = formatTable(rows);
    assert.match(table, /0\.50×/);
    assert.match(table, /\| NO +\|/);
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  });
});
