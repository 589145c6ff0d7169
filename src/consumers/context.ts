import type { Logger } from 'pino';
import type { SmqConfig } from '../core/config.ts';
import { SmqError } from '../core/errors.ts';
import type { JobResult } from '../core/types.ts';
import type { TaskStore } from '../db/task-store.ts';
import type { EngineRegistry } from './engines/engine.ts';
import type { FlowControl, HandlerContext, OutputStorage, ProgressUpdate } from './handlers/types.ts';

/**
 * Builds the HandlerContext a handler sees, the same way in the worker process (inline handlers)
 * and in a task's child process, so a handler cannot tell where it runs.
 */

/** The long-lived things a context lends out; opened lazily so a noop job never connects to a DB. */
export interface WorkerServices {
  readonly store: TaskStore;
  readonly engines: EngineRegistry;
  readonly outputs: OutputStorage;
  close(): Promise<void>;
}

export interface ContextInput {
  taskId: string;
  taskType: string;
  runId: string | null;
  parentTaskId: string | null;
  attemptsMade: number;
  outputRoot: string;
  debug: boolean;
  config: SmqConfig;
  /** A function is called on first use (the worker makes the AbortController and child logger lazily). */
  signal: AbortSignal | (() => AbortSignal);
  log: Logger | (() => Logger);
  progress: (update: ProgressUpdate) => Promise<void>;
  children: () => Promise<Record<string, JobResult>>;
  /** Made on first use: only orchestrators touch it. */
  flow: () => FlowControl;
  services: WorkerServices;
}

export function buildHandlerContext(input: ContextInput): HandlerContext {
  let flow: FlowControl | undefined;
  const ctx = {
    taskId: input.taskId,
    taskType: input.taskType,
    runId: input.runId,
    parentTaskId: input.parentTaskId,
    attemptsMade: input.attemptsMade,
    outputRoot: input.outputRoot,
    progress: input.progress,
    children: input.children,
    config: input.config,
    debug: input.debug,
  } as HandlerContext;
  const { signal, log } = input;
  Object.defineProperties(ctx, {
    signal: typeof signal === 'function' ? { get: signal, enumerable: true } : { value: signal, enumerable: true },
    log: typeof log === 'function' ? { get: log, enumerable: true } : { value: log, enumerable: true },
    store: { get: () => input.services.store, enumerable: true },
    engines: { get: () => input.services.engines, enumerable: true },
    outputs: { get: () => input.services.outputs, enumerable: true },
    flow: { get: () => (flow ??= input.flow()), enumerable: true },
  });
  return ctx;
}

/** Where a handler running outside a BullMQ job (a child process) ends up if it asks for flow control. */
export function noFlowControl(taskType: string): () => FlowControl {
  return () => {
    throw new SmqError(
      'VALIDATION',
      `${taskType} runs in a child process and has no flow control; only inline (orchestrator) handlers can add children`,
    );
  };
}

/** Turns BullMQ's `{ "<prefix>:<queue>:<id>": value }` into `{ <id>: value }` (ids never contain ':'). */
export function rekeyChildrenValues(values: Record<string, unknown>): Record<string, JobResult> {
  const out: Record<string, JobResult> = {};
  for (const [key, value] of Object.entries(values)) out[key.slice(key.lastIndexOf(':') + 1)] = value as JobResult;
  return out;
}

/**
 * A TaskStore that opens the real one on first call. Every store method is async, so a Proxy can
 * await the open before forwarding; `kind`/`tableName` come from the config without opening.
 */
export function lazyStore(config: SmqConfig, open: () => Promise<TaskStore>): { store: TaskStore; close(): Promise<void> } {
  let opened: Promise<TaskStore> | undefined;
  const get = () => (opened ??= open());
  const store = new Proxy({} as TaskStore, {
    get(_t, prop) {
      if (prop === 'kind') return config.dbType;
      if (prop === 'tableName') return config.tableName;
      // Not a thenable: `await ctx.store` must not try to call `then`.
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      if (prop === 'close') return async () => (opened ? (await opened).close() : undefined);
      return async (...args: unknown[]) => {
        const real = await get();
        const fn = (real as unknown as Record<string, unknown>)[prop];
        if (typeof fn !== 'function') throw new TypeError(`TaskStore has no method ${String(prop)}`);
        return (fn as (...a: unknown[]) => unknown).apply(real, args);
      };
    },
  });
  return { store, close: () => store.close() };
}

/** Creates a value on first use and closes it only if it was created. */
export function lazy<T>(create: () => T): { get(): T; ifCreated(): T | undefined } {
  let value: T | undefined;
  let made = false;
  return {
    get() {
      if (!made) {
        value = create();
        made = true;
      }
      return value as T;
    },
    ifCreated: () => (made ? value : undefined),
  };
}
