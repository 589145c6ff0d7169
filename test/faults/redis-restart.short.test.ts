import { test } from 'node:test';
import { redisRestartScenario } from '../support/faults/redis-restart.ts';

test('Redis restarts without persistence mid-run: the sweep rebuilds the run from the table', { timeout: 330_000 }, async () => {
  await redisRestartScenario(false);
});
