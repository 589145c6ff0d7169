import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, Histogram, Registry } from 'prom-client';
import { TASK_STATUSES } from '../core/types.ts';
import type { TaskStore } from '../db/task-store.ts';
import { smqKeys } from '../flows/queues.ts';

/**
 * Prometheus metrics for the numbers an autoscaler scales GPU workers on: backlog per queue and
 * state, live workers per queue, table counts, reconciler lag, and job durations by task type.
 *
 * Everything is read at scrape time from Redis and the table (the dashboard holds no state that a
 * restart would lose), except the duration histogram: it must only ever grow, so each finished job
 * is observed once, remembered by id in a bounded set.
 */
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;
const FINISHED_SAMPLE = 500;
const SEEN_CAP = 100_000;

export interface MetricsDeps {
  queues: Map<string, Queue>;
  store: TaskStore;
  redis: Redis;
  prefix: string;
}

export class SmqMetrics {
  readonly registry = new Registry();
  private readonly jobs: Gauge;
  private readonly workers: Gauge;
  private readonly tasks: Gauge;
  private readonly reconcilerLag: Gauge;
  private readonly reconcilerStat: Gauge;
  private readonly sourceUp: Gauge;
  private readonly durations: Histogram;
  private readonly seen = new Set<string>();

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    this.jobs = new Gauge({ name: 'smq_queue_jobs', help: 'BullMQ jobs per queue and state (getJobCounts)', labelNames: ['queue', 'state'], registers });
    this.workers = new Gauge({ name: 'smq_queue_workers', help: 'Workers connected to each queue (BullMQ getWorkers)', labelNames: ['queue'], registers });
    this.tasks = new Gauge({ name: 'smq_tasks', help: 'Rows of the canonical tasks table by status', labelNames: ['status'], registers });
    this.reconcilerLag = new Gauge({ name: 'smq_reconciler_lag_seconds', help: 'Reconciler lag (job event to row update), as the reconciler last reported it', registers });
    this.reconcilerStat = new Gauge({ name: 'smq_reconciler_stat', help: 'Numeric fields of the reconciler stats hash', labelNames: ['field'], registers });
    this.sourceUp = new Gauge({ name: 'smq_metrics_source_up', help: '1 if the source answered during this scrape, else 0', labelNames: ['source'], registers });
    this.durations = new Histogram({
      name: 'smq_job_duration_seconds',
      help: 'Processing time of finished jobs (finishedOn - processedOn) by task type and outcome',
      labelNames: ['task_type', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
  }

  /** Refreshes every gauge, then renders the registry in the Prometheus text format. */
  async render(): Promise<string> {
    await Promise.all([this.refreshQueues(), this.refreshTable(), this.refreshReconciler()]);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async guard(source: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      this.sourceUp.set({ source }, 1);
    } catch {
      this.sourceUp.set({ source }, 0);
    }
  }

  private refreshQueues(): Promise<void> {
    return this.guard('redis', async () => {
      await Promise.all(
        [...this.deps.queues.entries()].map(async ([name, q]) => {
          const [counts, workers] = await Promise.all([q.getJobCounts(...JOB_STATES), q.getWorkers()]);
          for (const state of JOB_STATES) this.jobs.set({ queue: name, state }, counts[state] ?? 0);
          this.workers.set({ queue: name }, workers.length);
          await this.observeFinished(name, q);
        }),
      );
    });
  }

  private async observeFinished(name: string, q: Queue): Promise<void> {
    for (const outcome of ['completed', 'failed'] as const) {
      const jobs = await q.getJobs([outcome], 0, FINISHED_SAMPLE - 1);
      for (const job of jobs) {
        if (!job?.id || !job.processedOn || !job.finishedOn) continue;
        const key = `${name}/${job.id}/${job.finishedOn}`;
        if (this.seen.has(key)) continue;
        if (this.seen.size >= SEEN_CAP) this.seen.delete(this.seen.values().next().value!);
        this.seen.add(key);
        this.durations.observe({ task_type: job.name, outcome }, Math.max(0, job.finishedOn - job.processedOn) / 1000);
      }
    }
  }

  private refreshTable(): Promise<void> {
    return this.guard('database', async () => {
      const counts = await this.deps.store.countsByStatus();
      for (const status of TASK_STATUSES) this.tasks.set({ status }, counts[status] ?? 0);
    });
  }

  private refreshReconciler(): Promise<void> {
    return this.guard('reconciler_stats', async () => {
      const stats = await this.deps.redis.hgetall(smqKeys(this.deps.prefix).reconcilerStats);
      this.reconcilerStat.reset();
      for (const [field, raw] of Object.entries(stats)) {
        const n = Number(raw);
        if (raw !== '' && Number.isFinite(n)) this.reconcilerStat.set({ field }, n);
      }
      const lag = lagSeconds(stats);
      if (lag === null) this.reconcilerLag.reset();
      else this.reconcilerLag.set(lag);
    });
  }
}

/** Lag from the stats hash: a `*lag*ms*` field in milliseconds, or a `*lag*` field in seconds. */
export function lagSeconds(stats: Record<string, string>): number | null {
  const entries = Object.entries(stats).filter(([k, v]) => /lag/i.test(k) && v !== '' && Number.isFinite(Number(v)));
  const preferred = entries.find(([k]) => /^lag_?ms$/i.test(k)) ?? entries.find(([k]) => /p50|last/i.test(k) && /ms/i.test(k)) ?? entries.find(([k]) => /ms/i.test(k));
  if (preferred) return Number(preferred[1]) / 1000;
  const secs = entries.find(([k]) => /s(ec(onds)?)?$/i.test(k));
  return secs ? Number(secs[1]) : null;
}
