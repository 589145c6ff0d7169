import type { Redis } from 'ioredis';
import { smqKeys } from '../flows/queues.ts';
import { parseStreamEntry, type StreamEntry } from './event-mapping.ts';

/**
 * XREAD over every smq queue's events stream in one blocking call. The connection is dedicated:
 * a blocked XREAD holds its connection, and stop() interrupts it by disconnecting.
 * No consumer group: the position lives in the database, committed with the updates it covers.
 */
export class StreamReader {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queues: readonly string[],
  ) {}

  /** Entries after each queue's cursor; `blockMs` 0 means return at once (never block forever). */
  async read(cursors: ReadonlyMap<string, string>, count: number, blockMs: number): Promise<Map<string, StreamEntry[]>> {
    const keys = smqKeys(this.prefix);
    const streamKeys = this.queues.map((q) => keys.events(q));
    const ids = this.queues.map((q) => cursors.get(q) ?? '0-0');
    const args: (string | number)[] = ['COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', ...streamKeys, ...ids);
    const reply = (await this.redis.call('XREAD', ...args)) as [string, [string, string[]][]][] | null;
    const out = new Map<string, StreamEntry[]>();
    if (!reply) return out;
    for (const [streamKey, rawEntries] of reply) {
      const queue = this.queues[streamKeys.indexOf(streamKey)];
      if (queue === undefined || rawEntries.length === 0) continue;
      out.set(
        queue,
        rawEntries.map(([id, flat]) => parseStreamEntry(id, flat ?? [])),
      );
    }
    return out;
  }

  /** Oldest and newest surviving entry ids of a queue's stream (null when it does not exist or is empty). */
  async bounds(queue: string, client: Redis = this.redis): Promise<{ first: string | null; last: string | null }> {
    const key = smqKeys(this.prefix).events(queue);
    const [first, last] = await Promise.all([
      client.xrange(key, '-', '+', 'COUNT', 1),
      client.xrevrange(key, '+', '-', 'COUNT', 1),
    ]);
    return { first: first[0]?.[0] ?? null, last: last[0]?.[0] ?? null };
  }
}
