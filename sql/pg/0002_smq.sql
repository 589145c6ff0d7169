-- smq 0002 (PostgreSQL): smq's additive migration and the RPC functions both the PostgreSQL store
-- (direct `postgres` driver) and the Supabase store (PostgREST `.rpc()`) call. Everything is
-- CREATE OR REPLACE / IF NOT EXISTS, so re-running the file is harmless.
--
-- Conventions:
--   * every function that touches the tasks table takes p_table_name, checks it with
--     smq_assert_table_name (a plain identifier) and only ever splices it with format('%I');
--   * bad input raises SQLSTATE 22023 with the message "<field>: <what to do>", which PostgREST
--     answers with HTTP 400 and the stores turn into ValidationError(field);
--   * rows come back as the composite smq_task (task_type filled the seed's way), so PostgREST
--     answers JSON arrays of objects and the `postgres` driver gets the same columns.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE t.typname = 'smq_task' AND n.nspname = current_schema()) THEN
    CREATE TYPE smq_task AS (
      task_id TEXT, task_type TEXT, params JSONB, status TEXT, worker_id TEXT, output_location TEXT,
      created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, attempts INT, error_message TEXT, progress JSONB,
      run_id TEXT, parent_task_id TEXT, queue_name TEXT, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ
    );
  END IF;
END
$$;

CREATE TABLE IF NOT EXISTS smq_stream_cursors (
  name TEXT PRIMARY KEY,
  last_id TEXT,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE OR REPLACE FUNCTION smq_assert_table_name(p_table_name TEXT)
RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  -- format('%I') alone would quote anything; smq refuses names that need quoting at all.
  IF p_table_name IS NULL OR p_table_name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('table_name: %s is not a plain identifier: use letters, digits and underscores, starting with a letter or underscore', coalesce(quote_literal(p_table_name), 'NULL'));
  END IF;
  RETURN p_table_name;
END
$$;

CREATE OR REPLACE FUNCTION smq_assert_status(p_status TEXT, p_field TEXT DEFAULT 'status')
RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_status IS NULL OR p_status NOT IN ('Queued', 'In Progress', 'Complete', 'Failed', 'Cancelled') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('%s: unknown status %s: use one of Queued, In Progress, Complete, Failed, Cancelled', p_field, coalesce(to_json(p_status)::text, 'null'));
  END IF;
  RETURN p_status;
END
$$;

-- Queued 0 < In Progress 1 < terminal 2. A status some other tool wrote ranks as terminal, so smq
-- never overwrites what it does not understand (the twin of status-rules.ts statusRank).
CREATE OR REPLACE FUNCTION smq_status_rank(p_status TEXT)
RETURNS INT LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_status WHEN 'Queued' THEN 0 WHEN 'In Progress' THEN 1 ELSE 2 END
$$;

-- The select list that turns a table row into smq_task; task_type the seed migration's way.
CREATE OR REPLACE FUNCTION smq_task_columns()
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT 'task_id, COALESCE(task_type, params->>''task_type'', ''standard_wgp_task'') AS task_type, params, status, '
      || 'worker_id, output_location, created_at, updated_at, attempts, error_message, progress, run_id, '
      || 'parent_task_id, queue_name, started_at, finished_at'
$$;

CREATE OR REPLACE FUNCTION func_smq_migrate(p_table_name TEXT)
RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  t TEXT := smq_assert_table_name(p_table_name);
BEGIN
  -- Concurrent starters on one table would race on CREATE TABLE / ADD COLUMN; serialise them.
  PERFORM pg_advisory_xact_lock(hashtext('smq:migrate:' || current_schema() || '.' || t));
  PERFORM func_initialize_tasks_table(t);
  -- Tables created before the seed added task_type lack it (the seed's own migration adds it nullable).
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS task_type TEXT', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS worker_id TEXT', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS attempts INT NOT NULL DEFAULT 0', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS error_message TEXT', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS progress JSONB', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS run_id TEXT', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS parent_task_id TEXT', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS queue_name TEXT', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS started_at TIMESTAMPTZ', t);
  EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS finished_at TIMESTAMPTZ', t);
  -- The seed's task_type migration, without its swallow-every-error handler.
  EXECUTE format('UPDATE %I SET task_type = COALESCE(params->>''task_type'', ''standard_wgp_task'') WHERE task_type IS NULL', t);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (run_id)', 'idx_' || t || '_run_id', t);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (parent_task_id)', 'idx_' || t || '_parent_task_id', t);
  -- Ingest and the sweep only look at open rows; a partial index keeps that cheap on a big table.
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (queue_name, task_id) WHERE status IN (''Queued'', ''In Progress'')',
                 'idx_' || t || '_open_queue', t);
