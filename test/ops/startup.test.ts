import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/core/config.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { authFromEnv, checkStartupAuth, isLoopbackHost } from '../../src/ops/dashboard/auth.ts';
import { startDashboard } from '../../src/ops/dashboard/server.ts';
import { REDIS_URL } from './support.ts';

const NONE = { token: null, user: null, password: null, readonlyToken: null };

test('loopback detection', () => {
  for (const h of ['127.0.0.1', '127.3.4.5', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
});

test('a non-loopback host without credentials refuses to start, naming the variables', async () => {
  assert.throws(() => checkStartupAuth('0.0.0.0', NONE), (err: unknown) => err instanceof ConfigError && /SMQ_DASHBOARD_TOKEN/.test(err.message) && /SMQ_DASHBOARD_PASSWORD/.test(err.message));
  assert.deepEqual(checkStartupAuth('0.0.0.0', { ...NONE, token: 't' }), { open: false, warning: null });
  const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(os.tmpdir(), 'never-created.db'), redisUrl: REDIS_URL });
  await assert.rejects(startDashboard({ config, host: '0.0.0.0', port: 0, auth: NONE, log: () => {} }), ConfigError);
  const cli = spawnSync(process.execPath, ['bin/smq.js', 'dashboard', '--host', '0.0.0.0', '--port', '0'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SMQ_DASHBOARD_TOKEN: '', SMQ_DASHBOARD_USER: '', SMQ_DASHBOARD_PASSWORD: '', SMQ_DASHBOARD_READONLY_TOKEN: '' },
  });
  assert.equal(cli.status, 2, cli.stderr);
  assert.match(cli.stderr, /SMQ_DASHBOARD_TOKEN/);
});

test('half-configured basic auth is a config error naming the missing variable', () => {
  assert.throws(() => authFromEnv({ SMQ_DASHBOARD_USER: 'ops' }), (e: unknown) => e instanceof ConfigError && e.field === 'SMQ_DASHBOARD_PASSWORD');
  assert.throws(() => authFromEnv({ SMQ_DASHBOARD_TOKEN: 'same', SMQ_DASHBOARD_READONLY_TOKEN: 'same' }), (e: unknown) => e instanceof ConfigError && e.field === 'SMQ_DASHBOARD_READONLY_TOKEN');
});

test('on loopback without credentials the dashboard is open and says so', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-ops-open-'));
  const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(dir, 'tasks.db'), redisUrl: REDIS_URL, queuePrefix: `{smqt-open-${process.pid}}` });
  const lines: string[] = [];
  const dash = await startDashboard({ config, host: '127.0.0.1', port: 0, auth: NONE, log: (l) => lines.push(l) });
  try {
    assert.ok(lines.some((l) => /OPEN/.test(l) && /SMQ_DASHBOARD_TOKEN/.test(l)), lines.join('\n'));
    const res = await fetch(`${dash.url}/runs`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /No runs yet/);
    const ready = await fetch(`${dash.url}/readyz`);
    assert.equal(ready.status, 200);
  } finally {
    await dash.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('readiness is 503 naming Redis when Redis does not answer', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-ops-ready-'));
  // Port 1 on loopback refuses connections at once: a Redis that is down.
  const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(dir, 'tasks.db'), redisUrl: 'redis://127.0.0.1:1', queuePrefix: `{smqt-down-${process.pid}}` });
  const dash = await startDashboard({ config, host: '127.0.0.1', port: 0, auth: { ...NONE, token: 'x' }, log: () => {} });
  try {
    const health = await fetch(`${dash.url}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${dash.url}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { failed: Record<string, string> };
    assert.ok(body.failed.redis, JSON.stringify(body));
    assert.equal(body.failed.database, undefined);
  } finally {
    await dash.close();
    await rm(dir, { recursive: true, force: true });
  }
});
