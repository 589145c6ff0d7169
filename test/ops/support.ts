import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { resolveConfig, type SmqConfig } from '../../src/core/config.ts';
import type { TaskStatus } from '../../src/core/types.ts';
import { openStore } from '../../src/db/open-store.ts';
import type { TaskStore } from '../../src/db/task-store.ts';
import { createDashboardApp } from '../../src/ops/dashboard/app.ts';
import type { DashboardAuth } from '../../src/ops/dashboard/auth.ts';
import { openTaskControl } from '../../src/ops/dashboard/control-binding.ts';

/** A real dashboard on 127.0.0.1 over a real SQLite file and the local Redis, isolated by prefix and temp dir. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const TEST_AUTH: DashboardAuth = { token: 'admin-token-1234', user: 'ops', password: 'pw-5678', readonlyToken: 'readonly-token-9012' };

export interface TestDashboard {
  base: string;
  port: number;
  dir: string;
  config: SmqConfig;
  store: TaskStore;
  redis: Redis;
  close(): Promise<void>;
}

export async function startTestDashboard(auth: DashboardAuth = TEST_AUTH): Promise<TestDashboard> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-ops-'));
  const prefix = `{smqt-${randomBytes(6).toString('hex')}}`;
  const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(dir, 'tasks.db'), redisUrl: REDIS_URL, queuePrefix: prefix });
  const store = await openStore(config);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const control = await openTaskControl(config, store, redis);
  const dash = createDashboardApp({ config, store, connection: redis, control, auth });
  const server = http.createServer(dash.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    dir,
    config,
    store,
    redis,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await dash.close();
      await control.close();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Raw HTTP, so paths reach the server exactly as written (fetch would normalise "..") and bodies can be huge. */
export function rawRequest(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer 413 and close before the whole body is written.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') reject(Object.assign(new Error('connection closed early'), { code: err.code }));
      else reject(err);
    });
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export interface SeededRun {
  runId: string;
  rootId: string;
  segmentIds: string[];
  stitchId: string;
  videoPath: string;
  queuedTaskId: string;
}

/** A finished travel run written straight into the table (for auth/route tests that need rows, not a flow). */
export async function seedCompletedRun(store: TaskStore, dir: string): Promise<SeededRun> {
  const runId = `20990101_000000_${randomBytes(3).toString('hex')}`;
  const rootId = `sm_travel_orchestrator_${runId.slice(0, 8)}_${randomBytes(6).toString('hex')}`;
  const segmentIds = [0, 1].map((i) => `travel_seg_${runId}_0${i}_${randomBytes(6).toString('hex')}`);
  const stitchId = `travel_stitch_${runId}_${randomBytes(6).toString('hex')}`;
  const videoPath = path.join(dir, `travel_final_${runId}.mp4`);
  await writeFile(videoPath, Buffer.from('not really a video, but bytes to serve'));
  await store.insert({ taskId: rootId, taskType: 'travel_orchestrator', params: { orchestrator_details: { run_id: runId } }, runId, parentTaskId: null, queueName: 'cpu' });
  for (const [i, id] of segmentIds.entries()) {
    await store.insert({ taskId: id, taskType: 'travel_segment', params: { segment_index: i }, runId, parentTaskId: rootId, queueName: 'gpu-onnx' });
  }
  await store.insert({ taskId: stitchId, taskType: 'travel_stitch', params: {}, runId, parentTaskId: rootId, queueName: 'cpu' });
  const started = new Date(Date.now() - 5000).toISOString();
  const finished = new Date().toISOString();
  for (const id of [...segmentIds, stitchId, rootId]) {
    await store.transition({ taskId: id, status: 'In Progress', workerId: 'test-worker', startedAt: started, attempts: 1 });
    const out = id === stitchId || id === rootId ? videoPath : path.join(dir, `${id}.mp4`);
    await store.transition({ taskId: id, status: 'Complete', outputLocation: out, finishedAt: finished, progress: { stage: 'done', percent: 100 } });
  }
  const queuedTaskId = `sm_task_${randomBytes(6).toString('hex')}`;
  await store.insert({ taskId: queuedTaskId, taskType: 'noop', params: {}, runId: null, parentTaskId: null, queueName: 'cpu' });
  return { runId, rootId, segmentIds, stitchId, videoPath, queuedTaskId };
}

export async function setStatus(store: TaskStore, taskId: string, status: TaskStatus): Promise<void> {
  await store.transition({ taskId, status });
}

/** Every non-comment line of Prometheus text is `name{labels} value`; returns the samples. */
export function parsePrometheus(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})?\s+(-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))(\s+\d+)?$/;
  for (const raw of text.split('\n')) {
    if (raw === '' || raw.startsWith('#')) continue;
    const m = line.exec(raw);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(raw)}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return samples;
}
