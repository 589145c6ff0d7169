import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/db/open-store.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { createTestSchema } from '../support/pg.ts';
import { allRows } from '../support/faults/final-check.ts';
import { concludeScenario } from '../support/faults/scenario.ts';
import { freePort, runCommand, SM_BIN, SMQ_BIN, spawnNode, until } from '../support/faults/proc.ts';
import { recordResult } from '../support/faults/results.ts';
import { FaultWorld } from '../support/faults/world.ts';

/** A refusal we accept: non-zero exit, the field named, no stack trace, fast. */
function refusalProblems(name: string, r: { code: number | null; stdout: string; stderr: string; ms: number }, field: RegExp, maxMs = 30_000): string[] {
  const p: string[] = [];
  const out = r.stderr + r.stdout;
  if (r.code === 0) p.push(`${name}: accepted (exit 0)`);
  if (!field.test(out)) p.push(`${name}: message does not name ${field}: ${out.trim().slice(0, 300)}`);
  if (/^\s+at .+:\d+:\d+\)?$/m.test(out)) p.push(`${name}: printed a stack trace`);
  if (r.ms > maxMs) p.push(`${name}: took ${r.ms} ms`);
  return p;
}

test('hostile CLI input: refused with a clear error, nothing written', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    const [a0, a1, a2] = await world.images(3);
    await writeFile(path.join(world.dir, 'notes.png'), 'this is text, not a PNG\n');
    // Root reads any file whatever its mode, so as root "unreadable" is a directory named like an
    // image (reading it fails with EISDIR); as anyone else it is a real PNG with mode 000.
    const locked = path.join(world.dir, 'locked.png');
    if (process.getuid?.() === 0) await mkdir(locked);
    else {
      await writeFile(locked, await readFile(a0!));
      await chmod(locked, 0o000);
    }
    const db = world.config.sqlitePath;
    const env = { DB_TYPE: 'sqlite', REDIS_URL: world.redisUrl, SMQ_QUEUE_PREFIX: world.prefix };
    const common = ['--base_prompts', 'p', '--output_dir', 'out', '--db_path', db];
    const travel = (...args: string[]) => ['travel_between_images', ...common, ...args];
    const ok = ['--resolution', '64x48', '--segment_frames', '10', '--frame_overlap', '2'];
    const imgs = ['--input_images', a0!, a1!, a2!];
    // The first image is missing, so a clean refusal needs no probing; the all-present variant is in hostile-scale.test.ts.
    const many = ['missing_00001.png'].concat(Array.from({ length: 9_999 }, () => a0!));
    const cases: Array<{ name: string; args: string[]; field: RegExp; maxMs?: number }> = [
      { name: 'missing value (--resolution)', args: travel(...imgs, '--segment_frames', '10', '--resolution'), field: /resolution/ },
      { name: 'missing option (--input_images)', args: travel(...ok), field: /input_images/ },
      { name: 'unknown extra option', args: travel(...imgs, ...ok, '--bogus', '1'), field: /bogus/ },
      { name: 'negative frames', args: travel(...imgs, '--resolution', '64x48', '--segment_frames', '-5', '--frame_overlap', '2'), field: /segment_frames/ },
      { name: 'zero frames', args: travel(...imgs, '--resolution', '64x48', '--segment_frames', '0', '--frame_overlap', '0'), field: /segment_frames/ },
      { name: 'overlap >= segment frames', args: travel(...imgs, '--resolution', '64x48', '--segment_frames', '10', '--frame_overlap', '10'), field: /frame_overlap|overlap/ },
      { name: 'resolution 0x0', args: travel(...imgs, '--resolution', '0x0', '--segment_frames', '10', '--frame_overlap', '2'), field: /resolution/i },
      { name: 'resolution abc', args: travel(...imgs, '--resolution', 'abc', '--segment_frames', '10', '--frame_overlap', '2'), field: /resolution/i },
      { name: 'non-image file', args: travel('--input_images', a0!, path.join(world.dir, 'notes.png'), ...ok), field: /input_images|notes\.png/ },
      { name: 'path with ..', args: travel('--input_images', a0!, '../../../../etc/passwd', ...ok), field: /input_images|passwd/ },
      { name: 'unreadable file (chmod 000)', args: travel('--input_images', a0!, locked, ...ok), field: /input_images|locked\.png|permission|read/i },
      { name: '10,000 input images (first missing)', args: travel('--input_images', ...many, ...ok), field: /input_images|missing_00001/, maxMs: 30_000 },
    ];
    for (const c of cases) {
      const rowsBefore = (await allRows(world.store)).length;
      const r = await runCommand(process.execPath, [SM_BIN, ...c.args], { env, cwd: world.dir, timeoutMs: 120_000 });
      const problems = refusalProblems(c.name, r, c.field, c.maxMs);
      const rowsAfter = (await allRows(world.store)).length;
      if (rowsAfter !== rowsBefore) problems.push(`${c.name}: rows ${rowsBefore} -> ${rowsAfter}`);
      const jobs = await world.queue('cpu').getJobCounts();
      if (Object.values(jobs).some((n) => n > 0)) problems.push(`${c.name}: jobs appeared on the cpu queue ${JSON.stringify(jobs)}`);
      recordResult({ fault: `CLI: ${c.name}`, tries: 1, survived: problems.length ? 0 : 1, lost: 0 });
      assert.deepEqual(problems, []);
    }
    // The same tool still works: one good run is accepted (and only then a row appears).
    const good = await runCommand(process.execPath, [SM_BIN, ...travel(...imgs, ...ok), '--poll_timeout', '1'], { env, cwd: world.dir, timeoutMs: 120_000 });
    assert.match(good.stdout, /Successfully enqueued 'travel_orchestrator'/, good.stderr);
  } finally {
    await world.close();
  }
});

