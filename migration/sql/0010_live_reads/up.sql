-- Batched live reads (issue 5): one call reads the rows of a live event once per
-- subscriber, each as that subscriber. An alert fans out to every member of a
-- workspace, and reading it as each of them in a transaction of its own costs
-- a few round trips per member; this function makes it one call for all of
-- them.
--
-- For each viewer i the function sets `role` and `request.jwt.claims`
-- (transaction-local, as the gateway does for a request) and only then runs the
-- read, a statement of its own, so RLS decides row by row what viewer i gets,
-- exactly as in a transaction of i's own. PostgreSQL re-plans a cached
-- statement whose plan depends on row security when the role changes. At the
-- end the caller's role and claims are put back.
--
-- SECURITY INVOKER, and only the `gateway` login role may call it: with it,
-- one can read as anybody, which only the gateway (that verifies tokens) may.
-- Roles outside anon/authenticated/service_role are refused before any read.

GRANT USAGE ON SCHEMA live TO gateway;

CREATE FUNCTION live.alert_history_as(
  roles text[],
  claims text[],
  ids uuid[],
  workspace uuid
) RETURNS TABLE (
  viewer integer,
  id uuid,
  alert_rule_id uuid,
  workspace_id uuid,
  triggered_at timestamptz,
  metric_value numeric,
  threshold_value numeric,
  notifications_sent jsonb,
  notification_status varchar,
  acknowledged_by uuid,
  acknowledged_at timestamptz,
  notes text
)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  i integer;
  was_role   text := current_setting('role');
  was_claims text := coalesce(current_setting('request.jwt.claims', true), '');
BEGIN
  IF cardinality(roles) IS DISTINCT FROM cardinality(claims) THEN
    RAISE EXCEPTION 'live.alert_history_as: % roles for % claims', cardinality(roles), cardinality(claims)
      USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(roles) r WHERE r IS NULL OR r NOT IN ('anon', 'authenticated', 'service_role')) THEN
    RAISE EXCEPTION 'live.alert_history_as: roles must be anon, authenticated or service_role'
      USING ERRCODE = '22023';
  END IF;
  FOR i IN 1 .. coalesce(cardinality(roles), 0) LOOP
    PERFORM set_config('role', roles[i], true), set_config('request.jwt.claims', claims[i], true);
    RETURN QUERY
      SELECT i, h.id, h.alert_rule_id, h.workspace_id, h.triggered_at, h.metric_value,
             h.threshold_value, h.notifications_sent, h.notification_status,
             h.acknowledged_by, h.acknowledged_at, h.notes
        FROM analytics.alert_history h
       WHERE h.id = ANY (ids) AND h.workspace_id = workspace
       ORDER BY h.triggered_at, h.id;
  END LOOP;
  PERFORM set_config('role', was_role, true), set_config('request.jwt.claims', was_claims, true);
END;
$$;

REVOKE ALL ON FUNCTION live.alert_history_as(text[], text[], uuid[], uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION live.alert_history_as(text[], text[], uuid[], uuid) TO gateway;
