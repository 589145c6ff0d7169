import os from 'node:os';
import path from 'node:path';
import { FlowProducer, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { resolveConfig, type SmqConfig } from '../core/config.ts';
import { CancelledError, ConfigError, TaskTimeoutError, UnknownTaskTypeError } from '../core/errors.ts';
import { createRedis } from '../core/redis.ts';
import { ENGINES, type EngineName, type JobData, type JobResult } from '../core/types.ts';
import { Dispatcher } from '../flows/dispatch.ts';
import { createFlowControl } from '../flows/flow-control.ts';
import { ALL_QUEUES, CPU_QUEUE, gpuQueue, smqKeys } from '../flows/queues.ts';
import { buildHandlerContext, rekeyChildrenValues } from './context.ts';
import type { HandlerContext, ProgressUpdate } from './handlers/types.ts';
import { loadHandlerRegistry, resolvePluginPath, type AnyTaskHandler, type HandlerRegistry } from './handlers/registry.ts';
import { createWorkerLogger } from './logger.ts';
import { runInChildProcess } from './sandbox/child-process.ts';
import { toJobError } from './sandbox/job-errors.ts';
import type { ChildTaskSpec, ServiceSpec } from './sandbox/protocol.ts';
import { createWorkerServices, type OpenedServices } from './sandbox/services.ts';
import { formatParamsError } from './sandbox/validate-params.ts';
import { JobStop } from './job-stop.ts';

/**
 * `smq worker`: one BullMQ Worker per queue this process serves, all running the same processor:
 * look up the handler, validate params, refuse cancelled ids, run the handler (inline or in a
 * child process) under a hard timeout, and turn its outcome into BullMQ's retry semantics.
 *
 * The worker never writes row status: the reconciler turns the queues' events into row updates,
 * so a worker that dies mid-job leaves nothing inconsistent behind — the stall check hands its
 * job to another worker and the rows follow the events.
 */
export interface SmqWorkerOptions {
  /** @defaultValue resolveConfig() (environment and `.env`) */
  config?: SmqConfig;
  /** @defaultValue config.redisUrl */
  redisUrl?: string;
  /** BullMQ key prefix. @defaultValue config.queuePrefix (`{smq}`) */
  prefix?: string;
  /** Engines this worker serves (and instantiates). @defaultValue ['onnx'] */
  engines?: EngineName[];
  /** Queues to take work from. @defaultValue `cpu` plus `gpu-<engine>` for each engine served */
  queues?: string[];
  /** Jobs run at once, per queue. @defaultValue 1 */
  concurrency?: number;
  /** Recorded on every job it runs (`job.processedBy`). @defaultValue `<hostname>-<pid>` */
  name?: string;
  /** GPU device index handed to the engines. @defaultValue null (engine default) */
  gpu?: number | null;
  /** `--main-output-dir`, resolved absolute. @defaultValue ./outputs */
  outputRoot?: string;
  /** BullMQ lock duration (renewed at half). @defaultValue 30000 */
  lockDuration?: number;
  /** How often the stall check runs. @defaultValue 30000 */
  stalledInterval?: number;
  /** Modules whose default export is TaskHandler[]. @defaultValue [] */
  plugins?: string[];
  /** Debug logging; handlers keep intermediates. @defaultValue false */
  debug?: boolean;
  /** How long close() lets running jobs finish before handing them back. @defaultValue 30000 */
  graceMs?: number;
  /** Engine settings (e.g. `wgp` overrides from `--wgp-*`). @defaultValue {} */
  engineOptions?: Record<string, unknown>;
  /** PostgreSQL schema the store works in (tests isolate by schema). @defaultValue null (connection default) */
  storeSchema?: string | null;
  /** @defaultValue a pino logger on stdout (level info, or debug with `debug`) */
  logger?: Logger;
}

export interface ResolvedWorkerOptions {
  config: SmqConfig;
  redisUrl: string;
  prefix: string;
  engines: EngineName[];
  queues: string[];
  concurrency: number;
  name: string;
  gpu: number | null;
  outputRoot: string;
  lockDuration: number;
  stalledInterval: number;
  plugins: string[];
  debug: boolean;
  graceMs: number;
  engineOptions: Record<string, unknown>;
  storeSchema: string | null;
}

const DEFAULTS = {
  engines: ['onnx'] as EngineName[],
  concurrency: 1,
  outputRoot: './outputs',
  lockDuration: 30_000,
  stalledInterval: 30_000,
  graceMs: 30_000,
  debug: false,
} satisfies Partial<ResolvedWorkerOptions>;

export function resolveWorkerOptions(opts: SmqWorkerOptions = {}): ResolvedWorkerOptions {
  const config = opts.config ?? resolveConfig();
  const engines = opts.engines?.length ? [...new Set(opts.engines)] : DEFAULTS.engines;
  for (const e of engines) {
    if (!(ENGINES as readonly string[]).includes(e)) {
      throw new ConfigError('--engine', `engine ${JSON.stringify(e)} is not one of ${ENGINES.join(', ')}`);
    }
  }
  const queues = opts.queues?.length ? [...new Set(opts.queues)] : [CPU_QUEUE, ...engines.map(gpuQueue)];
  for (const q of queues) {
    if (!(ALL_QUEUES as readonly string[]).includes(q)) {
      throw new ConfigError('--queues', `queue ${JSON.stringify(q)} is not one of ${ALL_QUEUES.join(', ')}`);
    }
  }
  const concurrency = positiveInt(opts.concurrency ?? DEFAULTS.concurrency, '--concurrency');
  const lockDuration = positiveInt(opts.lockDuration ?? DEFAULTS.lockDuration, '--lock-duration');
  if (lockDuration < 1000) throw new ConfigError('--lock-duration', `lock duration ${lockDuration} ms is too short: use at least 1000 ms`);
  const stalledInterval = positiveInt(opts.stalledInterval ?? DEFAULTS.stalledInterval, '--stalled-interval');
  const gpu = opts.gpu ?? null;
  if (gpu !== null && !(Number.isInteger(gpu) && gpu >= 0)) throw new ConfigError('--gpu', `GPU index ${gpu} must be a non-negative integer (e.g. --gpu 0)`);
  const graceMs = opts.graceMs ?? DEFAULTS.graceMs;
  if (!(Number.isFinite(graceMs) && graceMs >= 0)) throw new ConfigError('--grace', `grace period must be 0 or more seconds, got ${graceMs / 1000}`);
  const name = opts.name ?? `${os.hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._@-]{1,100}$/.test(name)) {
    throw new ConfigError('--name', `worker name ${JSON.stringify(name)} must be 1–100 letters, digits, '.', '_', '@' or '-'`);
  }
  return {
    config,
    redisUrl: opts.redisUrl ?? config.redisUrl,
    prefix: opts.prefix ?? config.queuePrefix,
    engines,
    queues,
    concurrency,
    name,
    gpu,
    // Absolute once, here: relative paths broke the seed's segment handler (spec 01 §5.8 item 10).
    outputRoot: path.resolve(opts.outputRoot ?? DEFAULTS.outputRoot),
    lockDuration,
    stalledInterval,
    plugins: (opts.plugins ?? []).map(resolvePluginPath),
    debug: opts.debug ?? DEFAULTS.debug,
    graceMs,
    engineOptions: opts.engineOptions ?? {},
    storeSchema: opts.storeSchema ?? null,
  };
}

function positiveInt(v: number, field: string): number {
  if (!(Number.isInteger(v) && v > 0)) throw new ConfigError(field, `${field} must be a positive integer, got ${v}`);
  return v;
}

/** Why a running job was stopped by the worker itself; decides what the processor throws. */
class ShutdownAbort extends Error {
  constructor() {
    super('worker shutting down: job handed back to the queue');
  }
}

interface RunningJob {
  job: Job<JobData>;
  stop: JobStop;
}

export class SmqWorker {
  readonly options: ResolvedWorkerOptions;
  private readonly log: Logger;
  private readonly workers: Worker[] = [];
  private readonly connections: Redis[] = [];
  private readonly running = new Map<string, RunningJob>();
  private registry: HandlerRegistry | undefined;
  private services: OpenedServices | undefined;
  private subscriber: Redis | undefined;
  private commands: Redis | undefined;
  private closing: Promise<void> | undefined;
  private flow: { producer: FlowProducer; dispatcher: Dispatcher; connection: Redis } | undefined;
  private handingBack = false;
  private readonly cancelledKey: string;

  constructor(opts: SmqWorkerOptions = {}) {
    this.options = resolveWorkerOptions(opts);
    this.log = opts.logger ?? createWorkerLogger({ name: this.options.name, debug: this.options.debug });
    this.cancelledKey = smqKeys(this.options.prefix).cancelledSet;
  }

  /** Ids of the jobs running right now (tests and the dashboard's worker view). */
  runningJobIds(): string[] {
    return [...this.running.keys()];
  }

  async start(): Promise<void> {
    const o = this.options;
    this.registry = await loadHandlerRegistry({ plugins: o.plugins });
    this.services = createWorkerServices(this.serviceSpec());
    await this.services.ready();
    // Every job asks this connection whether it was cancelled; auto-pipelining sends the checks of jobs
    // that start in the same tick in one write instead of one syscall each.
    this.commands = createRedis(o.redisUrl, { enableAutoPipelining: true });
    this.commands.on('error', (err) => this.log.warn({ err: err.message }, 'redis error'));
    await this.subscribeCancels();
    const processor = (job: Job<JobData>, token: string | undefined, signal?: AbortSignal) => this.process(job, token, signal);
    for (const queue of o.queues) {
      const connection = createRedis(o.redisUrl);
      connection.on('error', (err) => this.log.warn({ err: err.message, queue }, 'redis error'));
      this.connections.push(connection);
      const worker = new Worker<JobData, JobResult>(queue, processor, {
        connection,
        prefix: o.prefix,
        concurrency: o.concurrency,
        name: o.name,
        lockDuration: o.lockDuration,
        stalledInterval: o.stalledInterval,
        autorun: true,
      });
      // After a hand-back the connection is gone on purpose; BullMQ's complaints are expected then.
      worker.on('error', (err) => (this.handingBack ? this.log.debug({ err: err.message, queue }, 'worker error after hand-back') : this.log.error({ err: err.message, queue }, 'worker error')));
      worker.on('failed', (job, err) => this.log.info({ taskId: job?.id, queue, reason: err.message, attemptsMade: job?.attemptsMade }, 'task failed'));
      worker.on('completed', (job) => this.log.info({ taskId: job.id, queue }, 'task complete'));
      worker.on('stalled', (jobId) => this.log.warn({ taskId: jobId, queue }, 'task stalled; handed back to the queue'));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.log.info(
      { queues: o.queues, engines: o.engines, concurrency: o.concurrency, prefix: o.prefix, outputRoot: o.outputRoot, handlers: this.registry.types() },
      'worker started',
    );
  }

  /**
   * Stops taking work, lets running jobs finish for up to `graceMs`, then kills what is left and
   * drops the Redis connections without failing those jobs: their locks lapse and the stall check
   * hands them to another worker (bullmq-facts §4).
   */
  close(graceMs = this.options.graceMs): Promise<void> {
    return (this.closing ??= this.shutdown(graceMs));
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.log.info({ running: this.runningJobIds(), graceMs }, 'worker stopping');
    const closed = Promise.allSettled(this.workers.map((w) => w.close()));
    const inTime = await Promise.race([closed.then(() => true), delay(graceMs).then(() => false)]);
    if (!inTime) {
      this.handingBack = true;
      this.log.warn({ running: this.runningJobIds() }, 'grace period over: handing running jobs back to the queue');
      // Connections first, so nothing the dying processors do can reach Redis as a failure.
      for (const c of this.connections) c.disconnect();
      for (const r of this.running.values()) r.stop.stop(new ShutdownAbort());
      await Promise.race([closed, delay(10_000)]);
    }
    if (this.flow) {
      await Promise.allSettled([this.flow.producer.close(), this.flow.dispatcher.close()]);
      this.flow.connection.disconnect();
    }
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    await this.commands?.quit().catch(() => this.commands?.disconnect());
    for (const c of this.connections) c.disconnect();
    await this.services?.close().catch((err) => this.log.warn({ err: (err as Error).message }, 'closing services failed'));
    this.log.info('worker stopped');
  }

  /** Only orchestrators add children; the FlowProducer and its connection exist once one does. */
  private flowDeps() {
    if (!this.flow) {
      const connection = createRedis(this.options.redisUrl);
      connection.on('error', (err) => this.log.warn({ err: err.message }, 'redis error (flows)'));
      this.flow = {
        connection,
        producer: new FlowProducer({ connection, prefix: this.options.prefix }),
        dispatcher: new Dispatcher(connection, this.options.prefix),
      };
    }
    return { store: this.services!.store, flowProducer: this.flow.producer, queues: this.flow.dispatcher };
  }

  private serviceSpec(): ServiceSpec {
    const o = this.options;
    return { config: o.config, engines: o.engines, gpu: o.gpu, engineOptions: o.engineOptions, outputRoot: o.outputRoot, storeSchema: o.storeSchema };
  }

  private async subscribeCancels(): Promise<void> {
    const keys = smqKeys(this.options.prefix);
    this.subscriber = createRedis(this.options.redisUrl);
    this.subscriber.on('error', (err) => this.log.warn({ err: err.message }, 'cancel subscriber error'));
    this.subscriber.on('message', (_channel, message) => this.onCancelMessage(message));
    await this.subscriber.subscribe(keys.cancelChannel);
  }

  private onCancelMessage(message: string): void {
    let ids: string[];
    try {
      const parsed = JSON.parse(message) as { taskIds?: unknown };
      ids = Array.isArray(parsed.taskIds) ? parsed.taskIds.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      this.log.warn({ message }, 'ignoring malformed cancel message');
      return;
    }
    const wanted = new Set(ids);
    for (const [id, r] of this.running) {
      // A run id cancels everything of that run the worker holds.
      if (wanted.has(id) || (r.job.data?.runId && wanted.has(r.job.data.runId))) {
        this.log.info({ taskId: id }, 'cancelling running task');
        r.stop.stop(new CancelledError());
      }
    }
  }

  private async isCancelled(job: Job<JobData>): Promise<boolean> {
    const runId = job.data?.runId;
    const checks = [this.commands!.sismember(this.cancelledKey, job.id!)];
    if (typeof runId === 'string' && runId !== '') checks.push(this.commands!.sismember(this.cancelledKey, runId));
    return (await Promise.all(checks)).some((h) => h === 1);
  }

  private async process(job: Job<JobData>, token: string | undefined, bullSignal?: AbortSignal): Promise<JobResult> {
    const taskType = job.data?.taskType ?? job.name;
    const handler = this.registry!.get(taskType);
    if (!handler) throw new UnrecoverableError(new UnknownTaskTypeError(taskType).message);
    const stop = new JobStop();
    // Registered before the cancel check, so a broadcast that lands while the check is in flight still reaches this job.
    this.running.set(job.id!, { job, stop });
    const onBullAbort = () => stop.stop(new CancelledError(bullSignal?.reason ? `cancelled: ${String(bullSignal.reason)}` : 'cancelled'));
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      if (await this.isCancelled(job)) throw new UnrecoverableError('cancelled');
      if (stop.aborted) {
        if (stop.reason instanceof ShutdownAbort) throw stop.reason;
        throw new UnrecoverableError(stop.reason instanceof Error ? stop.reason.message : 'cancelled');
      }
      const parsed = handler.schema.safeParse(job.data?.params ?? {});
      if (!parsed.success) throw new UnrecoverableError(formatParamsError(taskType, parsed.error));

      timer = setTimeout(() => stop.stop(new TaskTimeoutError(`timed out after ${formatDuration(handler.timeoutMs)}`)), handler.timeoutMs);
      // The per-job child logger is made when something logs (at `warn` a quiet job never does).
      let jobLog: Logger | undefined;
      const log = () => (jobLog ??= this.log.child({ taskId: job.id, taskType, queue: job.queueName, attempt: job.attemptsMade + 1 }));
      const work = this.runHandler(handler, parsed.data, job, token, stop, log);
      if (this.log.isLevelEnabled('info')) log().info('task started');
      try {
        return checkResult(taskType, await work);
      } catch (err) {
        const reason = stop.aborted ? stop.reason : undefined;
        if (reason instanceof ShutdownAbort) throw reason;
        if (reason instanceof TaskTimeoutError || reason instanceof CancelledError) {
          log().warn({ reason: reason.message }, 'task stopped');
          throw new UnrecoverableError(reason.message);
        }
        throw toJobError(err);
      }
    } finally {
      clearTimeout(timer);
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.running.delete(job.id!);
    }
  }

  private runHandler(handler: AnyTaskHandler, params: unknown, job: Job<JobData>, token: string | undefined, stop: JobStop, log: () => Logger): Promise<JobResult> {
    const progress = progressReporter(job, log);
    if (handler.isolation === 'process') {
      return (async () => {
        const children = rekeyChildrenValues(await job.getChildrenValues());
        const spec: ChildTaskSpec = {
          taskId: job.id!,
          taskType: handler.taskType,
          runId: job.data.runId ?? null,
          parentTaskId: job.data.parentTaskId ?? null,
          attemptsMade: job.attemptsMade,
          debug: this.options.debug,
          params: job.data.params ?? {},
          children,
          pluginModules: this.options.plugins,
          services: this.serviceSpec(),
          logLevel: this.log.level,
          workerName: this.options.name,
        };
        return runInChildProcess({ spec, signal: stop.signal, onProgress: (u) => void progress(u) });
      })();
    }
    const ctx: HandlerContext = buildHandlerContext({
      taskId: job.id!,
      taskType: handler.taskType,
      runId: job.data.runId ?? null,
      parentTaskId: job.data.parentTaskId ?? null,
      attemptsMade: job.attemptsMade,
      outputRoot: this.options.outputRoot,
      debug: this.options.debug,
      config: this.options.config,
      signal: () => stop.signal,
      log,
      progress,
      children: async () => rekeyChildrenValues(await job.getChildrenValues()),
      flow: () => createFlowControl(job, token, this.flowDeps()),
      services: this.services!,
    });
    // An inline handler that ignores its signal cannot be killed; the job still ends on time.
    return Promise.race([handler.run(params, ctx), stop.stopped]);
  }
}

/**
 * job.updateProgress for a handler, thinned out: a chatty handler (per-frame callbacks) would
 * otherwise flood the events stream the reconciler reads. Stage changes and 100 % always go out.
 */
function progressReporter(job: Job<JobData>, log: () => Logger): (u: ProgressUpdate) => Promise<void> {
  let lastAt = 0;
  let lastStage = '';
  return async (u) => {
    const now = Date.now();
    if (u.stage === lastStage && u.percent < 100 && now - lastAt < 500) return;
    lastAt = now;
    lastStage = u.stage;
    const percent = Math.max(0, Math.min(100, Math.round(u.percent)));
    try {
      await job.updateProgress({ stage: u.stage, percent, ...(u.detail ? { detail: u.detail } : {}) });
    } catch (err) {
      log().debug({ err: (err as Error).message }, 'progress update failed');
    }
  };
}

function checkResult(taskType: string, result: unknown): JobResult {
  const r = result as JobResult | null;
  if (!r || typeof r !== 'object' || !('output_location' in r) || (r.output_location !== null && typeof r.output_location !== 'string')) {
    throw new UnrecoverableError(`handler ${taskType} returned ${JSON.stringify(result)}; it must return { output_location: string | null }`);
  }
  return r;
}

export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
