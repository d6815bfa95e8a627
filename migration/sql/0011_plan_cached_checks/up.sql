-- Membership checks whose plans are kept (issue 5, and every read of a
-- workspace table under RLS).
--
-- The three helpers of the RLS policies were SQL functions. Being SECURITY
-- DEFINER with a SET clause, PostgreSQL cannot inline them, and a SQL function
-- that is not inlined is parsed and planned again by every statement that calls
-- it. So each statement reading alert history, metrics, agents, runs or member
-- profiles as a viewer planned the membership query anew: most of the cost of
-- a small read, and 3/4 of the time of `live.alert_history_as` (one statement
-- per viewer: 144 -> 36 us per viewer with these bodies).
--
-- PL/pgSQL keeps the plan of its query for the session, so these bodies cost
-- one plan per connection. Same arguments, same result, same rights
-- (SECURITY DEFINER, empty search_path, STABLE: the caller's snapshot).

CREATE OR REPLACE FUNCTION public.is_workspace_member(ws uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1 FROM public.workspace_members m
    WHERE m.workspace_id = ws AND m.user_id = auth.uid()
  );
END
$$;

CREATE OR REPLACE FUNCTION public.has_workspace_role(ws uuid, roles text[]) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1 FROM public.workspace_members m
    WHERE m.workspace_id = ws AND m.user_id = auth.uid() AND m.role = ANY (roles)
  );
END
$$;

CREATE OR REPLACE FUNCTION public.shares_workspace_with(other uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1
    FROM public.workspace_members mine
    JOIN public.workspace_members theirs ON theirs.workspace_id = mine.workspace_id
    WHERE mine.user_id = auth.uid() AND theirs.user_id = other
  );
END
$$;

-- The batched live read sets the role only when it differs from the previous
-- viewer's (members are nearly all `authenticated`); the claims every time.
-- A viewer whose role may not read alert history at all (anon) gets no rows
-- instead of failing the whole call, and so everybody else's delivery.
CREATE OR REPLACE FUNCTION live.alert_history_as(
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
  set_role   text;
  can_read   boolean;
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
    IF set_role IS DISTINCT FROM roles[i] THEN
      PERFORM set_config('role', roles[i], true);
      set_role := roles[i];
      can_read := has_table_privilege(roles[i], 'analytics.alert_history', 'SELECT');
    END IF;
    CONTINUE WHEN NOT can_read;
    PERFORM set_config('request.jwt.claims', claims[i], true);
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
