import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import { pino } from 'pino';
import { resolveConfig } from '../../src/core/config.ts';
import { enqueueTravel, openProducerDeps } from '../../src/producers/api.ts';
import { writeSampleImages } from '../../src/ops/sample-images.ts';
import { startUp, type UpHandle } from '../../src/ops/up.ts';
import { deleteKeys, parsePrometheus, REDIS_URL, TEST_AUTH } from './support.ts';

const CHROMIUM = '/usr/bin/chromium';

/** The slice of HTMLVideoElement the check uses (the project compiles without the DOM lib). */
interface VideoLike {
  readyState: number;
  duration: number;
  error: { code: number } | null;
  load(): void;
  addEventListener(type: string, fn: () => void, opts?: { once: boolean }): void;
}
const SCREENSHOT_DIR = path.resolve('test-output');

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a browser logs in and sees a completed travel run with its segments, without errors', { timeout: 300_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-ops-browser-'));
  const prefix = `{smqt-${randomBytes(6).toString('hex')}}`;
  const config = resolveConfig({ dbType: 'sqlite', dbFile: path.join(dir, 'tasks.db'), redisUrl: REDIS_URL, queuePrefix: prefix });
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  let up: UpHandle | null = null;
  let browser: Browser | null = null;
  const producer = await openProducerDeps(config);
  try {
    // A real run: enqueueTravel → SmqWorker (onnx) → Reconciler → rows, all in this process.
    up = await startUp({
      config,
      worker: { outputRoot: path.join(dir, 'work'), name: 'browser-test-worker', graceMs: 2000, logger: quiet },
      reconciler: { sweepIntervalMs: 1000 },
      logger: quiet,
      host: '127.0.0.1',
      port: 0,
      auth: TEST_AUTH,
      log: () => {},
    });
    const images = await writeSampleImages(path.join(dir, 'samples'), '96x64');
    const run = await enqueueTravel(
      { input_images: images, base_prompts: ['Transitioning from red', 'Moving to green'], resolution: '96x64', segment_frames: [9], frame_overlap: [3], seed: 789, output_dir: path.join(dir, 'out') },
      producer,
      { cwd: dir },
    );
    const store = up.store;
    const root = await waitFor('the run to finish', async () => {
      const r = await store.get(run.orchestratorTaskId);
      if (r && (r.status === 'Failed' || r.status === 'Cancelled')) throw new Error(`run ended ${r.status}: ${r.errorMessage}`);
      return r?.status === 'Complete' ? r : null;
    }, 180_000);
    assert.equal(root.status, 'Complete');

    // After a real run, /metrics agrees with the table and has seen the jobs' durations.
    const metricsText = await (await fetch(`${up.dashboard.url}/metrics`, { headers: { authorization: `Bearer ${TEST_AUTH.token}` } })).text();
    const samples = parsePrometheus(metricsText);
    const counts = await store.countsByStatus();
    for (const [status, n] of Object.entries(counts)) assert.equal(samples.find((x) => x.name === 'smq_tasks' && x.labels.status === status)?.value, n, `smq_tasks{status="${status}"}`);
    assert.equal(counts.Complete, run.taskIds.length);
    const segDurations = samples.find((x) => x.name === 'smq_job_duration_seconds_count' && x.labels.task_type === 'travel_segment' && x.labels.outcome === 'completed');
    assert.equal(segDurations?.value, run.segmentTaskIds.length);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const external: string[] = [];
    const base = up.dashboard.url;
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      // Bull Board's stock page links IBM Plex from Google Fonts; offline that load fails and the UI
      // falls back to system fonts. Only failures of resources outside the dashboard are let through.
      const where = msg.location().url;
      if (/^Failed to load resource/.test(msg.text()) && where && !where.startsWith(base)) external.push(where);
      else problems.push(`console error: ${msg.text()} (${where})`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('response', (res) => {
      if (res.url().startsWith(base) && res.status() >= 400) problems.push(`HTTP ${res.status()} ${res.url()}`);
    });

    // Not signed in: the dashboard answers with the sign-in form (a 401, expected, so watched only after login).
    await page.goto(`${base}/login`);
    await page.fill('input[name="token"]', TEST_AUTH.token!);
    await Promise.all([page.waitForURL(`${base}/runs`), page.click('button[type="submit"]')]);

    const section = page.locator(`section.run[data-run-id="${run.runId}"]`);
    await section.waitFor({ timeout: 15_000 });
    assert.match(await section.locator('h3 .st').innerText(), /Complete/);
    const segmentRows = section.locator('table.steps tr[data-task-id]');
    const ids = await segmentRows.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task-id')));
    for (const seg of run.segmentTaskIds) assert.ok(ids.includes(seg), `segment ${seg} shown`);
    assert.ok(ids.includes(run.stitchTaskId), 'stitch shown');
    for (const seg of run.segmentTaskIds) assert.match(await section.locator(`tr[data-task-id="${seg}"]`).innerText(), /Complete/);
    // The final video is playable inline: the browser loads its metadata through /files.
    const duration = await section.locator('video').evaluate(
      (v: VideoLike) =>
        new Promise<number>((resolve, reject) => {
          if (v.readyState >= 1) return resolve(v.duration);
          v.addEventListener('loadedmetadata', () => resolve(v.duration), { once: true });
          v.addEventListener('error', () => reject(new Error(`video error ${v.error?.code}`)), { once: true });
          v.load();
        }),
    );
    assert.ok(duration > 0, `video duration ${duration}`);
    assert.equal(await page.locator('.error-banner, .err-msg').count(), 0, 'no error banner');

    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const shot = path.join(SCREENSHOT_DIR, 'dashboard-runs.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await stat(shot)).size > 10_000, 'screenshot written');

    // The task page shows the row and the flow; Bull Board lists smq's queues.
    await page.goto(`${base}/tasks/${encodeURIComponent(run.orchestratorTaskId)}`);
    assert.match(await page.locator('table.row').innerText(), /Complete/);
    // The flow tree, from BullMQ's dependencies: stitch under the orchestrator, segments beneath.
    const flow = await page.locator('ul.flow').innerText();
    for (const id of [run.stitchTaskId, ...run.segmentTaskIds]) assert.ok(flow.includes(id), `flow tree shows ${id}`);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-task.png'), fullPage: true });
    await page.goto(`${base}/admin/queues`);
    await page.getByText('gpu-onnx').first().waitFor({ timeout: 20_000 });
    // Only for a readable screenshot: if the overview is still loading after this, the shot shows it.
    await page.getByText('Loading...').first().waitFor({ state: 'hidden', timeout: 20_000 }).catch(() => {});
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-bull-board.png') });

    assert.deepEqual(problems, [], problems.join('\n'));
    for (const url of external) assert.match(url, /^https:\/\/fonts\.googleapis\.com\//, `unexpected external resource ${url}`);
  } finally {
    await browser?.close().catch(() => {});
    await producer.close().catch(() => {});
    await up?.close(2000).catch(() => {});
    const r = new Redis(REDIS_URL);
    await deleteKeys(r, prefix);
    r.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});
