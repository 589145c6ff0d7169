import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskRow } from '../../src/core/types.ts';
import { html, escapeHtml } from '../../src/ops/dashboard/html.ts';
import { buildRunView, progressOf } from '../../src/ops/dashboard/run-view.ts';
import { runSummary } from '../../src/ops/dashboard/views/runs.ts';
import { checkRequestedPath } from '../../src/ops/dashboard/handlers/files.ts';
import { isTraversal } from '../../src/ops/dashboard/app.ts';
import { authenticate, sessionFor } from '../../src/ops/dashboard/auth.ts';
import { lagSeconds } from '../../src/ops/metrics.ts';

function row(p: Partial<TaskRow> & Pick<TaskRow, 'taskId' | 'taskType'>): TaskRow {
  return {
    params: {}, paramsError: null, status: 'Queued', workerId: null, outputLocation: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    attempts: 0, errorMessage: null, progress: null, runId: 'r1', parentTaskId: null, queueName: null, startedAt: null, finishedAt: null, ...p,
  };
}

test('html escapes every interpolated value, including attribute breakers', () => {
  const evil = `"><script>alert(1)</script>'`;
  const out = html`<a title="${evil}">${evil}</a>`.value;
  assert.ok(!out.includes('<script>'));
  assert.equal(out, `<a title="${escapeHtml(evil)}">${escapeHtml(evil)}</a>`);
  const root = row({ taskId: 'root', taskType: 'travel_orchestrator', errorMessage: '<img src=x onerror=alert(1)>' });
  const page = runSummary(buildRunView(root, [root]), { detail: false }).value;
  assert.ok(!page.includes('<img src=x'), 'error messages are escaped');
});

test('run view: segments ordered by index, stitch last, progress averaged, final video from the stitch', () => {
  const root = row({ taskId: 'root', taskType: 'travel_orchestrator', status: 'Complete', finishedAt: '2026-01-01T00:00:10.000Z' });
  const rows = [
    root,
    row({ taskId: 'st', taskType: 'travel_stitch', parentTaskId: 'root', status: 'Complete', outputLocation: '/o/final.mp4' }),
    row({ taskId: 's1', taskType: 'travel_segment', parentTaskId: 'root', params: { segment_index: 1 }, status: 'In Progress', progress: { stage: 'generate', percent: 40 } }),
    row({ taskId: 's0', taskType: 'travel_segment', parentTaskId: 'root', params: { segment_index: 0 }, status: 'Complete', outputLocation: '/o/s0.mp4' }),
  ];
  const v = buildRunView(root, rows);
  assert.deepEqual(v.steps.map((s) => s.taskId), ['s0', 's1', 'st']);
  assert.equal(v.finalVideo, '/o/final.mp4');
  assert.equal(v.durationMs, 10_000);
  const running = buildRunView({ ...root, status: 'In Progress', finishedAt: null }, rows.map((r) => (r.taskId === 'root' ? { ...r, status: 'In Progress' as const } : r)));
  assert.equal(running.percent, Math.round((100 + 40 + 100) / 3));
  assert.equal(running.finalVideo, null);
  assert.deepEqual(progressOf({ status: 'In Progress', progress: { percent: 140 } }), { percent: 100, stage: null });
});

test('traversal and file path checks', () => {
  assert.equal(isTraversal('/runs/../etc'), true);
  assert.equal(isTraversal('/runs/%2e%2e/etc'), true);
  assert.equal(isTraversal('/a/..%2Fb'), true);
  assert.equal(isTraversal('/files?path=/x/%00'), false, 'query strings are checked by /files itself');
  assert.equal(isTraversal('/runs/20260101_x'), false);
  assert.deepEqual(checkRequestedPath('relative/file.mp4'), { ok: false, status: 400, error: 'path: must be absolute (an output_location from the table)' });
  assert.equal(checkRequestedPath('/a/../b.mp4').ok, false);
  assert.equal(checkRequestedPath('/a/b\0.mp4').ok, false);
  assert.deepEqual(checkRequestedPath('/a//b.mp4'), { ok: true, path: '/a/b.mp4' });
});

test('session cookies are bound to the credential that issued them', () => {
  const auth = { token: 'A', user: null, password: null, readonlyToken: 'R' };
  const admin = sessionFor('admin', auth)!;
  assert.equal(authenticate({ cookie: `smq_session=${admin}` }, auth), 'admin');
  assert.equal(authenticate({ cookie: `smq_session=${sessionFor('readonly', auth)}` }, auth), 'readonly');
  assert.equal(authenticate({ cookie: `smq_session=${admin}` }, { ...auth, token: 'rotated' }), null, 'rotating the token logs everyone out');
  assert.equal(authenticate({ cookie: `smq_session=readonly.${admin.split('.')[1]}` }, auth), null, 'a role cannot be swapped in a cookie');
});

test('reconciler lag is read from the stats hash in milliseconds', () => {
  assert.equal(lagSeconds({ lagMs: '250', id: 'x' }), 0.25);
  assert.equal(lagSeconds({ id: 'x' }), null);
});
