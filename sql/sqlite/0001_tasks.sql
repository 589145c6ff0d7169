-- smq 0001 (SQLite): the canonical tasks table, compatible with tables the seed's tools created.
-- `{{table}}` is replaced by the configured table name (already checked to be a plain identifier).
-- `-- smq:` lines are directives the runner (src/db/sqlite-migrate.ts) executes in place, because
-- SQLite has no ADD COLUMN IF NOT EXISTS and no ALTER COLUMN.

-- A fresh file gets the full schema at once; task_type stays nullable because the seed's Python
-- client keeps inserting (task_id, params, status) rows into the same table.
CREATE TABLE IF NOT EXISTS {{table}} (
  task_id TEXT PRIMARY KEY,
  params TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'Queued',
  output_location TEXT NULL,
  created_at TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
  updated_at TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
  task_type TEXT NULL,
  worker_id TEXT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NULL,
  progress TEXT NULL,
  run_id TEXT NULL,
  parent_task_id TEXT NULL,
  queue_name TEXT NULL,
  started_at TEXT NULL,
  finished_at TEXT NULL
);

-- A table the seed created lacks these; the seed worker's own table has task_type NOT NULL,
-- which would reject the seed client's inserts, so it is relaxed (rows kept).
-- smq:ensure-column task_type TEXT NULL
-- smq:relax-not-null task_type
-- smq:ensure-column worker_id TEXT NULL
-- smq:ensure-column attempts INTEGER NOT NULL DEFAULT 0
-- smq:ensure-column error_message TEXT NULL
-- smq:ensure-column progress TEXT NULL
-- smq:ensure-column run_id TEXT NULL
-- smq:ensure-column parent_task_id TEXT NULL
-- smq:ensure-column queue_name TEXT NULL
-- smq:ensure-column started_at TEXT NULL
-- smq:ensure-column finished_at TEXT NULL

-- The seed's migration: task_type from params.task_type, else standard_wgp_task.
-- Nested CASEs because SQLite does not promise to short-circuit AND, and json_type() throws on bad JSON.
UPDATE {{table}}
SET task_type = CASE WHEN json_valid(params) THEN
                  CASE WHEN json_type(params, '$.task_type') = 'text' THEN json_extract(params, '$.task_type') END
                END
WHERE task_type IS NULL;
UPDATE {{table}} SET task_type = 'standard_wgp_task' WHERE task_type IS NULL;

CREATE INDEX IF NOT EXISTS idx_{{table}}_status_created_at ON {{table}} (status, created_at);
CREATE INDEX IF NOT EXISTS idx_{{table}}_run_id ON {{table}} (run_id);
CREATE INDEX IF NOT EXISTS idx_{{table}}_parent_task_id ON {{table}} (parent_task_id);
-- The sweep and ingest look only at open rows; keep that index small.
CREATE INDEX IF NOT EXISTS idx_{{table}}_open_queue ON {{table}} (queue_name, task_id) WHERE status IN ('Queued', 'In Progress');

CREATE TABLE IF NOT EXISTS smq_stream_cursors (
  name TEXT PRIMARY KEY,
  last_id TEXT,
  updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now'))
);
