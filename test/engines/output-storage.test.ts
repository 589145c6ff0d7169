import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SmqConfig } from '../../src/core/config.ts';
import { SmqError } from '../../src/core/errors.ts';
import { createOutputStorage } from '../../src/consumers/storage/output-storage.ts';
import { startStorageStandin } from '../support/storage-standin.ts';

function config(over: Partial<SmqConfig>): SmqConfig {
  return {
    dbType: 'sqlite',
    sqlitePath: '/nonexistent/tasks.db',
    tableName: 'tasks',
    databaseUrl: null,
    supabaseUrl: null,
    supabaseServiceKey: null,
    supabaseVideoBucket: 'videos',
    redisUrl: 'redis://127.0.0.1:6379',
    queuePrefix: '{smqt}',
    comfyuiOutputPath: null,
    ...over,
  };
}

test('local mode: publish returns the absolute path, resolve checks existence', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-storage-'));
  try {
    const file = path.join(dir, 'out.mp4');
    await writeFile(file, 'x');
    const storage = createOutputStorage(config({}));
    assert.equal(await storage.publish(file, { taskId: 't1' }), file);
    assert.equal(await storage.resolve(file, dir), file);
    assert.equal(await storage.resolve(`file://${file}`, dir), file);
    await assert.rejects(storage.resolve(path.join(dir, 'missing.mp4'), dir), (e: Error) => e instanceof SmqError && /missing\.mp4.*not a readable file/.test(e.message));
    await assert.rejects(storage.publish(path.join(dir, 'gone.mp4'), { taskId: 't1' }), /gone\.mp4: no such file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('supabase mode: upload with upsert, public URL, download resolve, wrong key', async () => {
  const key = 'service-key-' + Math.random().toString(16).slice(2);
  const standin = await startStorageStandin({ serviceKey: key, buckets: ['videos'] });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-storage-'));
  try {
    const storage = createOutputStorage(config({ dbType: 'supabase', supabaseUrl: standin.url, supabaseServiceKey: key }));
    const file = path.join(dir, 'final video #1.mp4');
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251));
    await writeFile(file, bytes);

    const url = await storage.publish(file, { taskId: 'task_1' });
    const stored = standin.objects.get('videos/task_1/final video #1.mp4');
    assert.ok(stored, `stored keys: ${[...standin.objects.keys()].join(', ')}`);
    assert.deepEqual(stored.body, bytes);
    assert.equal(stored.contentType, 'video/mp4');
    assert.equal(standin.requests.at(-1)?.upsert, 'true');
    assert.equal(url, `${standin.url}/storage/v1/object/public/videos/task_1/final%20video%20%231.mp4`);

    // A retried job publishes again: upsert overwrites instead of failing as a duplicate.
    const bytes2 = Buffer.from('second version');
    await writeFile(file, bytes2);
    assert.equal(await storage.publish(file, { taskId: 'task_1' }), url);
    assert.deepEqual(standin.objects.get('videos/task_1/final video #1.mp4')?.body, bytes2);

    // Another worker opens the reference: downloaded into its work dir.
    const work = path.join(dir, 'work');
    const local = await storage.resolve(url, work);
    assert.ok(local.startsWith(work));
    assert.deepEqual(await readFile(local), bytes2);

    await assert.rejects(storage.resolve(`${standin.url}/storage/v1/object/public/videos/task_1/nope.mp4`, work), /HTTP 400.*Object not found/);

    const wrong = createOutputStorage(config({ dbType: 'supabase', supabaseUrl: standin.url, supabaseServiceKey: 'wrong' }));
    await assert.rejects(wrong.publish(file, { taskId: 'task_2' }), (e: Error) => {
      assert.ok(e instanceof SmqError);
      assert.match(e.message, /status 403.*invalid signature/);
      assert.equal(e.retryable, false);
      return true;
    });
    assert.equal([...standin.objects.keys()].some((k) => k.startsWith('videos/task_2/')), false);

    const noBucket = createOutputStorage(config({ dbType: 'supabase', supabaseUrl: standin.url, supabaseServiceKey: key, supabaseVideoBucket: 'absent' }));
    await assert.rejects(noBucket.publish(file, { taskId: 'task_3' }), /bucket "absent".*Bucket not found/);
  } finally {
    await standin.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('resolve times out on a server that never answers', async () => {
  const server = http.createServer(() => {
    // Never responds: the download must give up on its own.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-storage-'));
  try {
    const storage = createOutputStorage(config({}), { downloadTimeoutMs: 300 });
    const port = (server.address() as AddressInfo).port;
    await assert.rejects(storage.resolve(`http://127.0.0.1:${port}/x.mp4`, dir), /timed out after 300 ms/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
});
