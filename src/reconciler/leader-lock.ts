import type { Redis } from 'ioredis';

/**
 * One reconciler at a time ingests and sweeps: a Redis key set with NX and a TTL, renewed by its
 * holder, and released or renewed only by the holder (compare-and-set in Lua, so a reconciler that
 * lost the key after a long pause cannot delete or extend its successor's).
 * Claims in the store are atomic anyway; the lock keeps two reconcilers from dispatching the same
 * freshly claimed row in a race between claim and dispatch, and from sweeping in parallel.
 */

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class LeaderLock {
  private held = false;
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly token: string,
    private readonly ttlMs: number,
  ) {}

  get isLeader(): boolean {
    return this.held;
  }

  /** Takes the lock if free, renews it if ours; returns whether we lead now. */
  async tick(): Promise<boolean> {
    if (this.held) {
      const renewed = Number(await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs)));
      if (renewed === 1) return true;
      // Our TTL lapsed (a pause longer than ttlMs); someone else may lead now.
      this.held = false;
    }
    const ok = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    this.held = ok === 'OK';
    return this.held;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