test('hostile params in the table: each row Failed with the reason, worker and reconciler alive', { timeout: 300_000 }, async () => {
  const world = await FaultWorld.create();
  const etcBefore = await readdir('/etc');
  try {
    const reconciler = world.spawnReconciler();
    const worker = world.spawnWorker('target', ['--lock-duration', '5000']);
    await until('the worker to register', async () => (await world.workerNames('gpu-onnx')).includes('target'), 60_000);
    // Rows as another client would write them: Queued, never dispatched (the reconciler ingests them).
    const raw = new Database(world.config.sqlitePath);
    const insert = raw.prepare(`INSERT INTO ${world.config.tableName} (task_id, task_type, params, status, created_at) VALUES (?, ?, ?, 'Queued', ?)`);
    const cases: Array<{ id: string; type: string; params: string; why: RegExp }> = [
      { id: 'h_badjson', type: 'noop', params: '{"prompt": "unterminated', why: /JSON|params/i },
      { id: 'h_wrongtypes', type: 'generate_openpose', params: JSON.stringify({ input_image_path: 42, output_path: ['x'] }), why: /input_image_path/ },
      { id: 'h_huge', type: 'generate_openpose', params: JSON.stringify({ input_image_path: 'a'.repeat(1_000_000) }), why: /input_image_path|too long|not a readable file|ENAMETOOLONG/i },
      { id: 'h_unknown', type: 'rm_rf_everything', params: '{}', why: /unknown task_type|rm_rf_everything/ },
      { id: 'h_escape', type: 'generate_openpose', params: JSON.stringify({ input_image_path: 'x.png', output_path: '../../etc/smq_pwned.png' }), why: /output_path|outside|escape|\.\./i },
      { id: 'h_url', type: 'generate_openpose', params: JSON.stringify({ input_image_path: 'http://127.0.0.1:9/nothing.png' }), why: /input_image_path|http|download|fetch|ECONNREFUSED/i },
    ];
    const now = new Date().toISOString();
    for (const c of cases) insert.run(c.id, c.type, c.params, now);
    raw.close();
    const report = await concludeScenario(world, 'hostile params JSON (final check)', { waitFor: cases.map((c) => c.id), timeoutMs: 120_000 });
    assert.equal(report.stuck.length, 0);
    for (const c of cases) {
      const row = (await world.store.get(c.id))!;
      const problems: string[] = [];
      if (row.status !== 'Failed') problems.push(`${c.id} ended ${row.status}`);
      if (!c.why.test(row.errorMessage ?? '')) problems.push(`${c.id}: reason does not say why: ${(row.errorMessage ?? '').slice(0, 300)}`);
      recordResult({ fault: `params: ${c.id.slice(2)}`, tries: 1, survived: problems.length ? 0 : 1, lost: row.status === 'Failed' ? 0 : 1 });
      assert.deepEqual(problems, []);
    }
    assert.ok(worker.alive() && reconciler.alive(), 'worker and reconciler still running');
    assert.deepEqual((await readdir('/etc')).filter((f) => !etcBefore.includes(f)), [], 'nothing new in /etc');
  } finally {
    await world.close();
  }
});

