import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import type { SmqConfig } from '../../core/config.ts';
import type { JobResult } from '../../core/types.ts';
import type { TaskStore } from '../../db/task-store.ts';
import type { EngineRegistry } from '../engines/engine.ts';

/**
 * The contract between the worker runtime and task handlers. A handler is a plain function of
 * validated params and this context: it imports neither bullmq nor a concrete store, so it can be
 * tested with real engines and a real SQLite file and no Redis.
 */

export interface ProgressUpdate {
  stage: string;
  /** 0..100 for this task. */
  percent: number;
  detail?: string;
}

/** A node of a flow tree a handler asks to run under itself (converted to a BullMQ FlowJob by src/flows). */
export interface ChildTask {
  taskId: string;
  taskType: string;
  params: Record<string, unknown>;
  /** Children run before this node; their results are readable via `children()`. */
  children?: ChildTask[];
}

/** Flow control, meaningful only for orchestrator handlers. */
export interface FlowControl {
  /** The step stored in job data across waiting-children rounds (undefined on the first run). */
  readonly step: string | undefined;
  /** Adds `tree` as children of the current job (idempotent: job ids are task ids). */
  addChildren(trees: ChildTask[]): Promise<void>;
  /**
   * Parks the current job until every child has finished, recording `nextStep`; the handler is
   * then run again from the top with `step === nextStep`. Returns false if nothing was pending
   * (the handler must carry on itself), otherwise never returns normally.
   */
  waitForChildren(nextStep: string): Promise<false>;
}

/** Where outputs go: a local path under the shared output root, or a Storage URL in Supabase mode. */
export interface OutputStorage {
  /** Publishes a final artefact; returns the output_location (absolute path, or public URL). */
  publish(localPath: string, opts: { taskId: string; fileName?: string }): Promise<string>;
  /** Turns a reference another job produced (path or URL) into a local file this worker can read. */
  resolve(reference: string, workDir: string): Promise<string>;
}

export interface HandlerContext {
  taskId: string;
  taskType: string;
  runId: string | null;
  parentTaskId: string | null;
  attemptsMade: number;
  /** Worker's --main-output-dir, absolute. */
  outputRoot: string;
  signal: AbortSignal;
  log: Logger;
  progress(update: ProgressUpdate): Promise<void>;
  store: TaskStore;
  engines: EngineRegistry;
  outputs: OutputStorage;
  /** Return values of this job's finished children, keyed by child task id. */
  children(): Promise<Record<string, JobResult>>;
  flow: FlowControl;
  config: SmqConfig;
  debug: boolean;
}

export interface TaskHandler<P = unknown> {
  taskType: string;
  /** Validates params at the edge; a failure fails the job without retries and names the field. */
  schema: ZodType<P>;
  /** Hard timeout; the work is really stopped when it passes. */
  timeoutMs: number;
  /**
   * 'inline' runs in the worker process (cheap, non-blocking work such as planning);
   * 'process' runs in a child process that cancel/timeout kill, so heavy CPU/GPU work never
   * blocks the worker's lock renewal and an OOM cannot take the worker down.
   */
  isolation: 'inline' | 'process';
  run(params: P, ctx: HandlerContext): Promise<JobResult>;
}
