import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/core/errors.ts';
import { TASK_STATUSES } from '../../src/core/types.ts';
import { assertStatus, isTerminal, planTransition, statusRank, validateUpdate, type MutableState } from '../../src/db/status-rules.ts';

const base: MutableState = {
  status: 'Queued',
  outputLocation: null,
  errorMessage: null,
  progressJson: null,
  workerId: null,
  attempts: 0,
  startedAt: null,
  finishedAt: null,
};
const NOW = '2025-01-01 00:00:00.000';

describe('status rules', () => {
  it('ranks Queued < In Progress < terminal', () => {
    assert.deepEqual(TASK_STATUSES.map(statusRank), [0, 1, 2, 2, 2]);
    assert.deepEqual(TASK_STATUSES.filter(isTerminal), ['Complete', 'Failed', 'Cancelled']);
  });

  it('moves forward, stamping started_at and finished_at', () => {
    const active = planTransition(base, { taskId: 't', status: 'In Progress', workerId: 'w' }, NOW);
    assert.deepEqual(active, { ...base, status: 'In Progress', workerId: 'w', startedAt: NOW });
    const done = planTransition(active!, { taskId: 't', status: 'Complete', outputLocation: '/o' }, 'later');
    assert.deepEqual(done, { ...active!, status: 'Complete', outputLocation: '/o', finishedAt: 'later' });
  });

  it('keeps an explicit timestamp over the stamp, converted to the store form', () => {
    const next = planTransition(base, { taskId: 't', status: 'Failed', finishedAt: '2024-05-06T07:08:09.010Z' }, NOW, (iso) => `conv:${iso}`);
    assert.equal(next?.finishedAt, 'conv:2024-05-06T07:08:09.010Z');
  });

  it('changes nothing for the same update twice', () => {
    const u = { taskId: 't', status: 'In Progress' as const, progress: { p: 1 }, attempts: 2 };
    const once = planTransition(base, u, NOW)!;
    assert.equal(planTransition(once, u, 'later'), null);
  });

  it('drops backwards updates whole, and never touches terminal rows', () => {
    const active = { ...base, status: 'In Progress' as const, startedAt: NOW };
    assert.equal(planTransition(active, { taskId: 't', status: 'Queued', errorMessage: 'x' }, NOW), null);
    for (const status of ['Complete', 'Failed', 'Cancelled'] as const) {
      const terminal = { ...base, status };
      for (const u of [{ status: 'In Progress' as const }, { status: 'Failed' as const }, { outputLocation: '/x' }, { attempts: 9 }]) {
        assert.equal(planTransition(terminal, { taskId: 't', ...u }, NOW), null, `${status} + ${JSON.stringify(u)}`);
      }
    }
  });

  it('applies field-only updates on open rows; attempts only grow', () => {
    const active = { ...base, status: 'In Progress' as const, attempts: 3 };
    assert.deepEqual(planTransition(active, { taskId: 't', progress: { stage: 'a' } }, NOW), { ...active, progressJson: '{"stage":"a"}' });
    assert.equal(planTransition(active, { taskId: 't', attempts: 1 }, NOW), null);
    assert.equal(planTransition(active, { taskId: 't', attempts: 5 }, NOW)?.attempts, 5);
    assert.deepEqual(planTransition({ ...active, progressJson: '{}' }, { taskId: 't', progress: null }, NOW), { ...active, progressJson: null });
  });

  it('refuses unknown statuses and malformed updates, naming the field', () => {
    assert.throws(() => assertStatus('Done'), (e: unknown) => e instanceof ValidationError && e.field === 'status' && e.message.includes('In Progress'));
    assert.throws(() => planTransition(base, { taskId: 't', status: 'queued' as never }, NOW), ValidationError);
    const bad: [unknown, string][] = [
      [{ taskId: '' }, 'taskId'],
      [{ taskId: 't', status: 'Nope' }, 'status'],
      [{ taskId: 't', attempts: 1.5 }, 'attempts'],
      [{ taskId: 't', outputLocation: 5 }, 'outputLocation'],
      [{ taskId: 't', startedAt: 'yesterday' }, 'startedAt'],
    ];
    for (const [u, field] of bad) {
      assert.throws(() => validateUpdate(u as never), (e: unknown) => e instanceof ValidationError && e.field === field, JSON.stringify(u));
    }
  });
});
