import { test } from 'node:test';
import { redisRestartScenario } from '../support/faults/redis-restart.ts';

test('Redis restarts with AOF mid-run: queues come back and the run finishes', { timeout: 330_000 }, async () => {
  await redisRestartScenario(true);
});