test('SQL injection through POSTGRES_TABLE_NAME (refused before any SQL) and through RPC arguments (data)', { timeout: 120_000 }, async () => {
  // A dead port: had any SQL been attempted, the error would be a connection failure instead.
  const deadUrl = `postgres://postgres@127.0.0.1:${await freePort()}/nope`;
  const names = ['tasks; DROP TABLE tasks; --', 'tasks"--', "t' OR '1'='1", 'public.tasks'];
  for (const name of names) {
    const r = await runCommand(process.execPath, [SMQ_BIN, 'reconcile', '--once'], { env: { DB_TYPE: 'postgres', DATABASE_URL: deadUrl, POSTGRES_TABLE_NAME: name }, timeoutMs: 60_000 });
    // The message says "table name …" without the variable's name (reported: src/core/config.ts assertTableName).
    const problems = refusalProblems(`table name ${name}`, r, /POSTGRES_TABLE_NAME|table name/);
    if (/ECONNREFUSED|connect/i.test(r.stderr)) problems.push(`table name ${name}: a connection was attempted`);
    recordResult({ fault: `POSTGRES_TABLE_NAME ${JSON.stringify(name)}`, tries: 1, survived: problems.length ? 0 : 1, lost: 0 });
    assert.deepEqual(problems, []);
  }
  const schema = await createTestSchema('smqfault');
  const store = await openStore(resolveConfig({ dbType: 'postgres' }, { DATABASE_URL: schema.url }));
  try {
    const evil = ["x'); DROP TABLE tasks; --", 'y"; DELETE FROM tasks; --', "z' OR '1'='1"];
    let survived = 0;
    for (const [i, e] of evil.entries()) {
      const id = `sqli_${i}`;
      assert.equal(await store.insert({ taskId: id, taskType: 'noop', params: { prompt: e }, runId: e }), true);
      await store.transition({ taskId: id, status: 'Failed', errorMessage: e });
      // Lookups by hostile strings find nothing and break nothing.
      assert.equal(await store.get(e), null);
      assert.deepEqual(await store.listByRun(e).then((rows) => rows.map((r) => r.taskId)), [id]);
      const row = (await store.get(id))!;
      if (row.errorMessage === e && row.params?.prompt === e) survived++;
    }
    const counts = await store.countsByStatus();
    assert.equal(counts.Failed, evil.length, 'the table is intact and holds exactly the rows written');
    recordResult({ fault: 'SQL injection via RPC arguments', tries: evil.length, survived, lost: evil.length - survived });
    assert.equal(survived, evil.length);
  } finally {
    await store.close();
    await schema.drop();
  }
});

test('dashboard: no/wrong credentials, read-only actions, traversal, oversized bodies', { timeout: 120_000 }, async () => {
  const world = await FaultWorld.create();
  try {
    await world.store.insert({ taskId: 'dash_task', taskType: 'noop', params: {}, runId: 'dash_run', queueName: 'cpu' });
    const port = await freePort();
    const dash = spawnNode('dashboard', [SMQ_BIN, 'dashboard', '--port', String(port), '--db-file', world.config.sqlitePath], world.env({ SMQ_DASHBOARD_TOKEN: 'admin-token-1', SMQ_DASHBOARD_READONLY_TOKEN: 'ro-token-2' }));
    world.procs.push(dash);
    const base = `http://127.0.0.1:${port}`;
    await until('the dashboard to answer', async () => (await fetch(`${base}/healthz`)).status === 200, 60_000, 200);
    const admin = { authorization: 'Bearer admin-token-1' };
    const ro = { authorization: 'Bearer ro-token-2' };
    const cases: Array<{ name: string; req: () => Promise<Response>; ok: (r: Response, body: string) => boolean }> = [
      { name: 'no credentials', req: () => fetch(`${base}/api/runs`), ok: (r) => r.status === 401 },
      { name: 'wrong token', req: () => fetch(`${base}/api/runs`, { headers: { authorization: 'Bearer nope' } }), ok: (r) => r.status === 401 },
      { name: 'wrong basic auth', req: () => fetch(`${base}/runs`, { headers: { authorization: `Basic ${Buffer.from('admin:guess').toString('base64')}` } }), ok: (r) => r.status === 401 },
      { name: 'no credentials, cancel', req: () => fetch(`${base}/api/runs/dash_run/cancel`, { method: 'POST' }), ok: (r) => r.status === 401 },
      { name: 'read-only cancel', req: () => fetch(`${base}/api/runs/dash_run/cancel`, { method: 'POST', headers: ro }), ok: (r) => r.status === 403 },
      { name: 'read-only retry', req: () => fetch(`${base}/api/tasks/dash_task/retry`, { method: 'POST', headers: ro }), ok: (r) => r.status === 403 },
      { name: 'traversal via /files', req: () => fetch(`${base}/files?path=../../../../etc/passwd`, { headers: admin }), ok: (r, b) => r.status >= 400 && r.status < 500 && !b.includes('root:') },
      { name: 'encoded traversal in a route', req: () => fetch(`${base}/runs/..%2f..%2f..%2fetc%2fpasswd`, { headers: admin }), ok: (r, b) => r.status >= 400 && !b.includes('root:') },
      { name: 'oversized body (2 MB)', req: () => fetch(`${base}/api/runs/dash_run/cancel`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ x: 'a'.repeat(2_000_000) }) }), ok: (r) => r.status === 413 },
    ];
    for (const c of cases) {
      const r = await c.req();
      const body = await r.text();
      const row = (await world.store.get('dash_task'))!;
      const problems: string[] = [];
      if (!c.ok(r, body)) problems.push(`${c.name}: HTTP ${r.status} ${body.slice(0, 200)}`);
      if (row.status !== 'Queued') problems.push(`${c.name}: the task row changed to ${row.status}`);
      recordResult({ fault: `dashboard: ${c.name}`, tries: 1, survived: problems.length ? 0 : 1, lost: row.status === 'Queued' ? 0 : 1 });
      assert.deepEqual(problems, []);
    }
    assert.ok(dash.alive(), 'the dashboard is still up');
  } finally {
    await world.close();
  }
});
