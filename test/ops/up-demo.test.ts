import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError } from '../../src/core/errors.ts';
import { redisAnswers } from '../../src/core/redis.ts';
import { openStore } from '../../src/db/open-store.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { ensureRedis, findBinary, freePort } from '../../src/ops/private-redis.ts';
import { deleteKeys, REDIS_URL } from './support.ts';

interface Spawned {
  exit: Promise<number | null>;
  output: () => string;
  waitFor: (re: RegExp, timeoutMs: number) => Promise<RegExpMatchArray>;
  kill: (sig: NodeJS.Signals) => void;
}

function smq(args: string[], env: Record<string, string>, cwd = process.cwd()): Spawned {
  const child = spawn(process.execPath, [path.resolve('bin/smq.js'), ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    exit,
    output: () => out,
    kill: (sig) => child.kill(sig),
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = out.match(re);
        if (m) return m;
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before ${re}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

test('smq up serves the dashboard and shuts down cleanly on SIGTERM', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-ops-up-'));
  const prefix = `{smqt-${randomBytes(6).toString('hex')}}`;
  const env = { SMQ_QUEUE_PREFIX: prefix, REDIS_URL, DB_TYPE: 'sqlite', SMQ_DASHBOARD_TOKEN: 'up-test-token', SMQ_LOG_LEVEL: 'warn' };
  const p = smq(['up', '--port', '0', '--db-file', path.join(dir, 'tasks.db'), '--main-output-dir', path.join(dir, 'out'), '--grace', '2', '--name', 'up-test'], env);
  try {
    const [, url] = await p.waitFor(/dashboard on (http:\/\/127\.0\.0\.1:\d+)\/runs/, 60_000);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await fetch(`${url}/runs`)).status, 401);
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer up-test-token' } })).text();
    // The in-process worker is registered with BullMQ: the cpu queue counts one worker.
    assert.match(metrics, /smq_queue_workers\{queue="cpu"\} 1/);
    p.kill('SIGTERM');
    assert.equal(await p.exit, 0, p.output());
    assert.match(p.output(), /SIGTERM received, shutting down/);
  } finally {
    p.kill('SIGKILL');
    const r = new Redis(REDIS_URL);
    await deleteKeys(r, prefix);
    r.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

test('smq demo produces the sample travel video, reports the row status and exits 0', { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-ops-demo-'));
  const prefix = `{smqt-demo-${randomBytes(6).toString('hex')}}`;
  const p = smq(['demo', '--output-dir', dir], { SMQ_DEMO_QUEUE_PREFIX: prefix, REDIS_URL, SMQ_LOG_LEVEL: 'warn' }, dir);
  try {
    const code = await p.exit;
    const out = p.output();
    assert.equal(code, 0, out);
    const video = out.match(/^video:\s+(\S+\.mp4)$/m)?.[1];
    assert.ok(video && existsSync(video), `video path printed and present:\n${out}`);
    assert.match(out, /^status:\s+Complete /m);
    assert.match(out, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/runs\//m);
    assert.match(out, /segment 0: .*100%/);
    assert.match(out, /segment 1: .*100%/);
    // The status printed is the table's: read the demo's own SQLite file.
    const store = await openStore(resolveConfig({ dbType: 'sqlite', dbFile: path.join(dir, 'tasks.db') }));
    try {
      const roots = await store.list({ rootsOnly: true, taskType: 'travel_orchestrator' });
      assert.equal(roots.length, 1);
      assert.equal(roots[0]!.status, 'Complete');
      assert.equal(roots[0]!.outputLocation, video);
    } finally {
      await store.close();
    }
  } finally {
    p.kill('SIGKILL');
    const r = new Redis(REDIS_URL);
    await deleteKeys(r, prefix);
    r.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the demo starts a private redis-server when none answers, or says how to get one', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const down = `redis://127.0.0.1:${port}`;
  await assert.rejects(ensureRedis(down, { binary: null }), (e: unknown) => e instanceof ConfigError && /apt-get install redis-server/.test(e.message));
  assert.ok(findBinary('redis-server'), 'redis-server is installed here (CI installs it)');
  const r = await ensureRedis(down);
  try {
    assert.equal(r.private, true);
    assert.notEqual(r.url, down);
    assert.equal(await redisAnswers(r.url), true);
  } finally {
    await r.stop();
  }
  assert.equal(await redisAnswers(r.url, 500), false, 'the private server is gone after stop()');
  const shared = await ensureRedis(REDIS_URL);
  assert.equal(shared.private, false);
});
