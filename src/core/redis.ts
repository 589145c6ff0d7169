import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ workers require;
 * the database index in REDIS_URL (redis://host:port/3) is honoured by ioredis' URL parser.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra });
}

/** A connection for producers that should fail fast instead of queueing commands while Redis is down. */
export function createFailFastRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 1500,
    retryStrategy: (times) => (times > 3 ? null : 200),
    ...extra,
  });
}

/** True if Redis answers PING within `timeoutMs`. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
