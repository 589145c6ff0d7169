-- smq 0004 (PostgreSQL): record the queue of many dispatched rows in one call. A producer that
-- enqueues thousands of tasks with one addBulk would otherwise pay one round trip (and, over
-- Supabase, one HTTP request) per row just to say where each went. Pinned search_path like 0003.
CREATE OR REPLACE FUNCTION func_smq_set_queue_names(p_table_name TEXT, p_task_ids JSONB, p_queue_name TEXT)
RETURNS INT LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n INT;
BEGIN
  IF p_task_ids IS NULL OR jsonb_typeof(p_task_ids) <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'taskIds: must be a JSON array of task ids';
  END IF;
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_task_ids) AS x(e) WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' = '') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'taskIds: every task id must be a non-empty string';
  END IF;
  EXECUTE format(
    'UPDATE %I SET queue_name = $1, updated_at = clock_timestamp() WHERE task_id IN (SELECT jsonb_array_elements_text($2))',
    smq_assert_table_name(p_table_name))
  USING p_queue_name, p_task_ids;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
