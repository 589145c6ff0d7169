import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deferSweep, MAX_SWEEPS_DEFERRED } from '../../src/reconciler/reconciler.ts';

test('a periodic sweep waits while the streams hold a backlog, but not for ever, and a requested one never waits', () => {
  assert.equal(deferSweep({ behind: false, requested: false, deferredInARow: 0 }), false, 'caught up: sweep');
  assert.equal(deferSweep({ behind: true, requested: false, deferredInARow: 0 }), true, 'backlog: the events will do it');
  assert.equal(deferSweep({ behind: true, requested: true, deferredInARow: 0 }), false, 'a trimmed or vanished stream: sweep now');
  assert.equal(deferSweep({ behind: true, requested: false, deferredInARow: MAX_SWEEPS_DEFERRED - 1 }), true);
  assert.equal(deferSweep({ behind: true, requested: false, deferredInARow: MAX_SWEEPS_DEFERRED }), false, 'a reconciler that never catches up still sweeps');
});
