import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { ValidationError } from '../core/errors.ts';
import { createRedis } from '../core/redis.ts';
import type { TaskUpdate } from '../core/types.ts';
import type { TaskStore } from '../db/task-store.ts';
import { Dispatcher } from '../flows/dispatch.ts';
import { ALL_QUEUES, smqKeys } from '../flows/queues.ts';
import { childKeyOfFailure, mapEntries, type StreamEntry } from './event-mapping.ts';
import { ingestBatch } from './ingest.ts';
import { resolveChildFailures } from './job-facts.ts';
import { LeaderLock } from './leader-lock.ts';
import { StreamReader, type ReadBatch } from './stream-reader.ts';
import { cursorWasTrimmed, streamIdTimeMs } from './stream-ids.ts';
import { Sweeper, type SweepResult } from './sweep.ts';

/**
 * Keeps the SQL `tasks` table true to what happens in BullMQ.
 *
 * Three loops, one process:
 * - **apply** (every reconciler): XREAD BLOCK over all queues' events streams from the cursors
 *   stored in the database, map each batch to row updates, and commit updates and cursor in one
 *   transaction. A killed reconciler resumes at the last committed batch; re-applying a batch is
 *   harmless because updates are monotonic. Several reconcilers may apply the same events.
 * - **ingest** (leader only, every `ingestIntervalMs`): rows other clients inserted go onto BullMQ.
 * - **sweep** (leader only, at start and every `sweepIntervalMs`, and at once when a stream was
 *   trimmed past a cursor or vanished): the table and Redis are compared and repaired.
 * Leadership is a Redis lock renewed every second.
 */

export interface ReconcilerOptions {
  store: TaskStore;
  /** An ioredis client to duplicate for the reconciler's own connections. @defaultValue a new one from `redisUrl` */
  connection?: Redis;
  /** @defaultValue 'redis://127.0.0.1:6379' */
  redisUrl?: string;
  /** BullMQ key prefix. @defaultValue '{smq}' */
  prefix?: string;
  /** @defaultValue ALL_QUEUES */
  queues?: readonly string[];
  /** Max events read per stream per XREAD; one transaction per stream per read. @defaultValue 500 */
  batchSize?: number;
  /** XREAD BLOCK time; also the longest stop() waits for an idle read. @defaultValue 1000 */
  blockMs?: number;
  /** @defaultValue 5000 */
  sweepIntervalMs?: number;
  /** @defaultValue 250 */
  ingestIntervalMs?: number;
  /** Rows claimed per ingest round. @defaultValue 200 */
  ingestBatchSize?: number;
  /** How long a row must be seen missing its job (by two sweeps) before the sweep re-dispatches it. @defaultValue 3000 */
  sweepGraceMs?: number;
  /** @defaultValue 500 */
  sweepPageSize?: number;
  /** @defaultValue 200 */
  orphanScanLimit?: number;
  /** @defaultValue 5000 */
  leaderTtlMs?: number;
  /** Stats hash write and leader renewal period. @defaultValue 1000 */
  statsIntervalMs?: number;
  /** @defaultValue `<hostname>-<pid>-<random>` */
  id?: string;
  logger?: Logger;
  /** Called after each committed batch (benchmarks and tests count with it). */
  onApplied?: (batch: AppliedBatch) => void;
}

export interface AppliedBatch {
  queue: string;
  entries: readonly StreamEntry[];
  updates: readonly TaskUpdate[];
  changedRows: number;
  appliedAt: number;
}

export interface ReconcilerStats {
  id: string;
  /** Applied time minus the event time (stream id ms) of the newest event of the last applied batch. */
  lagMs: number;
  appliedEvents: number;
  appliedBatches: number;
  ingested: number;
  lastSweep: SweepResult | null;
  leader: boolean;
  streams: Record<string, string>;
}

type Resolved = Required<Omit<ReconcilerOptions, 'connection' | 'logger' | 'onApplied'>> & Pick<ReconcilerOptions, 'connection' | 'onApplied'> & { logger: Logger };

const DEFAULTS = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: '{smq}',
  queues: ALL_QUEUES,
  batchSize: 500,
  blockMs: 1000,
  sweepIntervalMs: 5000,
  ingestIntervalMs: 250,
  ingestBatchSize: 200,
  sweepGraceMs: 3000,
  sweepPageSize: 500,
  orphanScanLimit: 200,
  leaderTtlMs: 5000,
  statsIntervalMs: 1000,
} satisfies Partial<ReconcilerOptions>;

