import { z } from 'zod';
import type { TaskHandler } from './types.ts';

/** Does nothing, at once: a canary for health checks and the dispatch benchmarks. */
const schema = z.object({}).passthrough();

export const noopHandler: TaskHandler<z.infer<typeof schema>> = {
  taskType: 'noop',
  schema,
  timeoutMs: 10_000,
  isolation: 'inline',
  async run() {
    return { output_location: null };
  },
};
