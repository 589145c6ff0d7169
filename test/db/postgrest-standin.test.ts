import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import { createTestSchema, loadSqlFunctions, pgAdmin, type TestSchema } from '../support/pg.ts';
import { startPostgrestStandin, type PostgrestStandin } from '../support/postgrest-standin.ts';

/** The stand-in must answer like PostgREST (protocols.md §1), or the Supabase store tests prove nothing. */
let schema: TestSchema;
let standin: PostgrestStandin;
const KEY = 'service-role-key';

async function post(fn: string, body: string, headers: Record<string, string> = { apikey: KEY, Authorization: `Bearer ${KEY}` }) {
  const res = await fetch(`${standin.url}/rest/v1/rpc/${fn}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('PostgREST stand-in', { timeout: 60_000 }, () => {
  before(async () => {
    schema = await createTestSchema();
    await loadSqlFunctions(schema.url);
    const a = pgAdmin(schema.url);
    await a.unsafe(`
      CREATE FUNCTION t_raise() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'custom failure' USING DETAIL = 'why', HINT = 'fix it'; END $$;
      CREATE TABLE t_uniq (k int PRIMARY KEY);
      CREATE FUNCTION t_dup() RETURNS void LANGUAGE sql AS $$ INSERT INTO t_uniq VALUES (1), (1) $$;
      CREATE FUNCTION t_missing_table() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM no_such_table); END $$;`);
    await a.end({ timeout: 5 });
    standin = await startPostgrestStandin({ databaseUrl: schema.url, schema: schema.name, apiKey: KEY });
  });
  after(async () => {
    await standin.close();
    await schema.drop();
  });

  it('checks apikey and Bearer, answering 401 with WWW-Authenticate', async () => {
    const none = await post('func_smq_get_cursor', '{"p_name":"x"}', {});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(Object.keys(none.json).sort(), ['code', 'details', 'hint', 'message']);
    const wrongBearer = await post('func_smq_get_cursor', '{"p_name":"x"}', { apikey: KEY, Authorization: 'Bearer nope' });
    assert.equal(wrongBearer.status, 401);
  });

  it('answers void with 204 and no body, sets as arrays, scalars bare', async () => {
    const v = await post('func_smq_migrate', '{"p_table_name":"tasks"}');
    assert.equal(v.status, 204);
    assert.equal(v.text, '');
    assert.equal(v.headers.get('content-type'), null);
    const ins = await post('func_smq_insert', JSON.stringify({ p_table_name: 'tasks', p_task: { task_id: 'a', task_type: 'noop', params: { n: 1 } } }));
    assert.equal(ins.status, 200);
    assert.equal(ins.text, 'true');
    const rows = await post('func_smq_get', '{"p_table_name":"tasks","p_task_id":"a"}');
    assert.ok(Array.isArray(rows.json));
    assert.equal(rows.json[0].task_id, 'a');
    assert.deepEqual(rows.json[0].params, { n: 1 });
    assert.match(rows.json[0].created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+\+00:00$/);
    assert.deepEqual((await post('func_smq_get', '{"p_table_name":"tasks","p_task_id":"zz"}')).json, []);
    const nul = await post('func_smq_get_cursor', '{"p_name":"none"}');
    assert.equal(nul.status, 200);
    assert.equal(nul.text, 'null');
    // Arguments with defaults may be left out, as the seed does with p_output_location.
    assert.equal((await post('func_update_task_status', '{"p_table_name":"tasks","p_task_id":"a","p_status":"In Progress"}')).status, 204);
  });

  it('answers an unknown function or argument set with 404 PGRST202', async () => {
    const r = await post('func_nope', '{"p_b":1,"p_a":2}');
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'PGRST202');
    assert.equal(r.json.message, 'Could not find the function public.func_nope(p_a, p_b) in the schema cache');
    assert.match(r.json.details, /^Searched for the function public\.func_nope with parameters p_a, p_b or with a single unnamed json\/jsonb parameter/);
    const wrongArgs = await post('func_smq_get', '{"p_table_name":"tasks"}');
    assert.equal(wrongArgs.status, 404);
    assert.equal(wrongArgs.json.code, 'PGRST202');
  });

  it('maps SQLSTATEs to PostgREST status codes with code/message/details/hint', async () => {
    const raised = await post('t_raise', '{}');
    assert.equal(raised.status, 400);
    assert.deepEqual(raised.json, { code: 'P0001', message: 'custom failure', details: 'why', hint: 'fix it' });
    const dup = await post('t_dup', '{}');
    assert.equal(dup.status, 409);
    assert.equal(dup.json.code, '23505');
    const missing = await post('t_missing_table', '{}');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, '42P01');
    const bad = await post('func_smq_get', '{"p_table_name":"tasks; drop table x","p_task_id":"a"}');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, '22023');
    assert.match(bad.json.message, /^table_name: /);
  });

  it('answers malformed JSON with 400 PGRST102', async () => {
    const r = await post('func_smq_get', '{"p_table_name":');
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'PGRST102');
  });

  it('serves supabase-js .rpc() with its own headers', async () => {
    const client = createClient(standin.url, KEY, { auth: { persistSession: false, autoRefreshToken: false } });
    const ok = await client.rpc('func_smq_counts_by_status', { p_table_name: 'tasks' });
    assert.equal(ok.error, null);
    assert.deepEqual(ok.data, [{ status: 'In Progress', n: 1 }]);
    const err = await client.rpc('func_smq_transition', { p_table_name: 'tasks', p_update: { task_id: 'a', status: 'Done' } });
    assert.equal(err.status, 400);
    assert.equal(err.error?.code, '22023');
    assert.match(err.error?.message ?? '', /^status: unknown status "Done"/);
    const anon = createClient(standin.url, 'wrong-key', { auth: { persistSession: false, autoRefreshToken: false } });
    assert.equal((await anon.rpc('func_smq_get_cursor', { p_name: 'x' })).status, 401);
  });
});
