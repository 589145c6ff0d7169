import type { SmqConfig } from '../../core/config.ts';
import type { EngineName, JobResult } from '../../core/types.ts';
import type { ProgressUpdate } from '../handlers/types.ts';

/**
 * The IPC messages between a worker and the child process that runs one task. Everything is
 * plain JSON: the child rebuilds its own store connection and engines from `services`, so
 * nothing that holds a socket or a file handle crosses the boundary.
 */
export interface ServiceSpec {
  config: SmqConfig;
  engines: EngineName[];
  /** GPU device index handed to the engines; null = engine default. */
  gpu: number | null;
  /** Engine-specific settings (e.g. the worker's `--wgp-*` overrides). */
  engineOptions: Record<string, unknown>;
  outputRoot: string;
  /** PostgreSQL schema (search_path) the store works in; null = the connection's default. */
  storeSchema: string | null;
}

export interface ChildTaskSpec {
  taskId: string;
  taskType: string;
  runId: string | null;
  parentTaskId: string | null;
  attemptsMade: number;
  debug: boolean;
  /** Already validated by the parent; the child parses them again to get the schema's defaults/coercions. */
  params: unknown;
  /** Children values fetched by the parent (the child has no BullMQ job). */
  children: Record<string, JobResult>;
  /** Modules whose default export is TaskHandler[], loaded in the child too. */
  pluginModules: string[];
  services: ServiceSpec;
  logLevel: string;
  workerName: string;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  /** True when the job must not be retried (UnrecoverableError or a non-retryable SmqError). */
  unrecoverable: boolean;
  stack?: string;
}

export type ParentMessage = { type: 'run'; spec: ChildTaskSpec };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; update: ProgressUpdate }
  | { type: 'result'; result: JobResult }
  | { type: 'error'; error: SerializedError };
