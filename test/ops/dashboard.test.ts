import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { TASK_STATUSES } from '../../src/core/types.ts';
import { ALL_QUEUES } from '../../src/flows/queues.ts';
import { parsePrometheus, rawRequest, seedCompletedRun, startTestDashboard, TEST_AUTH, type SeededRun, type TestDashboard } from './support.ts';

const ADMIN = { authorization: `Bearer ${TEST_AUTH.token}` };
const READONLY = { authorization: `Bearer ${TEST_AUTH.readonlyToken}` };
const BASIC = { authorization: `Basic ${Buffer.from(`${TEST_AUTH.user}:${TEST_AUTH.password}`).toString('base64')}` };

/** Bull Board's own routes, with parameters filled in, so the walk covers every one of them. */
function boardRoutes(): { method: string; path: string }[] {
  const fill = (r: string) =>
    `/admin/queues${r}`.replace(':queueName', ALL_QUEUES[0]!).replace(':jobId', 'nojob').replace(':queueStatus', 'failed').replace(':schedulerId', 'nosched').replace(/\/$/, '');
  const out: { method: string; path: string }[] = [];
  const entry = appRoutes.entryPoint;
  for (const r of Array.isArray(entry.route) ? entry.route : [entry.route]) out.push({ method: 'GET', path: fill(r) });
  for (const api of appRoutes.api) {
    const methods = Array.isArray(api.method) ? api.method : [api.method];
    for (const m of methods) for (const r of Array.isArray(api.route) ? api.route : [api.route]) out.push({ method: m.toUpperCase(), path: fill(r) });
  }
  return out;
}

function smqRoutes(run: SeededRun): { method: string; path: string }[] {
  const files = `/files?task_id=${encodeURIComponent(run.rootId)}&path=${encodeURIComponent(run.videoPath)}`;
  return [
    { method: 'GET', path: '/' },
    { method: 'GET', path: '/runs' },
    { method: 'GET', path: `/runs?q=${run.runId}&status=Complete&task_type=travel_segment` },
    { method: 'GET', path: `/runs/${run.runId}` },
    { method: 'GET', path: `/tasks/${run.rootId}` },
    { method: 'GET', path: files },
    { method: 'GET', path: '/metrics' },
    { method: 'GET', path: '/api/runs' },
    { method: 'GET', path: `/api/runs/${run.runId}` },
    { method: 'GET', path: '/api/tasks?status=Complete' },
    { method: 'GET', path: `/api/tasks/${run.rootId}` },
    { method: 'POST', path: `/api/runs/${run.runId}/cancel` },
    { method: 'POST', path: `/api/runs/${run.runId}/retry` },
    { method: 'POST', path: `/api/tasks/${run.queuedTaskId}/cancel` },
    { method: 'POST', path: `/api/tasks/${run.rootId}/retry` },
    { method: 'POST', path: '/logout' },
    { method: 'GET', path: '/no-such-page' },
  ];
}

const isAction = (m: string) => m !== 'GET' && m !== 'HEAD';

