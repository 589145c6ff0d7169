import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PostgresStore } from '../../src/db/postgres-store.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { createTestSchema, loadSqlFunctions, pgAdmin, type TestSchema } from '../support/pg.ts';

/**
 * The seed's worker calls its five functions by name; an existing database must keep answering
 * those calls after smq's migration. Each call here is run by psql exactly as in the brief, with
 * the test schema on the search_path via PGOPTIONS.
 */
let schema: TestSchema;

function psql(query: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-X', '-A', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-c', query], {
    env: { ...process.env, PGOPTIONS: `-c search_path=${schema.name}` },
    encoding: 'utf8',
  });
  return { ok: r.status === 0, out: r.stdout.trim(), err: r.stderr.trim() };
}

function psqlOk(query: string): string[] {
  const r = psql(query);
  assert.ok(r.ok, `psql failed: ${query}\n${r.err}`);
  return r.out.split('\n');
}

describe('seed SQL calls against smq sql/', { timeout: 60_000 }, () => {
  before(async () => {
    schema = await createTestSchema();
    assert.equal(await loadSqlFunctions(schema.url), 4);
  });
  after(async () => {
    await schema.drop();
  });

  it('runs the seed worker lifecycle through the five functions, before and after smq migrates the table', async () => {
    psqlOk(`SELECT func_initialize_tasks_table('tasks')`);
    // Two statements, so created_at differs and the seed's FIFO (created_at only) is defined.
    psqlOk(`INSERT INTO tasks (task_id, params, task_type) VALUES ('seg_1', '{"orchestrator_run_id":"run1","segment_index":1}', 'travel_segment')`);
    psqlOk(`INSERT INTO tasks (task_id, params, task_type) VALUES ('seg_0', '{"orchestrator_run_id":"run1","segment_index":0}', 'travel_segment')`);
    const claim = psqlOk(`SELECT * FROM func_claim_task('tasks','worker_123')`);
    assert.equal(claim[0], 'task_id_out|params_out|task_type_out');
    assert.match(claim[1], /^seg_1\|\{"segment_index": 1, "orchestrator_run_id": "run1"\}\|travel_segment$/);
    psqlOk(`SELECT func_update_task_status('tasks','seg_1','Complete','/out/seg_1.mp4')`);

    // smq's migration on the same table, then the seed functions must still work unchanged.
    const store = new PostgresStore({ databaseUrl: schema.url, tableName: 'tasks', max: 1 });
    try {
      await store.init();
      const seg1 = await store.get('seg_1');
      assert.equal(seg1?.status, 'Complete');
      assert.equal(seg1?.workerId, 'worker_123');
      assert.equal(seg1?.outputLocation, '/out/seg_1.mp4');
      assert.equal(seg1?.attempts, 0);

      const claim2 = psqlOk(`SELECT * FROM func_claim_task('tasks','worker_123')`);
      assert.match(claim2[1], /^seg_0\|.*\|travel_segment$/);
      assert.deepEqual(psqlOk(`SELECT * FROM func_claim_task('tasks','worker_123')`), ['task_id_out|params_out|task_type_out', '(0 rows)']);
      // The seed omits p_output_location when it has none; a Failed never writes a location.
      psqlOk(`SELECT func_update_task_status('tasks','seg_0','In Progress')`);
      psqlOk(`SELECT func_update_task_status('tasks','seg_0','Complete','/out/seg_0.mp4')`);
      assert.deepEqual(psqlOk(`SELECT * FROM func_get_completed_travel_segments('run1')`), [
        'segment_index_out|output_location_out',
        '0|/out/seg_0.mp4',
        '1|/out/seg_1.mp4',
        '(2 rows)',
      ]);
      assert.deepEqual(await store.completedTravelSegments('run1'), [
        { segmentIndex: 0, outputLocation: '/out/seg_0.mp4' },
        { segmentIndex: 1, outputLocation: '/out/seg_1.mp4' },
      ]);
      const mig = psqlOk(`SELECT func_migrate_tasks_for_task_type('tasks')`);
      assert.equal(mig[1], 'Migration for task_type completed. Migrated from params: 0, Defaulted NULLs: 0');
    } finally {
      await store.close();
    }
  });

  it('migrates a pre-task_type table the seed way and smq reads it', async () => {
    psqlOk(`CREATE TABLE legacy (id BIGSERIAL PRIMARY KEY, task_id TEXT UNIQUE NOT NULL, params JSONB NOT NULL, status TEXT NOT NULL DEFAULT 'Queued',
      worker_id TEXT NULL, output_location TEXT NULL, created_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP)`);
    psqlOk(`INSERT INTO legacy (task_id, params) VALUES ('a', '{"task_type":"generate_openpose"}'), ('b', '{"prompt":"x"}')`);
    const mig = psqlOk(`SELECT func_migrate_tasks_for_task_type('legacy')`);
    assert.equal(mig[1], 'Migration for task_type completed. Migrated from params: 1, Defaulted NULLs: 1');
    // A row arriving later without task_type (the column stays nullable, as the seed left it).
    psqlOk(`INSERT INTO legacy (task_id, params) VALUES ('c', '{"task_type":"rife_interpolate_images"}')`);
    const store = new PostgresStore({ databaseUrl: schema.url, tableName: 'legacy', max: 1 });
    try {
      await store.init();
      const rows = await store.getMany(['a', 'b', 'c']);
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.taskId, r.taskType])), { a: 'generate_openpose', b: 'standard_wgp_task', c: 'rife_interpolate_images' });
      psqlOk(`INSERT INTO legacy (task_id, params) VALUES ('d', '{"task_type":"travel_stitch"}')`);
      const taken = await store.claimUndispatched(10, 'ingest');
      assert.deepEqual(taken.map((r) => r.taskId), ['a', 'b', 'c', 'd']);
      assert.deepEqual(psqlOk(`SELECT task_type FROM legacy WHERE task_id = 'd'`), ['task_type', 'travel_stitch', '(1 row)']);
    } finally {
      await store.close();
    }
  });

  it('refuses bad table names and unknown statuses inside the SQL functions too', async () => {
    for (const bad of [`tasks; drop table x`, `"x"`]) {
      const r = psql(`SELECT * FROM func_smq_get(${quote(bad)}, 'a')`);
      assert.equal(r.ok, false);
      assert.match(r.err, /table_name: .* is not a plain identifier/);
    }
    const r = psql(`SELECT func_smq_transition('tasks', '{"task_id":"seg_0","status":"Done"}')`);
    assert.equal(r.ok, false);
    assert.match(r.err, /status: unknown status "Done"/);
  });

  it('applies a batch and its cursor in one transaction at the SQL level', async () => {
    psqlOk(`SELECT func_smq_migrate('batch_t')`);
    psqlOk(`SELECT func_smq_insert_many('batch_t', '[{"task_id":"x1","task_type":"noop","params":{}},{"task_id":"x2","task_type":"noop","params":{}}]')`);
    // The second update is bad: the first must roll back with it, and the cursor must not move.
    const bad = psql(`SELECT func_smq_apply_batch('batch_t', '[{"task_id":"x1","status":"Complete"},{"task_id":"x2","status":"Nope"}]', 'cpu', '5-0')`);
    assert.equal(bad.ok, false);
    assert.deepEqual(psqlOk(`SELECT status FROM batch_t ORDER BY task_id`), ['status', 'Queued', 'Queued', '(2 rows)']);
    assert.deepEqual(psqlOk(`SELECT count(*) FROM smq_stream_cursors`), ['count', '0', '(1 row)']);
    assert.deepEqual(psqlOk(`SELECT func_smq_apply_batch('batch_t', '[{"task_id":"x1","status":"Complete"}]', 'cpu', '6-0')`), ['func_smq_apply_batch', '1', '(1 row)']);
    assert.deepEqual(psqlOk(`SELECT func_smq_get_cursor('cpu')`), ['func_smq_get_cursor', '6-0', '(1 row)']);
    const store = new PostgresStore({ databaseUrl: schema.url, tableName: 'batch_t', max: 1 });
    try {
      await store.init();
      await assert.rejects(store.list({ limit: 1, status: 'Nah' as never }), ValidationError);
    } finally {
      await store.close();
    }
  });

  it('records each migration once, even with concurrent starters', async () => {
    const s2 = await createTestSchema();
    try {
      const versions = await Promise.all([1, 2, 3, 4].map(() => loadSqlFunctions(s2.url)));
      assert.deepEqual(versions, [4, 4, 4, 4]);
      const a = pgAdmin(s2.url);
      const rows = await a`SELECT version, name FROM smq_migrations ORDER BY version`;
      await a.end({ timeout: 5 });
      assert.deepEqual(rows.map((r) => [r.version, r.name]), [[1, '0001_seed_functions'], [2, '0002_smq'], [3, '0003_pin_search_path'], [4, '0004_set_queue_names']]);
    } finally {
      await s2.drop();
    }
  });
});

