import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ConfigError, SmqError } from '../../core/errors.ts';
import type { TaskHandler } from './types.ts';

/**
 * Task type → handler. Built-in handlers are imported on demand, so a task's child process loads
 * only the module it runs; plugins (`--plugin <module>`, default export TaskHandler[]) add task
 * types of their own and may replace a built-in one on purpose.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTaskHandler = TaskHandler<any>;
type Loader = () => Promise<AnyTaskHandler>;

const BUILTIN: Record<string, Loader> = {
  noop: async () => (await import('./noop.ts')).noopHandler,
  travel_orchestrator: async () => (await import('./travel-orchestrator.ts')).travelOrchestratorHandler,
  travel_segment: async () => (await import('./travel-segment.ts')).travelSegmentHandler,
  travel_stitch: async () => (await import('./travel-stitch.ts')).travelStitchHandler,
  generate_openpose: async () => (await import('./generate-openpose.ts')).generateOpenposeHandler,
  rife_interpolate_images: async () => (await import('./rife-interpolate.ts')).rifeInterpolateHandler,
  standard_wgp_task: async () => (await import('./standard-wgp.ts')).standardWgpHandler,
  comfyui_workflow: async () => (await import('./comfyui-workflow.ts')).comfyuiWorkflowHandler,
  different_pose_orchestrator: async () => (await import('./different-pose-orchestrator.ts')).differentPoseOrchestratorHandler,
  different_pose_guide: async () => (await import('./different-pose-guide.ts')).differentPoseGuideHandler,
  different_pose_finalize: async () => (await import('./different-pose-finalize.ts')).differentPoseFinalizeHandler,
};

export const BUILTIN_TASK_TYPES: readonly string[] = Object.keys(BUILTIN);

export class HandlerRegistry {
  private readonly byType = new Map<string, AnyTaskHandler>();
  constructor(handlers: AnyTaskHandler[]) {
    for (const h of handlers) this.byType.set(h.taskType, h);
  }
  get(taskType: string): AnyTaskHandler | undefined {
    return this.byType.get(taskType);
  }
  types(): string[] {
    return [...this.byType.keys()].sort();
  }
}

export interface LoadRegistryOptions {
  /** Module paths (absolute, or relative to the working directory) whose default export is TaskHandler[]. */
  plugins?: string[];
  /** Load only what is needed for this task type (child processes). */
  only?: string;
}

export async function loadHandlerRegistry(opts: LoadRegistryOptions = {}): Promise<HandlerRegistry> {
  const handlers: AnyTaskHandler[] = [];
  const builtinTypes = opts.only !== undefined ? (BUILTIN[opts.only] ? [opts.only] : []) : BUILTIN_TASK_TYPES;
  for (const t of builtinTypes) handlers.push(await loadBuiltin(t));
  for (const p of opts.plugins ?? []) {
    const fromPlugin = await loadPluginHandlers(p);
    handlers.push(...(opts.only !== undefined ? fromPlugin.filter((h) => h.taskType === opts.only) : fromPlugin));
  }
  return new HandlerRegistry(handlers);
}

/**
 * A built-in whose module does not load (a broken dependency) still gets a handler: one that fails
 * its jobs with the load error, so the worker keeps serving every other task type and the row says
 * exactly what is wrong instead of "unknown task type".
 */
async function loadBuiltin(taskType: string): Promise<AnyTaskHandler> {
  try {
    return await BUILTIN[taskType]();
  } catch (err) {
    const why = (err as Error).message;
    return {
      taskType,
      schema: z.unknown(),
      timeoutMs: 1000,
      isolation: 'inline',
      run: async () => {
        throw new SmqError('CONFIG', `the ${taskType} handler could not be loaded on this worker: ${why}`);
      },
    };
  }
}

export function resolvePluginPath(modulePath: string): string {
  return path.resolve(modulePath);
}

export async function loadPluginHandlers(modulePath: string): Promise<AnyTaskHandler[]> {
  const abs = resolvePluginPath(modulePath);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (err) {
    throw new ConfigError('--plugin', `could not load plugin module ${abs}: ${(err as Error).message}`);
  }
  const list = mod.default;
  if (!Array.isArray(list)) {
    throw new ConfigError('--plugin', `plugin module ${abs} must have a default export that is an array of task handlers`);
  }
  list.forEach((h, i) => assertHandlerShape(h, `${abs} [${i}]`));
  return list as AnyTaskHandler[];
}

function assertHandlerShape(h: unknown, where: string): void {
  const o = h as Partial<AnyTaskHandler> | null;
  const problems: string[] = [];
  if (!o || typeof o !== 'object') problems.push('is not an object');
  else {
    if (typeof o.taskType !== 'string' || o.taskType === '') problems.push('taskType must be a non-empty string');
    if (!o.schema || typeof (o.schema as { safeParse?: unknown }).safeParse !== 'function') problems.push('schema must be a zod schema');
    if (typeof o.timeoutMs !== 'number' || !(o.timeoutMs > 0)) problems.push('timeoutMs must be a positive number');
    if (o.isolation !== 'inline' && o.isolation !== 'process') problems.push("isolation must be 'inline' or 'process'");
    if (typeof o.run !== 'function') problems.push('run must be a function');
  }
  if (problems.length) throw new ConfigError('--plugin', `task handler ${where}: ${problems.join('; ')}`);
}