function resolveOptions(o: ReconcilerOptions): Resolved {
  if (!o || !o.store) throw new ValidationError('store', 'a TaskStore is required (see src/db/open-store.ts openStore)');
  const r: Resolved = {
    ...DEFAULTS,
    id: `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    logger: o.logger ?? pino({ name: 'smq-reconciler', level: process.env.SMQ_LOG_LEVEL ?? 'info' }, pino.destination(2)),
  } as Resolved;
  for (const k of ['batchSize', 'sweepIntervalMs', 'ingestIntervalMs', 'ingestBatchSize', 'sweepPageSize', 'orphanScanLimit', 'leaderTtlMs', 'statsIntervalMs'] as const) {
    if (!Number.isInteger(r[k]) || r[k] <= 0) throw new ValidationError(k, `must be a positive integer (milliseconds or a count), got ${JSON.stringify(r[k])}`);
  }
  for (const k of ['blockMs', 'sweepGraceMs'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 0) throw new ValidationError(k, `must be a non-negative integer, got ${JSON.stringify(r[k])}`);
  }
  if (r.queues.length === 0) throw new ValidationError('queues', 'name at least one queue (default: all smq queues)');
  return r;
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Periodic sweeps put off in a row at most, so a reconciler that never catches up still sweeps. */
export const MAX_SWEEPS_DEFERRED = 6;

/**
 * Whether a periodic sweep should wait. While the streams hold a backlog, the events in it will
 * bring the open rows up to date; a sweep then reads every one of those rows and their jobs to do
 * the same (seconds for a few thousand rows on a busy machine), on the CPU the apply loop needs to
 * catch up — the backlog grows and the next sweep has even more to read. A requested sweep (a
 * stream trimmed past the cursor, or gone) repairs what no event will, and is never put off.
 */
export function deferSweep(s: { behind: boolean; requested: boolean; deferredInARow: number }): boolean {
  return s.behind && !s.requested && s.deferredInARow < MAX_SWEEPS_DEFERRED;
}

export class Reconciler {
  private readonly o: Resolved;
  private readonly log: Logger;
  private readonly reader: Redis;
  private readonly cmd: Redis;
  private readonly streams: StreamReader;
  private readonly dispatcher: Dispatcher;
  private readonly lock: LeaderLock;
  private readonly sweeper: Sweeper;
  private readonly cursors = new Map<string, string>();
  private readonly vanished = new Set<string>();
  private running = false;
  private stopping = false;
  private reading = false;
  private loops: Promise<void>[] = [];
  private sweepRequested = true;
  private lagMs = 0;
  private appliedEvents = 0;
  private appliedBatches = 0;
  private ingested = 0;
  private lastSweep: SweepResult | null = null;
  private lastTrimCheck = 0;
  private sweeping: Promise<void> | null = null;
  /** The last read came back with a full batch: the streams hold a backlog. */
  private behind = false;
  private sweepsDeferred = 0;
  private readonly wakers = new Set<() => void>();

  constructor(options: ReconcilerOptions) {
    this.o = resolveOptions(options);
    this.log = this.o.logger;
    const mk = () => (this.o.connection ? this.o.connection.duplicate() : createRedis(this.o.redisUrl));
    this.reader = mk();
    this.cmd = mk();
    for (const c of [this.reader, this.cmd]) c.on('error', (err) => this.log.debug({ err: err.message }, 'redis connection error'));
    this.streams = new StreamReader(this.reader, this.o.prefix, this.o.queues);
    this.dispatcher = new Dispatcher(this.cmd, this.o.prefix);
    this.lock = new LeaderLock(this.cmd, smqKeys(this.o.prefix).reconcilerLeader, this.o.id, this.o.leaderTtlMs);
    this.sweeper = new Sweeper({
      redis: this.cmd,
      prefix: this.o.prefix,
      queues: this.o.queues,
      store: this.o.store,
      dispatcher: this.dispatcher,
      graceMs: this.o.sweepGraceMs,
      pageSize: this.o.sweepPageSize,
      orphanScanLimit: this.o.orphanScanLimit,
      log: this.log,
      missingSince: new Map(),
    });
  }

  get id(): string {
    return this.o.id;
  }

  stats(): ReconcilerStats {
    return {
      id: this.o.id,
      lagMs: this.lagMs,
      appliedEvents: this.appliedEvents,
      appliedBatches: this.appliedBatches,
      ingested: this.ingested,
      lastSweep: this.lastSweep,
      leader: this.lock.isLeader,
      streams: Object.fromEntries(this.cursors),
    };
  }

  /** Loads cursors and starts the apply, ingest, sweep and stats loops; returns once they run. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    await this.loadCursors();
    await this.checkTrims();
    await this.lock.tick();
    this.loops = [
      this.loop('apply', 0, () => this.applyOnce(this.o.blockMs)),
      this.loop('ingest', this.o.ingestIntervalMs, () => this.ingestIfLeader()),
      this.loop('sweep', this.o.sweepIntervalMs, () => this.periodicSweep(), true),
      this.loop('stats', this.o.statsIntervalMs, () => this.heartbeat()),
    ];
    this.log.info({ id: this.o.id, prefix: this.o.prefix, queues: this.o.queues, leader: this.lock.isLeader }, 'reconciler started');
  }

  /** Finishes the batch in hand, then stops every loop, releases leadership and closes connections. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    for (const wake of this.wakers) wake();
    // A blocked XREAD would hold stop() for blockMs; disconnecting interrupts it (no batch is in hand then).
    if (this.reading) this.reader.disconnect();
    await Promise.allSettled(this.loops);
    await this.shutdown();
  }

  /**
   * One pass for `smq reconcile --once`: take leadership if free, sweep, ingest everything waiting,
   * apply every event already in the streams, publish stats, and close.
   */
  async runOnce(): Promise<ReconcilerStats> {
    this.running = true;
    await this.loadCursors();
    await this.checkTrims();
    await this.lock.tick();
    if (this.lock.isLeader) {
      await this.sweepIfLeader();
      while ((await this.ingestIfLeader()) > 0);
      // Rows seen without their job are only re-dispatched when a second look, after the grace period, agrees.
      if (this.sweeper.pendingMissing > 0) {
        await sleep(this.o.sweepGraceMs);
        await this.lock.tick();
        await this.sweepIfLeader();
      }
    } else {
      this.log.warn('another reconciler leads: --once applied events only (no sweep, no ingest)');
    }
    while ((await this.applyOnce(0)) > 0);
    const stats = this.stats();
    await this.shutdown();
    return stats;
  }

  private async shutdown(): Promise<void> {
    this.loops = [];
    try {
      await this.writeStats();
      await this.lock.release();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not release leadership; it lapses after leaderTtlMs');
    }
    await this.dispatcher.close().catch(() => {});
    this.reader.disconnect();
    await this.cmd.quit().catch(() => this.cmd.disconnect());
    this.running = false;
    this.log.info(this.stats(), 'reconciler stopped');
  }

  private async loop(name: string, intervalMs: number, body: () => Promise<unknown>, runFirst = true): Promise<void> {
    let first = runFirst;
    while (!this.stopping) {
      if (!first && intervalMs > 0) await this.pause(intervalMs);
      first = false;
      if (this.stopping) break;
      try {
        await body();
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ loop: name, err: (err as Error).message }, 'reconciler loop error; retrying');
        await this.pause(500);
      }
    }
  }

  /** A sleep that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise((res) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        res();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async loadCursors(): Promise<void> {
    for (const q of this.o.queues) {
      const id = await this.o.store.getCursor(q);
      this.cursors.set(q, id ?? '0-0');
    }
  }

  /** Finds streams trimmed past our cursor (XREAD would skip the gap silently) or gone entirely. */
  private async checkTrims(): Promise<void> {
    this.lastTrimCheck = Date.now();
    for (const q of this.o.queues) {
      const cursor = this.cursors.get(q) ?? '0-0';
      const { first } = await this.streams.bounds(q, this.cmd);
      if (cursorWasTrimmed(cursor, first)) {
        this.log.warn({ queue: q, cursor, firstEntry: first }, 'events stream was trimmed past the cursor; sweeping, then continuing from the oldest entry');
        this.sweepRequested = true;
      }
      const gone = first === null && cursor !== '0-0';
      if (gone && !this.vanished.has(q)) {
        this.log.warn({ queue: q, cursor }, 'events stream is gone (Redis flushed or restarted without persistence?); sweeping');
        this.sweepRequested = true;
      }
      if (gone) this.vanished.add(q);
      else this.vanished.delete(q);
    }
  }

  /**
   * Reads once and applies what came; returns the number of events applied. When nothing is there
   * it waits (up to `blockMs`) for the next entry, then reads it with its facts: an idle reconciler
   * pays one extra round trip for the first event, a busy one never waits.
   */
  private async applyOnce(blockMs: number): Promise<number> {
    if (Date.now() - this.lastTrimCheck >= this.o.sweepIntervalMs) await this.checkTrims();
    let batches = await this.streams.readWithFacts(this.cursors, this.o.batchSize);
    if (batches.size === 0 && blockMs > 0) {
      this.reading = true;
      let arrived: boolean;
      try {
        arrived = await this.streams.waitForEntries(this.cursors, blockMs);
      } finally {
        this.reading = false;
      }
      if (!arrived || this.stopping) return 0;
      batches = await this.streams.readWithFacts(this.cursors, this.o.batchSize);
    }
    this.behind = [...batches.values()].some((b) => b.entries.length >= this.o.batchSize);
    let n = 0;
    for (const [queue, batch] of batches) n += await this.applyBatch(queue, batch);
    return n;
  }

  private async applyBatch(queue: string, { entries, facts }: ReadBatch): Promise<number> {
    const childFailures = new Map<string, string>();
    for (const e of entries) {
      if (e.event === 'failed' && e.fields.jobId && childKeyOfFailure(e.fields.failedReason)) childFailures.set(e.fields.jobId, e.fields.failedReason!);
    }
    const resolvedFailures = childFailures.size ? await resolveChildFailures(this.cmd, childFailures) : undefined;
    const updates = mapEntries({ entries, facts, resolvedFailures });
    const lastId = entries[entries.length - 1]!.id;
    const changedRows = await this.o.store.applyBatch(updates, { name: queue, lastId });
    const appliedAt = Date.now();
    this.cursors.set(queue, lastId);
    this.vanished.delete(queue);
    this.appliedEvents += entries.length;
    this.appliedBatches++;
    this.lagMs = Math.max(0, appliedAt - streamIdTimeMs(lastId));
    this.o.onApplied?.({ queue, entries, updates, changedRows, appliedAt });
    return entries.length;
  }

  private async ingestIfLeader(): Promise<number> {
    if (!this.lock.isLeader) return 0;
    const r = await ingestBatch({ store: this.o.store, dispatcher: this.dispatcher, claimMark: `ingest:${this.o.id}`, limit: this.o.ingestBatchSize, log: this.log });
    this.ingested += r.dispatched;
    if (r.claimed > 0) this.log.info(r, 'ingested rows from the table');
    return r.claimed;
  }

  private periodicSweep(): Promise<void> {
    if (deferSweep({ behind: this.behind, requested: this.sweepRequested, deferredInARow: this.sweepsDeferred })) {
      this.sweepsDeferred++;
      this.log.debug({ deferredInARow: this.sweepsDeferred }, 'events backlog: periodic sweep put off');
      return Promise.resolve();
    }
    this.sweepsDeferred = 0;
    return this.sweepIfLeader();
  }

  /** Sweeps if we lead; a sweep already under way is joined, never run twice at once. */
  private sweepIfLeader(): Promise<void> {
    if (!this.lock.isLeader) return Promise.resolve();
    this.sweeping ??= (async () => {
      this.sweepRequested = false;
      const r = await this.sweeper.run();
      this.lastSweep = r;
      if (r.redispatched || r.created || r.failed || r.completed) this.log.info(r, 'sweep repaired the table/queues');
    })().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async heartbeat(): Promise<void> {
    const wasLeader = this.lock.isLeader;
    const leader = await this.lock.tick();
    if (leader !== wasLeader) this.log.info({ id: this.o.id, leader }, leader ? 'took reconciler leadership' : 'lost reconciler leadership');
    if (leader && this.sweepRequested) await this.sweepIfLeader();
    await this.writeStats();
  }

  private async writeStats(): Promise<void> {
    if (!this.lock.isLeader) return;
    const s = this.stats();
    const key = smqKeys(this.o.prefix).reconcilerStats;
    await this.cmd
      .multi()
      .hset(key, {
        id: s.id,
        lagMs: String(s.lagMs),
        appliedEvents: String(s.appliedEvents),
        ingested: String(s.ingested),
        leader: s.leader ? '1' : '0',
        lastSweep: JSON.stringify(s.lastSweep),
        streams: JSON.stringify(s.streams),
        updatedAt: String(Date.now()),
      })
      .pexpire(key, Math.max(30_000, this.o.statsIntervalMs * 10))
      .exec();
  }
}