function quote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

describe('SECURITY DEFINER hygiene', { timeout: 30_000 }, () => {
  it('pins smq definer functions to their schema, so a caller search_path cannot redirect them', async () => {
    const s = await createTestSchema();
    const evil = await createTestSchema('smqevil');
    try {
      await loadSqlFunctions(s.url);
      const a = pgAdmin(s.url);
      const cfg = await a`SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                          WHERE n.nspname = ${s.name} AND p.proname IN ('func_smq_transition', 'func_smq_set_queue_names')`;
      assert.equal(cfg.length, 2);
      for (const c of cfg) assert.deepEqual(c.proconfig, [`search_path=${s.name}`], c.proname);
      await a.unsafe(`SELECT func_smq_migrate('tasks'); SELECT func_smq_insert('tasks', '{"task_id":"z","task_type":"noop","params":{}}')`);
      // A shadowing helper in another schema placed first on the caller's path is not used.
      await a.unsafe(`CREATE FUNCTION "${evil.name}".smq_apply_update(p_table_name text, p_update jsonb) RETURNS boolean LANGUAGE sql AS $$ SELECT NULL::boolean $$`);
      await a.unsafe(`SET search_path = "${evil.name}", "${s.name}"`);
      const [r] = await a.unsafe(`SELECT "${s.name}".func_smq_transition('tasks', '{"task_id":"z","status":"In Progress"}') AS v`);
      await a.end({ timeout: 5 });
      assert.equal(r.v, true);
    } finally {
      await evil.drop();
      await s.drop();
    }
  });
});
