import { json, type Handler } from '../handler.ts';

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

export const healthz: Handler = async () => json(200, { ok: true });

/** Ready when Redis answers PING and the store answers a query; 503 names what failed. */
export const readyz: Handler = async (_req, deps) => {
  const [redis, store] = await Promise.allSettled([
    withTimeout(deps.redis.ping(), CHECK_TIMEOUT_MS, 'redis'),
    withTimeout(deps.store.countsByStatus(), CHECK_TIMEOUT_MS, 'database'),
  ]);
  const failed: Record<string, string> = {};
  if (redis.status === 'rejected') failed.redis = String((redis.reason as Error)?.message ?? redis.reason);
  else if (redis.value !== 'PONG') failed.redis = `PING answered ${String(redis.value)}`;
  if (store.status === 'rejected') failed.database = String((store.reason as Error)?.message ?? store.reason);
  const ok = Object.keys(failed).length === 0;
  return json(ok ? 200 : 503, ok ? { ok: true, redis: 'ok', database: 'ok' } : { ok: false, error: `not ready: ${Object.keys(failed).join(', ')} failed`, failed });
};
