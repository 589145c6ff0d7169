/**
 * Worker plugin for the pickup-latency bench: replaces `noop` with a handler that does nothing but
 * report the moment it starts. The report goes through a process-global hook because the worker
 * loads plugins by path; with no hook installed it is exactly the built-in noop.
 */
import { z } from 'zod';
import type { TaskHandler } from '../src/consumers/handlers/types.ts';

export const PROBE_HOOK = Symbol.for('smq.bench.handlerStarted');

type Hook = (taskId: string, at: number) => void;

export function setProbeHook(hook: Hook | undefined): void {
  (globalThis as Record<symbol, unknown>)[PROBE_HOOK] = hook;
}

const schema = z.object({}).passthrough();

const probeNoop: TaskHandler<z.infer<typeof schema>> = {
  taskType: 'noop',
  schema,
  timeoutMs: 10_000,
  isolation: 'inline',
  async run(_params, ctx) {
    const at = performance.now();
    ((globalThis as Record<symbol, unknown>)[PROBE_HOOK] as Hook | undefined)?.(ctx.taskId, at);
    return { output_location: null };
  },
};

export default [probeNoop];
