-- smq 0003 (PostgreSQL): pin the search_path of smq's SECURITY DEFINER functions to the schema they
-- were installed in. Without it a caller could put its own schema first and have a definer
-- function resolve smq_apply_update (or a table) to an object of the caller's choosing. The seed's
-- five functions are left exactly as the seed wrote them.
DO $$
DECLARE
  f RECORD;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS sig
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = current_schema() AND p.prosecdef AND p.proname LIKE 'func\_smq\_%'
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path FROM CURRENT', f.sig);
  END LOOP;
END
$$;
