-- smq 0001 (PostgreSQL): the seed's five functions, verbatim from the Headless-Wan2GP README
-- ("Supabase Setup"), so an existing Supabase project and the seed's worker keep working unchanged.
-- Do not edit: smq's additions live in later files.

CREATE OR REPLACE FUNCTION func_initialize_tasks_table(p_table_name TEXT)
RETURNS VOID AS $$
BEGIN
    EXECUTE format('
        CREATE TABLE IF NOT EXISTS %I (
            id BIGSERIAL PRIMARY KEY,
            task_id TEXT UNIQUE NOT NULL,
            params JSONB NOT NULL,
            task_type TEXT NOT NULL, -- Added NOT NULL constraint
            status TEXT NOT NULL DEFAULT ''Queued'',
            worker_id TEXT NULL,
            output_location TEXT NULL,
            created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
            updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
        );', p_table_name);

    EXECUTE format('
        CREATE INDEX IF NOT EXISTS idx_%s_status_created_at ON %I (status, created_at);
    ', p_table_name, p_table_name);

    EXECUTE format('
        CREATE UNIQUE INDEX IF NOT EXISTS idx_%s_task_id ON %I (task_id);
    ', p_table_name, p_table_name);

    -- Index for task_type, useful for querying specific task types
    EXECUTE format('
        CREATE INDEX IF NOT EXISTS idx_%s_task_type ON %I (task_type);
    ', p_table_name, p_table_name);

    -- Index for orchestrator_run_id within params, useful for travel tasks
    -- Note: This creates an index on a JSONB path. Ensure your Postgres version supports this efficiently.
    EXECUTE format('
        CREATE INDEX IF NOT EXISTS idx_%s_params_orchestrator_run_id ON %I ((params->>''orchestrator_run_id''));
    ', p_table_name, p_table_name);

END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE OR REPLACE FUNCTION func_claim_task(p_table_name TEXT, p_worker_id TEXT)
RETURNS TABLE(task_id_out TEXT, params_out JSONB, task_type_out TEXT) AS $$
DECLARE
    v_task_id TEXT;
    v_params JSONB;
    v_task_type TEXT;
BEGIN
    EXECUTE format('
        WITH selected_task AS (
            SELECT id, task_id, params, task_type -- Include task_type
            FROM %I
            WHERE status = ''Queued''
            ORDER BY created_at ASC
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        ), updated_task AS (
            UPDATE %I
            SET
                status = ''In Progress'',
                worker_id = $1,
                updated_at = CURRENT_TIMESTAMP
            WHERE id = (SELECT st.id FROM selected_task st)
            RETURNING task_id, params, task_type -- Return task_type
        )
        SELECT ut.task_id, ut.params, ut.task_type FROM updated_task ut LIMIT 1',
        p_table_name, p_table_name
    )
    INTO v_task_id, v_params, v_task_type -- Store task_type
    USING p_worker_id;

    IF v_task_id IS NOT NULL THEN
        RETURN QUERY SELECT v_task_id, v_params, v_task_type;
    ELSE
        RETURN QUERY SELECT NULL::TEXT, NULL::JSONB, NULL::TEXT WHERE FALSE;
    END IF;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE OR REPLACE FUNCTION func_update_task_status(
    p_table_name TEXT,
    p_task_id TEXT,
    p_status TEXT,
    p_output_location TEXT DEFAULT NULL
)
RETURNS VOID AS $$
BEGIN
    IF p_status = 'Complete' AND p_output_location IS NOT NULL THEN
        EXECUTE format('
            UPDATE %I
            SET status = $1, updated_at = CURRENT_TIMESTAMP, output_location = $2
            WHERE task_id = $3;',
            p_table_name)
        USING p_status, p_output_location, p_task_id;
    ELSE
        EXECUTE format('
            UPDATE %I
            SET status = $1, updated_at = CURRENT_TIMESTAMP
            WHERE task_id = $2;',
            p_table_name)
        USING p_status, p_task_id;
    END IF;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE OR REPLACE FUNCTION func_migrate_tasks_for_task_type(p_table_name TEXT)
RETURNS TEXT AS $$
DECLARE
    col_exists BOOLEAN;
    migrated_count INTEGER := 0;
    defaulted_count INTEGER := 0;
BEGIN
    -- Check if task_type column exists
    SELECT EXISTS (
        SELECT 1
        FROM information_schema.columns
        WHERE table_schema = current_schema() -- or your specific schema
        AND table_name = p_table_name
        AND column_name = 'task_type'
    ) INTO col_exists;

    IF NOT col_exists THEN
        RAISE NOTICE 'Column task_type does not exist in %. Adding column.', p_table_name;
        EXECUTE format('ALTER TABLE %I ADD COLUMN task_type TEXT', p_table_name);
    ELSE
        RAISE NOTICE 'Column task_type already exists in %.', p_table_name;
    END IF;

    -- Populate task_type from params where task_type is NULL
    RAISE NOTICE 'Attempting to populate task_type from params->>''task_type'' for NULL rows in %s...', p_table_name;
    EXECUTE format('
        WITH updated_rows AS (
            UPDATE %I
            SET task_type = params->>''task_type''
            WHERE task_type IS NULL AND params->>''task_type'' IS NOT NULL
            RETURNING 1
        )
        SELECT count(*) FROM updated_rows;',
        p_table_name
    ) INTO migrated_count;
    RAISE NOTICE 'Populated task_type for % rows from params.', migrated_count;

    -- Optionally, default remaining NULL task_types for old standard tasks
    RAISE NOTICE 'Attempting to default remaining NULL task_type to ''standard_wgp_task'' in %s...', p_table_name;
    EXECUTE format('
        WITH defaulted_rows AS (
            UPDATE %I
            SET task_type = ''standard_wgp_task''
            WHERE task_type IS NULL
            RETURNING 1
        )
        SELECT count(*) FROM defaulted_rows;',
        p_table_name
    ) INTO defaulted_count;
    RAISE NOTICE 'Defaulted task_type for % rows.', defaulted_count;

    -- Ensure NOT NULL constraint if this function is also for initial setup
    -- However, func_initialize_tasks_table should handle this for new tables.
    -- If altering, ensure data is clean first or handle potential errors.
    -- EXECUTE format('ALTER TABLE %I ALTER COLUMN task_type SET NOT NULL;', p_table_name);
    -- RAISE NOTICE 'Applied NOT NULL constraint to task_type in %.', p_table_name;

    RETURN 'Migration for task_type completed. Migrated from params: ' || migrated_count || ', Defaulted NULLs: ' || defaulted_count;
EXCEPTION
    WHEN OTHERS THEN
        RAISE WARNING 'Error during func_migrate_tasks_for_task_type for table %: %', p_table_name, SQLERRM;
        RETURN 'Migration for task_type failed. Check database logs.';
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE OR REPLACE FUNCTION func_get_completed_travel_segments(p_run_id TEXT)
RETURNS TABLE(segment_index_out INTEGER, output_location_out TEXT) AS $$
BEGIN
    RETURN QUERY
    SELECT
        CAST(params->>'segment_index' AS INTEGER) as segment_idx,
        output_location
    FROM
        tasks -- Assuming your table is named 'tasks', or use p_table_name if dynamic
    WHERE
        params->>'orchestrator_run_id' = p_run_id
        AND task_type = 'travel_segment'
        AND status = 'Complete'
        AND output_location IS NOT NULL
    ORDER BY
        segment_idx ASC;
END;
$$ LANGUAGE plpgsql; 
-- Consider SECURITY DEFINER if needed, depending on row-level security policies.
