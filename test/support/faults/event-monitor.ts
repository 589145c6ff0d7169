import { Redis } from 'ioredis';
import { ALL_QUEUES, smqKeys } from '../../../src/flows/queues.ts';

/**
 * Reads every queue's BullMQ events stream from the start, independently of the reconciler, and
 * counts per job id what happened. "No task ran to completion twice" is checked against these
 * counts. Survives a Redis restart (ioredis reconnects; stream ids are time-based, so entries
 * written after the restart still sort after the last one read).
 */
export class EventMonitor {
  readonly completed = new Map<string, number>();
  readonly stalled = new Map<string, number>();
  readonly failed = new Map<string, string>();
  /** Streams that were trimmed past what we had read: counts may be incomplete. */
  readonly gaps: string[] = [];
  events = 0;
  private readonly redis: Redis;
  private readonly cursors = new Map<string, string>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(redisUrl: string, private readonly prefix: string, private readonly queues: readonly string[] = ALL_QUEUES) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    this.redis.on('error', () => {});
    for (const q of queues) this.cursors.set(smqKeys(prefix).events(q), '0-0');
    this.loop = this.run();
  }

  count(map: Map<string, number>, id: string): number {
    return map.get(id) ?? 0;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const keys = [...this.cursors.keys()];
        const res = (await this.redis.xread('COUNT', 5000, 'BLOCK', 500, 'STREAMS', ...keys, ...keys.map((k) => this.cursors.get(k)!))) as [string, [string, string[]][]][] | null;
        if (!res) continue;
        for (const [key, entries] of res) {
          const before = this.cursors.get(key)!;
          if (before !== '0-0' && (await this.trimmedPast(key, before))) this.gaps.push(key);
          for (const [, fields] of entries) this.take(fields);
          this.cursors.set(key, entries[entries.length - 1]![0]);
          this.events += entries.length;
        }
      } catch {
        if (this.running) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * MAXLEN trimming (a long stream) removed entries we had not read yet. A stream that restarted
   * short (Redis lost its data) is not a trim: what it lost, nobody could read.
   */
  private async trimmedPast(key: string, cursor: string): Promise<boolean> {
    const [first] = (await this.redis.xrange(key, '-', '+', 'COUNT', 1)) as [string, string[]][];
    if (!first || cmpId(first[0], cursor) <= 0) return false;
    return (await this.redis.xlen(key)) >= 5000;
  }

  private take(fields: string[]): void {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    const id = f.jobId;
    if (!id) return;
    if (f.event === 'completed') this.completed.set(id, this.count(this.completed, id) + 1);
    else if (f.event === 'stalled') this.stalled.set(id, this.count(this.stalled, id) + 1);
    else if (f.event === 'failed') this.failed.set(id, f.failedReason ?? '');
  }

  /** Waits until the monitor has read up to each stream's current end. */
  async catchUp(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let behind = false;
      for (const [key, cursor] of this.cursors) {
        const last = (await this.redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
        if (last.length && last[0]![0] !== cursor && cmpId(last[0]![0], cursor) > 0) behind = true;
      }
      if (!behind) return;
      if (Date.now() > deadline) throw new Error('event monitor did not catch up with the streams');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    this.running = false;
    this.redis.disconnect();
    await this.loop.catch(() => {});
  }
}

function cmpId(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}
