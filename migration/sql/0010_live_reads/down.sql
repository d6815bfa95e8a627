DROP FUNCTION IF EXISTS live.alert_history_as(text[], text[], uuid[], uuid);
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'live') AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gateway') THEN
    REVOKE USAGE ON SCHEMA live FROM gateway;
  END IF;
END $$;