describe('dashboard over real Redis and SQLite', { timeout: 120_000 }, () => {
  let d: TestDashboard;
  let run: SeededRun;

  before(async () => {
    d = await startTestDashboard();
  });
  after(async () => {
    await d?.close();
  });

  test('pages and API answer without errors on an empty table', async () => {
    for (const p of ['/runs', '/runs?q=nothing', '/api/runs', '/api/tasks', '/metrics', '/admin/queues']) {
      const r = await rawRequest(d.port, { path: p, headers: ADMIN });
      assert.equal(r.status, 200, `${p} → ${r.status} ${r.body.slice(0, 200)}`);
      assert.doesNotMatch(r.body, /error-banner|internal error/i, p);
    }
    const page = await rawRequest(d.port, { path: '/runs', headers: ADMIN });
    assert.match(page.body, /No runs yet/);
    const missing = await rawRequest(d.port, { path: '/api/runs/nope', headers: ADMIN });
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body).error, /no run/);
  });

  test('a run written to the table appears on the runs page', async () => {
    run = await seedCompletedRun(d.store, d.dir);
    const page = await rawRequest(d.port, { path: '/runs', headers: ADMIN });
    assert.ok(page.body.includes(`data-run-id="${run.runId}"`));
    assert.doesNotMatch(page.body, /No runs yet/);
  });

  test('health routes answer without credentials', async () => {
    assert.equal((await rawRequest(d.port, { path: '/healthz' })).status, 200);
    const ready = await rawRequest(d.port, { path: '/readyz' });
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(JSON.parse(ready.body), { ok: true, redis: 'ok', database: 'ok' });
  });

  test('every other page, API and Bull Board route is 401 without or with wrong credentials', async () => {
    const routes = [...smqRoutes(run), ...boardRoutes()];
    assert.ok(routes.length > 50, `walked ${routes.length} routes`);
    const wrong: (Record<string, string> | undefined)[] = [
      undefined,
      { authorization: 'Bearer wrong-token' },
      { authorization: `Basic ${Buffer.from(`${TEST_AUTH.user}:nope`).toString('base64')}` },
      { cookie: 'smq_session=admin.forged' },
    ];
    for (const headers of wrong) {
      for (const r of routes) {
        const res = await rawRequest(d.port, { method: r.method, path: r.path, headers: { ...headers, 'content-type': 'application/json' }, body: isAction(r.method) ? '{}' : undefined });
        assert.equal(res.status, 401, `${r.method} ${r.path} with ${JSON.stringify(headers)} → ${res.status}`);
        assert.match(String(res.headers['www-authenticate']), /Bearer/);
      }
    }
  });

  test('the read-only token reads everything and gets 403 on every action, Bull Board actions included', async () => {
    for (const r of smqRoutes(run).filter((x) => !isAction(x.method) && x.path !== '/no-such-page')) {
      const res = await rawRequest(d.port, { path: r.path, headers: READONLY });
      assert.equal(res.status, r.path === '/' ? 302 : 200, `GET ${r.path} → ${res.status} ${res.body.slice(0, 200)}`);
    }
    const actions = [...smqRoutes(run), ...boardRoutes()].filter((r) => isAction(r.method) && r.path !== '/logout');
    assert.ok(actions.length >= 25, `${actions.length} actions`);
    for (const r of actions) {
      const res = await rawRequest(d.port, { method: r.method, path: r.path, headers: { ...READONLY, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 403, `${r.method} ${r.path} → ${res.status}`);
    }
    // Nothing changed: the queued task is still Queued.
    assert.equal((await d.store.get(run.queuedTaskId))?.status, 'Queued');
  });

  test('basic auth and the admin token see the runs page with segments and the inline video', async () => {
    for (const headers of [ADMIN, BASIC]) {
      const res = await rawRequest(d.port, { path: '/runs', headers });
      assert.equal(res.status, 200);
      assert.ok(res.body.includes(run.runId));
      for (const id of run.segmentIds) assert.ok(res.body.includes(id), `segment ${id} listed`);
      assert.match(res.body, /<video controls[^>]+src="\/files\?task_id=/);
    }
    const api = JSON.parse((await rawRequest(d.port, { path: `/api/runs/${run.runId}`, headers: ADMIN })).body);
    assert.equal(api.rootTaskId, run.rootId);
    assert.equal(api.status, 'Complete');
    assert.equal(api.finalVideo, run.videoPath);
    assert.deepEqual(
      api.steps.filter((s: { taskType: string }) => s.taskType === 'travel_segment').map((s: { index: number; workerId: string; attempts: number }) => [s.index, s.workerId, s.attempts]),
      [
        [0, 'test-worker', 1],
        [1, 'test-worker', 1],
      ],
    );
    const task = JSON.parse((await rawRequest(d.port, { path: `/api/tasks/${run.segmentIds[1]}`, headers: ADMIN })).body);
    assert.equal(task.task.taskId, run.segmentIds[1]);
    assert.equal(task.job, null);
  });

  test('search by run id, task id, status and task type', async () => {
    const byTask = await rawRequest(d.port, { path: `/runs?q=${run.segmentIds[0]}`, headers: ADMIN });
    assert.ok(byTask.body.includes(`data-run-id="${run.runId}"`), 'a task id finds its run');
    const byStatus = JSON.parse((await rawRequest(d.port, { path: '/api/tasks?status=Queued', headers: ADMIN })).body);
    assert.deepEqual(byStatus.tasks.map((t: { taskId: string }) => t.taskId), [run.queuedTaskId]);
    const byType = JSON.parse((await rawRequest(d.port, { path: `/api/tasks?q=${run.runId}&task_type=travel_segment`, headers: ADMIN })).body);
    assert.deepEqual(byType.tasks.map((t: { taskId: string }) => t.taskId).sort(), [...run.segmentIds].sort());
    const none = await rawRequest(d.port, { path: '/runs?status=Failed', headers: ADMIN });
    assert.equal(none.status, 200);
    assert.ok(!none.body.includes(`data-run-id="${run.runId}"`));
    const bad = await rawRequest(d.port, { path: '/api/tasks?status=Done', headers: ADMIN });
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error, /status/);
  });

  test('/files serves only recorded outputs and refuses traversal', async () => {
    const ok = await rawRequest(d.port, { path: `/files?task_id=${encodeURIComponent(run.rootId)}&path=${encodeURIComponent(run.videoPath)}`, headers: ADMIN });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'not really a video, but bytes to serve');
    const traversal = await rawRequest(d.port, { path: `/files?task_id=${encodeURIComponent(run.rootId)}&path=${encodeURIComponent(`${d.dir}/../../etc/passwd`)}`, headers: ADMIN });
    assert.equal(traversal.status, 400);
    const notRecorded = await rawRequest(d.port, { path: `/files?task_id=${encodeURIComponent(run.rootId)}&path=${encodeURIComponent('/etc/passwd')}`, headers: ADMIN });
    assert.equal(notRecorded.status, 403);
    for (const p of ['/admin/queues/static/../../../package.json', '/admin/queues/static/..%2f..%2fpackage.json', '/runs/%2e%2e/%2e%2e/etc/passwd']) {
      const res = await rawRequest(d.port, { path: p, headers: ADMIN });
      assert.equal(res.status, 400, `${p} → ${res.status}`);
    }
  });

  test('oversized bodies get 413', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(200 * 1024) });
    const res = await rawRequest(d.port, { method: 'POST', path: `/api/tasks/${run.queuedTaskId}/cancel`, headers: { ...ADMIN, 'content-type': 'application/json' }, body: big }).catch((e) => e);
    assert.equal(res.status, 413, String(res.body ?? res));
    const chunked = await rawRequest(d.port, { method: 'POST', path: `/api/tasks/${run.queuedTaskId}/cancel`, headers: { ...ADMIN, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big }).catch((e) => e);
    assert.equal(chunked.status, 413);
    assert.equal((await d.store.get(run.queuedTaskId))?.status, 'Queued');
  });

  test('/metrics parses as Prometheus text and its table counts follow countsByStatus', async () => {
    const check = async () => {
      const res = await rawRequest(d.port, { path: '/metrics', headers: ADMIN });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /text\/plain/);
      const samples = parsePrometheus(res.body);
      const counts = await d.store.countsByStatus();
      for (const status of TASK_STATUSES) {
        const s = samples.find((x) => x.name === 'smq_tasks' && x.labels.status === status);
        assert.equal(s?.value, counts[status], `smq_tasks{status="${status}"}`);
      }
      for (const q of ALL_QUEUES) {
        assert.ok(samples.some((x) => x.name === 'smq_queue_jobs' && x.labels.queue === q && x.labels.state === 'waiting'), `jobs gauge for ${q}`);
        assert.ok(samples.some((x) => x.name === 'smq_queue_workers' && x.labels.queue === q));
      }
      return { samples, counts };
    };
    const first = await check();
    assert.equal(first.counts.Complete, run.segmentIds.length + 2);
    assert.equal(first.counts.Queued, 1);
    await d.redis.hset(`${d.config.queuePrefix}:smq:reconciler-stats`, { lagMs: '42', appliedEvents: '7' });
    await d.store.transition({ taskId: run.queuedTaskId, status: 'In Progress', workerId: 'w' });
    const second = await check();
    assert.equal(second.counts['In Progress'], 1);
    assert.equal(second.counts.Queued, 0);
    assert.equal(second.samples.find((s) => s.name === 'smq_reconciler_lag_seconds')?.value, 0.042);
  });

  test('cancel through the API goes through control.ts and cancels the row', async () => {
    const extra = `sm_task_cancelme_${Date.now()}`;
    await d.store.insert({ taskId: extra, taskType: 'noop', params: {}, runId: null, parentTaskId: null, queueName: 'cpu' });
    const res = await rawRequest(d.port, { method: 'POST', path: `/api/tasks/${extra}/cancel`, headers: { ...ADMIN, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 200, res.body);
    assert.equal((await d.store.get(extra))?.status, 'Cancelled');
    const missing = await rawRequest(d.port, { method: 'POST', path: '/api/tasks/nope/retry', headers: ADMIN });
    assert.equal(missing.status, 404);
    assert.ok(JSON.parse(missing.body).error);
  });

  test('/login sets an HttpOnly cookie; the read-only cookie can read but not act', async () => {
    const bad = await rawRequest(d.port, { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['set-cookie'], undefined);
    const login = async (body: string) => {
      const res = await rawRequest(d.port, { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      assert.equal(res.status, 303);
      const cookie = String(res.headers['set-cookie']);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      return cookie.split(';')[0]!;
    };
    const admin = await login(`token=${TEST_AUTH.token}&next=/runs`);
    assert.equal((await rawRequest(d.port, { path: '/runs', headers: { cookie: admin } })).status, 200);
    const viaBasic = await login(`user=${TEST_AUTH.user}&password=${TEST_AUTH.password}`);
    assert.equal((await rawRequest(d.port, { path: '/admin/queues/api/queues', headers: { cookie: viaBasic } })).status, 200);
    const ro = await login(`token=${TEST_AUTH.readonlyToken}`);
    assert.equal((await rawRequest(d.port, { path: `/tasks/${run.rootId}`, headers: { cookie: ro } })).status, 200);
    const act = await rawRequest(d.port, { method: 'PUT', path: `/admin/queues/api/queues/${ALL_QUEUES[0]}/pause`, headers: { cookie: ro } });
    assert.equal(act.status, 403);
    assert.equal(await d.redis.hget(`${d.config.queuePrefix}:${ALL_QUEUES[0]}:meta`, 'paused'), null);
  });
});