END
$$;

CREATE OR REPLACE FUNCTION smq_insert_rows(p_table_name TEXT, p_tasks JSONB)
RETURNS INT LANGUAGE plpgsql AS $$
DECLARE
  t TEXT := smq_assert_table_name(p_table_name);
  e JSONB;
  n INT;
BEGIN
  IF p_tasks IS NULL OR jsonb_typeof(p_tasks) <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'tasks: must be a JSON array of task objects';
  END IF;
  FOR e IN SELECT value FROM jsonb_array_elements(p_tasks) LOOP
    IF jsonb_typeof(e) <> 'object' OR coalesce(e->>'task_id', '') = '' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'taskId: every task needs a non-empty task_id';
    END IF;
    IF coalesce(e->>'task_type', '') = '' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('taskType: task %s needs a non-empty task_type', e->>'task_id');
    END IF;
    IF jsonb_typeof(e->'params') IS DISTINCT FROM 'object' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('params: task %s: params must be a JSON object', e->>'task_id');
    END IF;
    PERFORM smq_assert_status(coalesce(e->>'status', 'Queued'));
  END LOOP;
  -- clock_timestamp() per row plus the id tie-break keeps FIFO within one batch.
  EXECUTE format(
    'INSERT INTO %I (task_id, task_type, params, status, run_id, parent_task_id, queue_name, attempts, created_at, updated_at)
     SELECT e->>''task_id'', e->>''task_type'', e->''params'', coalesce(e->>''status'', ''Queued''),
            e->>''run_id'', e->>''parent_task_id'', e->>''queue_name'', 0, clock_timestamp(), clock_timestamp()
     FROM jsonb_array_elements($1) WITH ORDINALITY AS x(e, ord) ORDER BY ord
     ON CONFLICT (task_id) DO NOTHING', t)
  USING p_tasks;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_insert(p_table_name TEXT, p_task JSONB)
RETURNS BOOLEAN LANGUAGE sql SECURITY DEFINER AS $$
  SELECT smq_insert_rows(p_table_name, jsonb_build_array(p_task)) = 1
$$;

CREATE OR REPLACE FUNCTION func_smq_insert_many(p_table_name TEXT, p_tasks JSONB)
RETURNS INT LANGUAGE sql SECURITY DEFINER AS $$
  SELECT smq_insert_rows(p_table_name, p_tasks)
$$;

CREATE OR REPLACE FUNCTION func_smq_get(p_table_name TEXT, p_task_id TEXT)
RETURNS SETOF smq_task LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT %s FROM %I WHERE task_id = $1', smq_task_columns(), smq_assert_table_name(p_table_name))
  USING p_task_id;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_get_many(p_table_name TEXT, p_task_ids JSONB)
RETURNS SETOF smq_task LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
  IF p_task_ids IS NULL OR jsonb_typeof(p_task_ids) <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'taskIds: must be a JSON array of task ids';
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT %s FROM %I WHERE task_id IN (SELECT jsonb_array_elements_text($1))', smq_task_columns(), smq_assert_table_name(p_table_name))
  USING p_task_ids;
END
$$;

-- Filter keys (all optional, ANDed): task_id, run_id, status, task_type, roots_only, limit (1..1000, default 100), offset.
CREATE OR REPLACE FUNCTION func_smq_list(p_table_name TEXT, p_filter JSONB)
RETURNS SETOF smq_task LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
  f JSONB := coalesce(p_filter, '{}'::jsonb);
  v_limit INT;
  v_offset INT;
BEGIN
  IF f ? 'status' THEN PERFORM smq_assert_status(f->>'status'); END IF;
  IF f ? 'limit' AND NOT (jsonb_typeof(f->'limit') = 'number' AND (f->>'limit')::numeric BETWEEN 1 AND 1000 AND (f->>'limit')::numeric % 1 = 0) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit: must be an integer from 1 to 1000, got %s', f->'limit');
  END IF;
  IF f ? 'offset' AND NOT (jsonb_typeof(f->'offset') = 'number' AND (f->>'offset')::numeric >= 0 AND (f->>'offset')::numeric % 1 = 0) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('offset: must be a non-negative integer, got %s', f->'offset');
  END IF;
  v_limit := coalesce((f->>'limit')::int, 100);
  v_offset := coalesce((f->>'offset')::int, 0);
  RETURN QUERY EXECUTE format(
    'SELECT %s FROM %I
     WHERE ($1::text IS NULL OR task_id = $1) AND ($2::text IS NULL OR run_id = $2) AND ($3::text IS NULL OR status = $3)
       AND ($4::text IS NULL OR COALESCE(task_type, params->>''task_type'', ''standard_wgp_task'') = $4)
       AND (NOT $5 OR parent_task_id IS NULL)
     ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7',
    smq_task_columns(), smq_assert_table_name(p_table_name))
  USING f->>'task_id', f->>'run_id', f->>'status', f->>'task_type', coalesce((f->>'roots_only')::boolean, false), v_limit, v_offset;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_list_by_run(p_table_name TEXT, p_run_id TEXT)
RETURNS SETOF smq_task LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT %s FROM %I WHERE run_id = $1 ORDER BY created_at, id', smq_task_columns(), smq_assert_table_name(p_table_name))
  USING p_run_id;
END
$$;

-- func_claim_task's semantics (oldest Queued by created_at, SKIP LOCKED, In Progress + worker_id),
-- returning the whole row and stamping started_at.
CREATE OR REPLACE FUNCTION func_smq_claim(p_table_name TEXT, p_worker_id TEXT)
RETURNS SETOF smq_task LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  t TEXT := smq_assert_table_name(p_table_name);
BEGIN
  IF coalesce(p_worker_id, '') = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'workerId: must be a non-empty string (e.g. "worker_123")';
  END IF;
  RETURN QUERY EXECUTE format(
    'WITH picked AS (
       SELECT id FROM %I WHERE status = ''Queued'' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
     )
     UPDATE %I AS x SET status = ''In Progress'', worker_id = $1,
       task_type = COALESCE(x.task_type, x.params->>''task_type'', ''standard_wgp_task''),
       started_at = COALESCE(x.started_at, clock_timestamp()), updated_at = clock_timestamp()
     FROM picked WHERE x.id = picked.id
     RETURNING %s', t, t, smq_task_columns())
  USING p_worker_id;
END
$$;

-- One monotonic update (the twin of status-rules.ts planTransition). Keys present in p_update are
-- applied; absent keys are left alone. Returns true if the row changed.
CREATE OR REPLACE FUNCTION smq_apply_update(p_table_name TEXT, p_update JSONB)
RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
  t TEXT := smq_assert_table_name(p_table_name);
  cur RECORD;
  n INT;
  r_from INT;
  r_to INT;
  now_ts TIMESTAMPTZ := clock_timestamp();
  v_status TEXT; v_out TEXT; v_err TEXT; v_prog JSONB; v_worker TEXT; v_att INT; v_start TIMESTAMPTZ; v_fin TIMESTAMPTZ;
BEGIN
  IF p_update IS NULL OR jsonb_typeof(p_update) <> 'object' OR coalesce(p_update->>'task_id', '') = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'taskId: every update needs a non-empty task_id';
  END IF;
  IF p_update ? 'status' THEN PERFORM smq_assert_status(p_update->>'status'); END IF;
  IF p_update ? 'attempts' AND NOT (jsonb_typeof(p_update->'attempts') = 'number'
      AND (p_update->>'attempts')::numeric >= 0 AND (p_update->>'attempts')::numeric % 1 = 0) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('attempts: must be a non-negative integer, got %s', p_update->'attempts');
  END IF;

  EXECUTE format('SELECT status, output_location, error_message, progress, worker_id, attempts, started_at, finished_at
                  FROM %I WHERE task_id = $1 FOR UPDATE', t)
  INTO cur USING p_update->>'task_id';
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN RETURN FALSE; END IF;

  r_from := smq_status_rank(cur.status);
  IF r_from = 2 THEN RETURN FALSE; END IF;
  v_status := cur.status; v_out := cur.output_location; v_err := cur.error_message; v_prog := cur.progress;
  v_worker := cur.worker_id; v_att := cur.attempts; v_start := cur.started_at; v_fin := cur.finished_at;

  IF p_update ? 'status' THEN
    r_to := smq_status_rank(p_update->>'status');
    -- Backwards is a stale event: none of it applies.
    IF r_to < r_from THEN RETURN FALSE; END IF;
    IF r_to > r_from THEN
      v_status := p_update->>'status';
      IF v_status = 'In Progress' THEN v_start := coalesce(cur.started_at, now_ts); END IF;
      IF r_to = 2 THEN v_fin := now_ts; END IF;
    END IF;
  END IF;
  IF p_update ? 'output_location' THEN v_out := p_update->>'output_location'; END IF;
  IF p_update ? 'error_message' THEN v_err := p_update->>'error_message'; END IF;
  IF p_update ? 'progress' THEN
    v_prog := CASE WHEN jsonb_typeof(p_update->'progress') = 'null' THEN NULL ELSE p_update->'progress' END;
  END IF;
  IF p_update ? 'worker_id' THEN v_worker := p_update->>'worker_id'; END IF;
  IF p_update ? 'started_at' THEN v_start := (p_update->>'started_at')::timestamptz; END IF;
  IF p_update ? 'finished_at' THEN v_fin := (p_update->>'finished_at')::timestamptz; END IF;
  IF p_update ? 'attempts' THEN v_att := greatest(cur.attempts, (p_update->>'attempts')::int); END IF;

  IF (v_status, v_out, v_err, v_prog, v_worker, v_att, v_start, v_fin) IS NOT DISTINCT FROM
     (cur.status, cur.output_location, cur.error_message, cur.progress, cur.worker_id, cur.attempts, cur.started_at, cur.finished_at) THEN
    RETURN FALSE;
  END IF;
  EXECUTE format('UPDATE %I SET status = $1, output_location = $2, error_message = $3, progress = $4, worker_id = $5,
                    attempts = $6, started_at = $7, finished_at = $8, updated_at = clock_timestamp() WHERE task_id = $9', t)
  USING v_status, v_out, v_err, v_prog, v_worker, v_att, v_start, v_fin, p_update->>'task_id';
  RETURN TRUE;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_transition(p_table_name TEXT, p_update JSONB)
RETURNS BOOLEAN LANGUAGE sql SECURITY DEFINER AS $$
  SELECT smq_apply_update(p_table_name, p_update)
$$;

-- Many updates plus the stream cursor they cover, in the caller's one transaction (one RPC call on
-- Supabase), so a crash keeps both or neither. Returns how many rows changed.
CREATE OR REPLACE FUNCTION func_smq_apply_batch(p_table_name TEXT, p_updates JSONB, p_cursor_name TEXT DEFAULT NULL, p_cursor_id TEXT DEFAULT NULL)
RETURNS INT LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  t TEXT := smq_assert_table_name(p_table_name);
  u JSONB;
  changed INT := 0;
BEGIN
  IF p_updates IS NULL OR jsonb_typeof(p_updates) <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'updates: must be a JSON array of updates';
  END IF;
  IF p_cursor_name IS NOT NULL AND coalesce(p_cursor_id, '') = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'cursor.lastId: must be a non-empty stream id such as "1700000000000-0"';
  END IF;
  FOR u IN SELECT value FROM jsonb_array_elements(p_updates) WITH ORDINALITY AS x(value, ord) ORDER BY ord LOOP
    IF smq_apply_update(t, u) THEN changed := changed + 1; END IF;
  END LOOP;
  IF p_cursor_name IS NOT NULL THEN
    INSERT INTO smq_stream_cursors (name, last_id, updated_at) VALUES (p_cursor_name, p_cursor_id, clock_timestamp())
    ON CONFLICT (name) DO UPDATE SET last_id = EXCLUDED.last_id, updated_at = EXCLUDED.updated_at;
  END IF;
  RETURN changed;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_get_cursor(p_name TEXT)
RETURNS TEXT LANGUAGE sql STABLE SECURITY DEFINER AS $$
  SELECT last_id FROM smq_stream_cursors WHERE name = p_name
$$;

-- Explicit retry: the only way a terminal row moves again.
CREATE OR REPLACE FUNCTION func_smq_requeue(p_table_name TEXT, p_task_id TEXT, p_set_queue BOOLEAN DEFAULT FALSE, p_queue_name TEXT DEFAULT NULL)
RETURNS BOOLEAN LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  n INT;
BEGIN
  EXECUTE format(
    'UPDATE %I SET status = ''Queued'', attempts = attempts + 1, error_message = NULL, output_location = NULL,
       finished_at = NULL, started_at = NULL, worker_id = NULL, progress = NULL,
       queue_name = CASE WHEN $1 THEN $2 ELSE queue_name END, updated_at = clock_timestamp()
     WHERE task_id = $3', smq_assert_table_name(p_table_name))
  USING coalesce(p_set_queue, FALSE), p_queue_name, p_task_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n = 1;
END
$$;

-- func_get_completed_travel_segments, but for any table and also matching the run_id column.
CREATE OR REPLACE FUNCTION func_smq_completed_travel_segments(p_table_name TEXT, p_run_id TEXT)
RETURNS TABLE(segment_index_out INTEGER, output_location_out TEXT) LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'SELECT CAST(params->>''segment_index'' AS INTEGER), output_location FROM %I
     WHERE (params->>''orchestrator_run_id'' = $1 OR run_id = $1)
       AND COALESCE(task_type, params->>''task_type'', ''standard_wgp_task'') = ''travel_segment''
       AND status = ''Complete'' AND output_location IS NOT NULL
       AND params->>''segment_index'' ~ ''^-?[0-9]{1,9}$''
     ORDER BY CAST(params->>''segment_index'' AS INTEGER)', smq_assert_table_name(p_table_name))
  USING p_run_id;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_counts_by_status(p_table_name TEXT)
RETURNS TABLE(status TEXT, n BIGINT) LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT status, count(*) FROM %I GROUP BY status', smq_assert_table_name(p_table_name));
END
$$;

-- Ingest: takes undispatched Queued rows once across concurrent callers (SKIP LOCKED), filling
-- task_type the seed's way first, oldest first.
CREATE OR REPLACE FUNCTION func_smq_claim_undispatched(p_table_name TEXT, p_limit INT, p_claim_mark TEXT)
RETURNS SETOF smq_task LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  t TEXT := smq_assert_table_name(p_table_name);
BEGIN
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit: must be an integer from 1 to 10000, got %s', coalesce(p_limit::text, 'null'));
  END IF;
  IF coalesce(p_claim_mark, '') = '' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'claimMark: must be a non-empty string';
  END IF;
  RETURN QUERY EXECUTE format(
    'WITH picked AS (
       SELECT id FROM %I WHERE status = ''Queued'' AND queue_name IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
     ), upd AS (
       UPDATE %I AS x SET queue_name = $2, task_type = COALESCE(x.task_type, x.params->>''task_type'', ''standard_wgp_task''),
         updated_at = clock_timestamp()
       FROM picked WHERE x.id = picked.id
       RETURNING x.*
     )
     SELECT %s FROM upd ORDER BY created_at, id', t, t, smq_task_columns())
  USING p_limit, p_claim_mark;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_set_queue_name(p_table_name TEXT, p_task_id TEXT, p_queue_name TEXT)
RETURNS BOOLEAN LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  n INT;
BEGIN
  EXECUTE format('UPDATE %I SET queue_name = $1, updated_at = clock_timestamp() WHERE task_id = $2', smq_assert_table_name(p_table_name))
  USING p_queue_name, p_task_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n = 1;
END
$$;

CREATE OR REPLACE FUNCTION func_smq_list_open(p_table_name TEXT, p_limit INT, p_after_task_id TEXT DEFAULT NULL)
RETURNS SETOF smq_task LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit: must be an integer from 1 to 10000, got %s', coalesce(p_limit::text, 'null'));
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT %s FROM %I WHERE status IN (''Queued'', ''In Progress'') AND queue_name IS NOT NULL
       AND ($1::text IS NULL OR task_id > $1) ORDER BY task_id LIMIT $2',
    smq_task_columns(), smq_assert_table_name(p_table_name))
  USING p_after_task_id, p_limit;
END
$$;
