import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearResults, formatTable, readResults } from '../support/faults/results.ts';

// Runs last (file order): prints the table the fault files recorded during this runner's session.
test('fault suite results table', () => {
  const rows = readResults();
  clearResults();
  if (rows.length === 0) {
    console.log('no fault results were recorded in this run (run the fault files with this one)');
    return;
  }
  console.log(`\nfault suite results\n${formatTable(rows)}\n`);
  for (const r of rows) {
    assert.ok(r.tries >= 1 && r.survived >= 0 && r.survived <= r.tries, `${r.fault}: ${JSON.stringify(r)}`);
  }
  assert.deepEqual(rows.filter((r) => r.lost !== 0).map((r) => `${r.fault}: lost ${r.lost}`), [], 'nothing may be lost');
});
