import type { Redis } from 'ioredis';
import { smqKeys } from '../flows/queues.ts';
import { FACT_RULE, parseStreamEntry, type JobFacts, type StreamEntry } from './event-mapping.ts';
import { FACT_FIELDS, factsFromHash } from './job-facts.ts';

/**
 * Reads every smq queue's events stream on a dedicated connection. No consumer group: the position
 * lives in the database, committed with the updates it covers.
 *
 * Why a script: an entry's update may need its job hash (the worker name of `active`, the attempts
 * of `failed`), which the stream does not carry. Reading entries and then the hashes costs two
 * round trips per batch, and on a loaded machine each round trip is two wake-ups (Redis, then us)
 * on the lag's critical path. The script does both inside Redis: one round trip per batch. The
 * facts are read at the same instant as the entries, never later than a separate HMGET would.
 *
 * Waiting is separate (`waitForEntries`, XREAD BLOCK): a script cannot block, and a blocked XREAD
 * holds its connection, which is why stop() interrupts it by disconnecting.
 */

export interface ReadBatch {
  entries: StreamEntry[];
  /** Facts of the jobs whose entries need them (FACT_RULE), by job id. */
  facts: Map<string, JobFacts>;
}

// KEYS: the events streams. ARGV: count, the two FACT_RULE lists (comma-separated), the job-hash
// field names, then one cursor and one job key prefix per stream. Replies, per stream with entries:
// {stream index (1-based), XREAD entries, {jobId, field values…, jobId, …}}. Missing fields come
// back as Lua false, i.e. nil, and are read as null.
const READ_WITH_FACTS = `
local n = #KEYS
local count = tonumber(ARGV[1])
local always, afterActive, fields = {}, {}, {}
for e in string.gmatch(ARGV[2], '[^,]+') do always[e] = true end
for e in string.gmatch(ARGV[3], '[^,]+') do afterActive[e] = true end
for f in string.gmatch(ARGV[4], '[^,]+') do fields[#fields + 1] = f end
local args = {'COUNT', count, 'STREAMS'}
for i = 1, n do args[#args + 1] = KEYS[i] end
for i = 1, n do args[#args + 1] = ARGV[4 + i] end
local reply = redis.call('XREAD', unpack(args))
if not reply then return {} end
local index = {}
for i = 1, n do index[KEYS[i]] = i end
local out = {}
for _, stream in ipairs(reply) do
  local i = index[stream[1]]
  local jobPrefix = ARGV[4 + n + i]
  local facts, seen = {}, {}
  for _, entry in ipairs(stream[2]) do
    local f = entry[2]
    local ev, id, prev
    for j = 1, #f - 1, 2 do
      local k = f[j]
      if k == 'event' then ev = f[j + 1] elseif k == 'jobId' then id = f[j + 1] elseif k == 'prev' then prev = f[j + 1] end
    end
    if id and ev and not seen[id] and (always[ev] or (afterActive[ev] and prev == 'active')) then
      seen[id] = true
      local values = redis.call('HMGET', jobPrefix .. id, unpack(fields))
      facts[#facts + 1] = id
      for v = 1, #fields do facts[#facts + 1] = values[v] end
    end
  end
  out[#out + 1] = {i, stream[2], facts}
end
return out
`;

type RawEntry = [string, string[] | null];

export class StreamReader {
  private readonly keys: ReturnType<typeof smqKeys>;
  private readonly streamKeys: string[];

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queues: readonly string[],
  ) {
    this.keys = smqKeys(prefix);
    this.streamKeys = queues.map((q) => this.keys.events(q));
    if (!('smqReadWithFacts' in redis)) redis.defineCommand('smqReadWithFacts', { lua: READ_WITH_FACTS });
  }

  /** Entries after each queue's cursor (at most `count` per queue) with their jobs' facts; never blocks. */
  async readWithFacts(cursors: ReadonlyMap<string, string>, count: number): Promise<Map<string, ReadBatch>> {
    const args: (string | number)[] = [
      this.streamKeys.length,
      ...this.streamKeys,
      count,
      FACT_RULE.always.join(','),
      FACT_RULE.afterActive.join(','),
      FACT_FIELDS.join(','),
      ...this.queues.map((q) => cursors.get(q) ?? '0-0'),
      ...this.queues.map((q) => this.keys.job(q, '')),
    ];
    const reply = (await (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>).smqReadWithFacts!(...args)) as
      | [number, RawEntry[], (string | null)[]][]
      | null;
    const out = new Map<string, ReadBatch>();
    for (const [index, rawEntries, flatFacts] of reply ?? []) {
      const queue = this.queues[index - 1];
      if (queue === undefined || !rawEntries?.length) continue;
      const facts = new Map<string, JobFacts>();
      const width = FACT_FIELDS.length + 1;
      for (let i = 0; i + width <= (flatFacts ?? []).length; i += width) {
        facts.set(flatFacts[i]!, factsFromHash(flatFacts.slice(i + 1, i + width)));
      }
      out.set(queue, { entries: rawEntries.map(([id, flat]) => parseStreamEntry(id, flat ?? [])), facts });
    }
    return out;
  }

  /**
   * Blocks until some stream has an entry after its cursor, or `blockMs` passes; true when one
   * has. It only waits: the entry is read, with its facts, by the next `readWithFacts`.
   */
  async waitForEntries(cursors: ReadonlyMap<string, string>, blockMs: number): Promise<boolean> {
    const ids = this.queues.map((q) => cursors.get(q) ?? '0-0');
    const reply = await this.redis.call('XREAD', 'COUNT', 1, 'BLOCK', blockMs, 'STREAMS', ...this.streamKeys, ...ids);
    return Array.isArray(reply) && reply.length > 0;
  }

  /** Oldest and newest surviving entry ids of a queue's stream (null when it does not exist or is empty). */
  async bounds(queue: string, client: Redis = this.redis): Promise<{ first: string | null; last: string | null }> {
    const key = this.keys.events(queue);
    const [first, last] = await Promise.all([
      client.xrange(key, '-', '+', 'COUNT', 1),
      client.xrevrange(key, '+', '-', 'COUNT', 1),
    ]);
    return { first: first[0]?.[0] ?? null, last: last[0]?.[0] ?? null };
  }
}
