-- Seed 002: workspace analytics. Activity events, daily/hourly rollups, agent
-- performance, cohorts, alert rules and history, three materialized views
-- (exposed to members through filtering views), and the service-role-only
-- maintenance functions (rollup, refresh, cleanup, alert evaluation).
-- Deviations from the seed: docs/seed-deviations.md.
--
-- Days are UTC days: a timestamp belongs to (ts AT TIME ZONE 'UTC')::date,
-- whatever the session's TimeZone, so rollups are reproducible.

CREATE SCHEMA analytics;
GRANT USAGE ON SCHEMA analytics TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

-- 1. Raw activity events (kept 90 days by cleanup_old_data).
CREATE TABLE analytics.user_activity (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL
               CONSTRAINT user_activity_user_id_fkey REFERENCES public.users(id) ON DELETE CASCADE,
  workspace_id uuid
               CONSTRAINT user_activity_workspace_id_fkey REFERENCES public.workspaces(id) ON DELETE CASCADE,
  event_type   varchar(50) NOT NULL,
  event_name   varchar(100),
  page_path    varchar(255),
  session_id   uuid,
  ip_address   inet,
  user_agent   text,
  referrer     text,
  metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_activity_event_type_check CHECK (
    event_type IN (
      'page_view', 'agent_run', 'login', 'logout',
      'workspace_switch', 'feature_use', 'error',
      'api_call', 'export', 'report_view'
    )
  )
);
CREATE INDEX idx_user_activity_user_time
  ON analytics.user_activity(user_id, created_at DESC);
CREATE INDEX idx_user_activity_workspace_time
  ON analytics.user_activity(workspace_id, created_at DESC);
CREATE INDEX idx_user_activity_event_type
  ON analytics.user_activity(event_type, created_at DESC);
CREATE INDEX idx_user_activity_session
  ON analytics.user_activity(session_id);
CREATE INDEX idx_user_activity_metadata
  ON analytics.user_activity USING gin(metadata);
CREATE INDEX idx_user_activity_created_at_brin
  ON analytics.user_activity USING brin(created_at);
CREATE INDEX idx_user_activity_composite
  ON analytics.user_activity(workspace_id, user_id, created_at DESC);

-- 2. Daily rollup, one row per (day, workspace); workspace_id NULL is the
-- platform-wide row (visible to the service role only).
CREATE TABLE analytics.daily_metrics (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  metric_date  date NOT NULL,
  workspace_id uuid
               CONSTRAINT daily_metrics_workspace_id_fkey REFERENCES public.workspaces(id) ON DELETE CASCADE,

  total_users     integer NOT NULL DEFAULT 0,
  active_users    integer NOT NULL DEFAULT 0,
  new_users       integer NOT NULL DEFAULT 0,
  returning_users integer NOT NULL DEFAULT 0,

  total_sessions               integer NOT NULL DEFAULT 0,
  avg_session_duration_seconds numeric(10,2),
  bounce_rate                  numeric(5,2),

  total_runs             integer NOT NULL DEFAULT 0,
  successful_runs        integer NOT NULL DEFAULT 0,
  failed_runs            integer NOT NULL DEFAULT 0,
  cancelled_runs         integer NOT NULL DEFAULT 0,
  avg_runtime_seconds    numeric(10,2),
  median_runtime_seconds numeric(10,2),
  p95_runtime_seconds    numeric(10,2),
  p99_runtime_seconds    numeric(10,2),

  total_credits_consumed numeric(15,2) NOT NULL DEFAULT 0,
  avg_credits_per_run    numeric(10,2),
  credits_by_model       jsonb NOT NULL DEFAULT '{}'::jsonb,

  unique_agents_run integer NOT NULL DEFAULT 0,
  top_agents        jsonb NOT NULL DEFAULT '[]'::jsonb,

  total_errors   integer NOT NULL DEFAULT 0,
  error_rate     numeric(5,2),
  errors_by_type jsonb NOT NULL DEFAULT '{}'::jsonb,

  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),

  -- NULLS NOT DISTINCT: the platform-wide row (NULL workspace) is unique per
  -- day too, so the rollup's ON CONFLICT upsert is idempotent for it.
  CONSTRAINT daily_metrics_metric_date_workspace_id_key UNIQUE NULLS NOT DISTINCT (metric_date, workspace_id),
  CONSTRAINT daily_metrics_counts_check CHECK (
    total_users >= 0 AND active_users >= 0 AND new_users >= 0 AND returning_users >= 0
    AND total_sessions >= 0 AND total_runs >= 0 AND successful_runs >= 0 AND failed_runs >= 0
    AND cancelled_runs >= 0 AND unique_agents_run >= 0 AND total_errors >= 0
    AND total_credits_consumed >= 0
  ),
  CONSTRAINT daily_metrics_rates_check CHECK (
    (bounce_rate IS NULL OR bounce_rate BETWEEN 0 AND 100)
    AND (error_rate IS NULL OR error_rate BETWEEN 0 AND 100)
  )
);
CREATE INDEX idx_daily_metrics_date
  ON analytics.daily_metrics(metric_date DESC);
CREATE INDEX idx_daily_metrics_workspace
  ON analytics.daily_metrics(workspace_id, metric_date DESC);
CREATE INDEX idx_daily_metrics_date_brin
  ON analytics.daily_metrics USING brin(metric_date);

-- 3. Hourly rollup (near real time), written by the service role.
CREATE TABLE analytics.hourly_metrics (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  metric_hour  timestamptz NOT NULL,
  workspace_id uuid
               CONSTRAINT hourly_metrics_workspace_id_fkey REFERENCES public.workspaces(id) ON DELETE CASCADE,

  active_users    integer NOT NULL DEFAULT 0,
  total_runs      integer NOT NULL DEFAULT 0,
  successful_runs integer NOT NULL DEFAULT 0,
  failed_runs     integer NOT NULL DEFAULT 0,
  total_credits   numeric(10,2) NOT NULL DEFAULT 0,

  avg_response_time_ms integer,
  p95_response_time_ms integer,

  created_at timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT hourly_metrics_metric_hour_workspace_id_key UNIQUE NULLS NOT DISTINCT (metric_hour, workspace_id),
  CONSTRAINT hourly_metrics_counts_check CHECK (
    active_users >= 0 AND total_runs >= 0 AND successful_runs >= 0 AND failed_runs >= 0
    AND total_credits >= 0
  )
);
CREATE INDEX idx_hourly_metrics_hour
  ON analytics.hourly_metrics(metric_hour DESC);
CREATE INDEX idx_hourly_metrics_workspace
  ON analytics.hourly_metrics(workspace_id, metric_hour DESC);

-- 4. Per-agent daily performance. The workspace is always the agent's own
-- (composite FK, as for public.agent_runs).
CREATE TABLE analytics.agent_performance (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id     uuid NOT NULL,
  metric_date  date NOT NULL,
  workspace_id uuid NOT NULL,

  total_runs      integer NOT NULL DEFAULT 0,
  successful_runs integer NOT NULL DEFAULT 0,
  failed_runs     integer NOT NULL DEFAULT 0,
  cancelled_runs  integer NOT NULL DEFAULT 0,

  avg_runtime_seconds numeric(10,2),
  min_runtime_seconds numeric(10,2),
  max_runtime_seconds numeric(10,2),
  p50_runtime_seconds numeric(10,2),
  p75_runtime_seconds numeric(10,2),
  p95_runtime_seconds numeric(10,2),
  p99_runtime_seconds numeric(10,2),

  total_credits       numeric(15,2) NOT NULL DEFAULT 0,
  avg_credits_per_run numeric(10,2),
  total_tokens_used   bigint NOT NULL DEFAULT 0,
  avg_tokens_per_run  integer,

  unique_users         integer NOT NULL DEFAULT 0,
  avg_user_rating      numeric(3,2),
  total_feedback_count integer NOT NULL DEFAULT 0,

  error_types            jsonb NOT NULL DEFAULT '{}'::jsonb,
  common_failure_reasons jsonb NOT NULL DEFAULT '[]'::jsonb,

  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT agent_performance_agent_id_metric_date_key UNIQUE (agent_id, metric_date),
  CONSTRAINT agent_performance_agent_id_fkey FOREIGN KEY (agent_id, workspace_id)
    REFERENCES public.agents(id, workspace_id) ON DELETE CASCADE,
  CONSTRAINT agent_performance_workspace_id_fkey FOREIGN KEY (workspace_id)
    REFERENCES public.workspaces(id) ON DELETE CASCADE,
  CONSTRAINT agent_performance_counts_check CHECK (
    total_runs >= 0 AND successful_runs >= 0 AND failed_runs >= 0 AND cancelled_runs >= 0
    AND total_credits >= 0 AND total_tokens_used >= 0 AND unique_users >= 0
    AND total_feedback_count >= 0
  ),
  CONSTRAINT agent_performance_rating_check CHECK (avg_user_rating IS NULL OR avg_user_rating BETWEEN 0 AND 5)
);
CREATE INDEX idx_agent_performance_agent
  ON analytics.agent_performance(agent_id, metric_date DESC);
CREATE INDEX idx_agent_performance_date
  ON analytics.agent_performance(metric_date DESC);
CREATE INDEX idx_agent_performance_workspace
  ON analytics.agent_performance(workspace_id, metric_date DESC);
CREATE INDEX idx_agent_performance_composite
  ON analytics.agent_performance(workspace_id, metric_date DESC, total_runs DESC);

-- 5. Retention cohorts.
CREATE TABLE analytics.user_cohorts (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  cohort_period varchar(20) NOT NULL,
  cohort_date   date NOT NULL,
  workspace_id  uuid
                CONSTRAINT user_cohorts_workspace_id_fkey REFERENCES public.workspaces(id) ON DELETE CASCADE,

  initial_users  integer NOT NULL,
  -- e.g. {"day_1": 95, "day_7": 80}: percent of the cohort still active.
  retention_data jsonb NOT NULL,

  ltv_estimate         numeric(10,2),
  avg_revenue_per_user numeric(10,2),
  churn_rate           numeric(5,2),

  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT user_cohorts_period_date_workspace_key
    UNIQUE NULLS NOT DISTINCT (cohort_period, cohort_date, workspace_id),
  CONSTRAINT user_cohorts_cohort_period_check CHECK (cohort_period IN ('daily', 'weekly', 'monthly')),
  CONSTRAINT user_cohorts_initial_users_check CHECK (initial_users >= 0),
  CONSTRAINT user_cohorts_retention_data_check CHECK (jsonb_typeof(retention_data) = 'object'),
  CONSTRAINT user_cohorts_churn_rate_check CHECK (churn_rate IS NULL OR churn_rate BETWEEN 0 AND 100)
);
CREATE INDEX idx_user_cohorts_date
  ON analytics.user_cohorts(cohort_date DESC);
CREATE INDEX idx_user_cohorts_workspace
  ON analytics.user_cohorts(workspace_id, cohort_date DESC);

-- 6. Alert rules. metric_type is one of the metrics evaluate_alert_rules()
-- knows: daily ones read the workspace's latest daily_metrics row, hourly_*
-- ones sum hourly_metrics over the evaluation window.
CREATE TABLE analytics.alert_rules (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid
               CONSTRAINT alert_rules_workspace_id_fkey REFERENCES public.workspaces(id) ON DELETE CASCADE,
  name         varchar(255) NOT NULL,
  description  text,
  is_active    boolean NOT NULL DEFAULT true,

  metric_type               varchar(50) NOT NULL,
  condition                 varchar(20) NOT NULL,
  threshold_value           numeric(10,2) NOT NULL,
  evaluation_window_minutes integer NOT NULL DEFAULT 5,

  notification_channels   jsonb NOT NULL DEFAULT '[]'::jsonb,
  notification_recipients jsonb NOT NULL DEFAULT '[]'::jsonb,

  last_triggered_at timestamptz,
  trigger_count     integer NOT NULL DEFAULT 0,

  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  created_by uuid
             CONSTRAINT alert_rules_created_by_fkey REFERENCES public.users(id) ON DELETE SET NULL,

  -- Target of alert_history's composite FK (history stays in the rule's workspace).
  CONSTRAINT alert_rules_id_workspace_id_key UNIQUE (id, workspace_id),
  CONSTRAINT alert_rules_name_check CHECK (length(btrim(name)) > 0),
  CONSTRAINT alert_rules_condition_check CHECK (condition IN ('greater_than', 'less_than', 'equals')),
  CONSTRAINT alert_rules_metric_type_check CHECK (metric_type IN (
    'total_runs', 'successful_runs', 'failed_runs', 'cancelled_runs', 'total_errors',
    'error_rate', 'total_credits_consumed', 'active_users', 'avg_runtime_seconds',
    'p95_runtime_seconds',
    'hourly_total_runs', 'hourly_failed_runs', 'hourly_total_credits', 'hourly_active_users'
  )),
  CONSTRAINT alert_rules_evaluation_window_check CHECK (evaluation_window_minutes BETWEEN 1 AND 10080),
  CONSTRAINT alert_rules_trigger_count_check CHECK (trigger_count >= 0),
  CONSTRAINT alert_rules_notification_channels_check CHECK (jsonb_typeof(notification_channels) = 'array'),
  CONSTRAINT alert_rules_notification_recipients_check CHECK (jsonb_typeof(notification_recipients) = 'array')
);
CREATE INDEX idx_alert_rules_workspace
  ON analytics.alert_rules(workspace_id);
CREATE INDEX idx_alert_rules_active
  ON analytics.alert_rules(is_active) WHERE is_active = true;

-- 7. Alerts fired by evaluate_alert_rules(); members acknowledge them.
CREATE TABLE analytics.alert_history (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  alert_rule_id uuid NOT NULL,
  workspace_id  uuid
                CONSTRAINT alert_history_workspace_id_fkey REFERENCES public.workspaces(id) ON DELETE CASCADE,

  triggered_at    timestamptz NOT NULL DEFAULT now(),
  metric_value    numeric(15,2),
  threshold_value numeric(10,2),

  notifications_sent  jsonb NOT NULL DEFAULT '[]'::jsonb,
  notification_status varchar(20) NOT NULL DEFAULT 'pending',

  acknowledged_by uuid
                  CONSTRAINT alert_history_acknowledged_by_fkey REFERENCES public.users(id) ON DELETE SET NULL,
  acknowledged_at timestamptz,
  notes           text,

  CONSTRAINT alert_history_alert_rule_id_fkey FOREIGN KEY (alert_rule_id)
    REFERENCES analytics.alert_rules(id) ON DELETE CASCADE,
  -- MATCH SIMPLE: checked whenever workspace_id is set.
  CONSTRAINT alert_history_rule_workspace_fkey FOREIGN KEY (alert_rule_id, workspace_id)
    REFERENCES analytics.alert_rules(id, workspace_id) ON DELETE CASCADE,
  CONSTRAINT alert_history_notification_status_check
    CHECK (notification_status IN ('pending', 'sent', 'partial', 'failed'))
);
CREATE INDEX idx_alert_history_rule
  ON analytics.alert_history(alert_rule_id, triggered_at DESC);
CREATE INDEX idx_alert_history_workspace
  ON analytics.alert_history(workspace_id, triggered_at DESC);
CREATE INDEX idx_alert_history_acknowledged_by
  ON analytics.alert_history(acknowledged_by);

-- ---------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------
CREATE FUNCTION analytics.update_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$$;

CREATE TRIGGER update_daily_metrics_updated_at
  BEFORE UPDATE ON analytics.daily_metrics
  FOR EACH ROW EXECUTE FUNCTION analytics.update_updated_at();
CREATE TRIGGER update_agent_performance_updated_at
  BEFORE UPDATE ON analytics.agent_performance
  FOR EACH ROW EXECUTE FUNCTION analytics.update_updated_at();
CREATE TRIGGER update_user_cohorts_updated_at
  BEFORE UPDATE ON analytics.user_cohorts
  FOR EACH ROW EXECUTE FUNCTION analytics.update_updated_at();
CREATE TRIGGER update_alert_rules_updated_at
  BEFORE UPDATE ON analytics.alert_rules
  FOR EACH ROW EXECUTE FUNCTION analytics.update_updated_at();

-- ---------------------------------------------------------------------------
-- Materialized views (service role only; members read the v_* views below)
-- ---------------------------------------------------------------------------

-- Per (UTC day, workspace) over the last 90 days: distinct users active that
-- day, and true rolling 7-day and 30-day distinct users ending that day.
-- Activity = an event in user_activity or a run in public.agent_runs (the
-- 30-day windows of the oldest rows read 119 days back). Events without a
-- workspace have no row here.
CREATE MATERIALIZED VIEW analytics.mv_active_users AS
WITH activity AS (
  SELECT (ua.created_at AT TIME ZONE 'UTC')::date AS activity_date, ua.user_id, ua.workspace_id
  FROM analytics.user_activity ua
  WHERE ua.workspace_id IS NOT NULL
    AND ua.created_at >= ((now() AT TIME ZONE 'UTC')::date - 119)::timestamp AT TIME ZONE 'UTC'
  UNION
  SELECT (ar.started_at AT TIME ZONE 'UTC')::date, ar.user_id, ar.workspace_id
  FROM public.agent_runs ar
  WHERE ar.user_id IS NOT NULL
    AND ar.started_at >= ((now() AT TIME ZONE 'UTC')::date - 119)::timestamp AT TIME ZONE 'UTC'
),
days AS (
  SELECT DISTINCT activity_date, workspace_id
  FROM activity
  WHERE activity_date >= (now() AT TIME ZONE 'UTC')::date - 89
)
SELECT
  d.activity_date,
  d.workspace_id,
  count(DISTINCT a.user_id) FILTER (WHERE a.activity_date = d.activity_date) AS daily_active_users,
  count(DISTINCT a.user_id) FILTER (WHERE a.activity_date > d.activity_date - 7) AS weekly_active_users,
  count(DISTINCT a.user_id) AS monthly_active_users
FROM days d
JOIN activity a
  ON a.workspace_id = d.workspace_id
 AND a.activity_date > d.activity_date - 30
 AND a.activity_date <= d.activity_date
GROUP BY d.activity_date, d.workspace_id;

CREATE UNIQUE INDEX idx_mv_active_users
  ON analytics.mv_active_users(activity_date, workspace_id);
CREATE INDEX idx_mv_active_users_workspace
  ON analytics.mv_active_users(workspace_id, activity_date DESC);

-- Every agent with its last-30-days run statistics (agents without runs
-- included, with zero counts).
CREATE MATERIALIZED VIEW analytics.mv_top_agents AS
SELECT
  a.id AS agent_id,
  a.name AS agent_name,
  a.workspace_id,
  count(ar.id) AS total_runs_30d,
  count(ar.id) FILTER (WHERE ar.status = 'completed') AS successful_runs_30d,
  coalesce(round(
    count(ar.id) FILTER (WHERE ar.status = 'completed')::numeric * 100
    / nullif(count(ar.id), 0), 2), 0)::numeric(5,2) AS success_rate,
  round(avg(ar.runtime_seconds), 2)::numeric(10,2) AS avg_runtime,
  (percentile_cont(0.5) WITHIN GROUP (ORDER BY ar.runtime_seconds))::numeric(10,2) AS median_runtime,
  coalesce(sum(ar.credits_consumed), 0)::numeric(15,2) AS total_credits_30d,
  count(DISTINCT ar.user_id) AS unique_users_30d,
  max(ar.started_at) AS last_run_at
FROM public.agents a
LEFT JOIN public.agent_runs ar
  ON ar.agent_id = a.id
 AND ar.started_at >= now() - interval '30 days'
GROUP BY a.id, a.name, a.workspace_id;

CREATE UNIQUE INDEX idx_mv_top_agents
  ON analytics.mv_top_agents(agent_id);
CREATE INDEX idx_mv_top_agents_workspace
  ON analytics.mv_top_agents(workspace_id, total_runs_30d DESC);

-- One row per workspace; each figure aggregated from its own table so joins
-- cannot multiply them.
CREATE MATERIALIZED VIEW analytics.mv_workspace_summary AS
SELECT
  w.id AS workspace_id,
  w.name AS workspace_name,
  coalesce(m.total_members, 0) AS total_members,
  coalesce(ag.total_agents, 0) AS total_agents,
  coalesce(r.total_runs_30d, 0) AS total_runs_30d,
  coalesce(r.total_credits_30d, 0)::numeric(15,2) AS total_credits_30d,
  r.avg_runtime_30d,
  coalesce(r.active_users_30d, 0) AS active_users_30d
FROM public.workspaces w
LEFT JOIN (
  SELECT workspace_id, count(*) AS total_members
  FROM public.workspace_members GROUP BY workspace_id
) m ON m.workspace_id = w.id
LEFT JOIN (
  SELECT workspace_id, count(*) AS total_agents
  FROM public.agents GROUP BY workspace_id
) ag ON ag.workspace_id = w.id
LEFT JOIN (
  SELECT workspace_id,
         count(*) AS total_runs_30d,
         sum(credits_consumed) AS total_credits_30d,
         round(avg(runtime_seconds), 2)::numeric(10,2) AS avg_runtime_30d,
         count(DISTINCT user_id) AS active_users_30d
  FROM public.agent_runs
  WHERE started_at >= now() - interval '30 days'
  GROUP BY workspace_id
) r ON r.workspace_id = w.id;

CREATE UNIQUE INDEX idx_mv_workspace_summary
  ON analytics.mv_workspace_summary(workspace_id);

-- Member-facing views of the MVs. A materialized view has no RLS, so these
-- are owner-rights views (not security_invoker, which would need SELECT on
-- the MV for the viewer) with security_barrier, filtering to the viewer's
-- workspaces. Roles that bypass RLS (service_role, the owner) see every row,
-- exactly as they do on the tables. current_user inside a view is the
-- caller's role, not the view owner's.
CREATE VIEW analytics.v_active_users WITH (security_barrier = true) AS
  SELECT activity_date, workspace_id, daily_active_users, weekly_active_users, monthly_active_users
  FROM analytics.mv_active_users
  WHERE public.is_workspace_member(workspace_id)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname = current_user AND (r.rolbypassrls OR r.rolsuper));

CREATE VIEW analytics.v_top_agents WITH (security_barrier = true) AS
  SELECT agent_id, agent_name, workspace_id, total_runs_30d, successful_runs_30d, success_rate,
         avg_runtime, median_runtime, total_credits_30d, unique_users_30d, last_run_at
  FROM analytics.mv_top_agents
  WHERE public.is_workspace_member(workspace_id)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname = current_user AND (r.rolbypassrls OR r.rolsuper));

CREATE VIEW analytics.v_workspace_summary WITH (security_barrier = true) AS
  SELECT workspace_id, workspace_name, total_members, total_agents, total_runs_30d,
         total_credits_30d, avg_runtime_30d, active_users_30d
  FROM analytics.mv_workspace_summary
  WHERE public.is_workspace_member(workspace_id)
     OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname = current_user AND (r.rolbypassrls OR r.rolsuper));

-- ---------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------

-- REFRESH needs ownership of the MVs, hence SECURITY DEFINER (service role
-- only, checked from the claims).
CREATE FUNCTION analytics.refresh_all_materialized_views() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_service_role();
  REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_active_users;
  REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_top_agents;
  REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_workspace_summary;
END
$$;

-- Continuous percentiles (linear interpolation, as percentile_cont) of
-- p_values at each fraction of p_percentiles, in the same order. NULL
-- elements of p_values are ignored; NULL when no value remains.
CREATE FUNCTION analytics.calculate_percentiles(p_values numeric[], p_percentiles numeric[])
RETURNS numeric[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT (percentile_cont(p_percentiles::float8[]) WITHIN GROUP (ORDER BY v::float8))::numeric[]
  FROM unnest(p_values) AS t(v)
$$;

-- Upsert the daily_metrics rows of one UTC day: one per workspace (existing
-- by the end of that day) or only p_target_workspace_id's; for all
-- workspaces also the platform-wide row (workspace_id NULL). Recomputes from
-- public.agent_runs, public.workspace_members and analytics.user_activity,
-- so running it again gives the same rows. Returns the number of rows written.
CREATE FUNCTION analytics.aggregate_daily_metrics(p_target_date date, p_target_workspace_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_from timestamptz;
  v_to   timestamptz;
  v_rows integer;
BEGIN
  PERFORM auth.require_service_role();
  IF p_target_date IS NULL THEN
    RAISE EXCEPTION 'target date is required' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  v_from := p_target_date::timestamp AT TIME ZONE 'UTC';
  v_to   := (p_target_date + 1)::timestamp AT TIME ZONE 'UTC';

  WITH scopes AS (
    -- ws NULL = platform-wide scope.
    SELECT w.id AS ws FROM public.workspaces w
    WHERE w.created_at < v_to
      AND (p_target_workspace_id IS NULL OR w.id = p_target_workspace_id)
    UNION ALL
    SELECT NULL::uuid WHERE p_target_workspace_id IS NULL
  ),
  runs AS (
    SELECT r.* FROM public.agent_runs r
    WHERE r.started_at >= v_from AND r.started_at < v_to
      AND (p_target_workspace_id IS NULL OR r.workspace_id = p_target_workspace_id)
  ),
  events AS (
    SELECT e.* FROM analytics.user_activity e
    WHERE e.created_at >= v_from AND e.created_at < v_to
      AND (p_target_workspace_id IS NULL OR e.workspace_id = p_target_workspace_id)
  ),
  computed AS (
    SELECT
      s.ws,
      -- Users: members by the end of the day (all users for the platform row).
      CASE WHEN s.ws IS NULL THEN
        (SELECT count(*) FROM public.users u WHERE u.created_at < v_to)
      ELSE
        (SELECT count(*) FROM public.workspace_members m WHERE m.workspace_id = s.ws AND m.joined_at < v_to)
      END AS total_users,
      CASE WHEN s.ws IS NULL THEN
        (SELECT count(*) FROM public.users u WHERE u.created_at >= v_from AND u.created_at < v_to)
      ELSE
        (SELECT count(*) FROM public.workspace_members m
         WHERE m.workspace_id = s.ws AND m.joined_at >= v_from AND m.joined_at < v_to)
      END AS new_users,
      act.active_users,
      act.returning_users,
      ses.total_sessions,
      ses.avg_session_duration_seconds,
      ses.bounce_rate,
      rs.total_runs, rs.successful_runs, rs.failed_runs, rs.cancelled_runs,
      rs.avg_runtime_seconds, rs.median_runtime_seconds, rs.p95_runtime_seconds, rs.p99_runtime_seconds,
      rs.total_credits_consumed, rs.avg_credits_per_run, rs.unique_agents_run,
      rs.error_rate,
      cbm.credits_by_model,
      ta.top_agents,
      err.total_errors,
      err.errors_by_type
    FROM scopes s
    -- Active users: distinct users with a run or an event that day;
    -- returning ones were also active in the same scope before that day.
    CROSS JOIN LATERAL (
      SELECT count(*) AS active_users,
             count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM public.agent_runs pr
               WHERE pr.user_id = au.user_id AND pr.started_at < v_from
                 AND (s.ws IS NULL OR pr.workspace_id = s.ws)
             ) OR EXISTS (
               SELECT 1 FROM analytics.user_activity pe
               WHERE pe.user_id = au.user_id AND pe.created_at < v_from
                 AND (s.ws IS NULL OR pe.workspace_id = s.ws)
             )) AS returning_users
      FROM (
        SELECT r.user_id FROM runs r WHERE r.user_id IS NOT NULL AND (s.ws IS NULL OR r.workspace_id = s.ws)
        UNION
        SELECT e.user_id FROM events e WHERE s.ws IS NULL OR e.workspace_id = s.ws
      ) au
    ) act
    -- Sessions: events sharing a session_id; duration first to last event,
    -- bounce = a session of a single event (percent).
    CROSS JOIN LATERAL (
      SELECT count(*) AS total_sessions,
             round(avg(extract(epoch FROM sess.last_at - sess.first_at)), 2) AS avg_session_duration_seconds,
             round(100.0 * count(*) FILTER (WHERE sess.n = 1) / nullif(count(*), 0), 2) AS bounce_rate
      FROM (
        SELECT e.session_id, min(e.created_at) AS first_at, max(e.created_at) AS last_at, count(*) AS n
        FROM events e
        WHERE e.session_id IS NOT NULL AND (s.ws IS NULL OR e.workspace_id = s.ws)
        GROUP BY e.session_id
      ) sess
    ) ses
    CROSS JOIN LATERAL (
      SELECT count(*) AS total_runs,
             count(*) FILTER (WHERE r.status = 'completed') AS successful_runs,
             count(*) FILTER (WHERE r.status = 'failed') AS failed_runs,
             count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled_runs,
             round(avg(r.runtime_seconds), 2) AS avg_runtime_seconds,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY r.runtime_seconds) AS median_runtime_seconds,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY r.runtime_seconds) AS p95_runtime_seconds,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY r.runtime_seconds) AS p99_runtime_seconds,
             coalesce(sum(r.credits_consumed), 0) AS total_credits_consumed,
             round(avg(r.credits_consumed), 2) AS avg_credits_per_run,
             count(DISTINCT r.agent_id) AS unique_agents_run,
             round(100.0 * count(*) FILTER (WHERE r.status = 'failed') / nullif(count(*), 0), 2) AS error_rate
      FROM runs r
      WHERE s.ws IS NULL OR r.workspace_id = s.ws
    ) rs
    CROSS JOIN LATERAL (
      SELECT coalesce(jsonb_object_agg(x.model, x.credits), '{}'::jsonb) AS credits_by_model
      FROM (
        SELECT coalesce(r.model, 'unknown') AS model, sum(r.credits_consumed) AS credits
        FROM runs r WHERE s.ws IS NULL OR r.workspace_id = s.ws
        GROUP BY 1
      ) x
    ) cbm
    -- Top 5 agents of the day by runs (ties by credits, then id).
    CROSS JOIN LATERAL (
      SELECT coalesce(jsonb_agg(jsonb_build_object('agent_id', t.agent_id, 'runs', t.runs, 'credits', t.credits)
                                ORDER BY t.runs DESC, t.credits DESC, t.agent_id), '[]'::jsonb) AS top_agents
      FROM (
        SELECT r.agent_id, count(*) AS runs, sum(r.credits_consumed) AS credits
        FROM runs r WHERE s.ws IS NULL OR r.workspace_id = s.ws
        GROUP BY r.agent_id
        ORDER BY count(*) DESC, sum(r.credits_consumed) DESC, r.agent_id
        LIMIT 5
      ) t
    ) ta
    -- Errors: failed runs (by error_type) plus 'error' events (by event_name).
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(x.n), 0) AS total_errors,
             coalesce(jsonb_object_agg(x.kind, x.n), '{}'::jsonb) AS errors_by_type
      FROM (
        SELECT y.kind, count(*) AS n
        FROM (
          SELECT coalesce(r.error_type, 'unknown') AS kind
          FROM runs r WHERE r.status = 'failed' AND (s.ws IS NULL OR r.workspace_id = s.ws)
          UNION ALL
          SELECT coalesce(e.event_name, 'unknown')
          FROM events e WHERE e.event_type = 'error' AND (s.ws IS NULL OR e.workspace_id = s.ws)
        ) y
        GROUP BY y.kind
      ) x
    ) err
  )
  INSERT INTO analytics.daily_metrics AS d (
    metric_date, workspace_id,
    total_users, active_users, new_users, returning_users,
    total_sessions, avg_session_duration_seconds, bounce_rate,
    total_runs, successful_runs, failed_runs, cancelled_runs,
    avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds, p99_runtime_seconds,
    total_credits_consumed, avg_credits_per_run, credits_by_model,
    unique_agents_run, top_agents,
    total_errors, error_rate, errors_by_type
  )
  SELECT
    p_target_date, c.ws,
    c.total_users, c.active_users, c.new_users, c.returning_users,
    c.total_sessions, c.avg_session_duration_seconds, c.bounce_rate,
    c.total_runs, c.successful_runs, c.failed_runs, c.cancelled_runs,
    c.avg_runtime_seconds, c.median_runtime_seconds, c.p95_runtime_seconds, c.p99_runtime_seconds,
    c.total_credits_consumed, c.avg_credits_per_run, c.credits_by_model,
    c.unique_agents_run, c.top_agents,
    c.total_errors, c.error_rate, c.errors_by_type
  FROM computed c
  ON CONFLICT (metric_date, workspace_id) DO UPDATE SET
    total_users = EXCLUDED.total_users,
    active_users = EXCLUDED.active_users,
    new_users = EXCLUDED.new_users,
    returning_users = EXCLUDED.returning_users,
    total_sessions = EXCLUDED.total_sessions,
    avg_session_duration_seconds = EXCLUDED.avg_session_duration_seconds,
    bounce_rate = EXCLUDED.bounce_rate,
    total_runs = EXCLUDED.total_runs,
    successful_runs = EXCLUDED.successful_runs,
    failed_runs = EXCLUDED.failed_runs,
    cancelled_runs = EXCLUDED.cancelled_runs,
    avg_runtime_seconds = EXCLUDED.avg_runtime_seconds,
    median_runtime_seconds = EXCLUDED.median_runtime_seconds,
    p95_runtime_seconds = EXCLUDED.p95_runtime_seconds,
    p99_runtime_seconds = EXCLUDED.p99_runtime_seconds,
    total_credits_consumed = EXCLUDED.total_credits_consumed,
    avg_credits_per_run = EXCLUDED.avg_credits_per_run,
    credits_by_model = EXCLUDED.credits_by_model,
    unique_agents_run = EXCLUDED.unique_agents_run,
    top_agents = EXCLUDED.top_agents,
    total_errors = EXCLUDED.total_errors,
    error_rate = EXCLUDED.error_rate,
    errors_by_type = EXCLUDED.errors_by_type;
  -- updated_at is set by update_daily_metrics_updated_at on the UPDATE path.

  GET DIAGNOSTICS v_rows = ROW_COUNT;
  RETURN v_rows;
END
$$;

-- Retention: raw activity 90 days, hourly metrics 30 days; daily metrics
-- are kept. Returns how many rows went from each table.
CREATE FUNCTION analytics.cleanup_old_data()
RETURNS TABLE (user_activity_deleted bigint, hourly_metrics_deleted bigint)
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_activity bigint;
  v_hourly   bigint;
BEGIN
  PERFORM auth.require_service_role();
  DELETE FROM analytics.user_activity WHERE created_at < now() - interval '90 days';
  GET DIAGNOSTICS v_activity = ROW_COUNT;
  DELETE FROM analytics.hourly_metrics WHERE metric_hour < now() - interval '30 days';
  GET DIAGNOSTICS v_hourly = ROW_COUNT;
  RETURN QUERY SELECT v_activity, v_hourly;
END
$$;

-- Evaluate every active rule once; write an alert_history row for each rule
-- whose metric meets its condition, and bump the rule's trigger_count and
-- last_triggered_at. Metric sources (for the rule's workspace; a rule with
-- NULL workspace reads the platform-wide rows):
--   total_runs, successful_runs, failed_runs, cancelled_runs, total_errors,
--   error_rate, total_credits_consumed, active_users, avg_runtime_seconds,
--   p95_runtime_seconds: the latest daily_metrics row (max metric_date);
--   hourly_total_runs, hourly_failed_runs, hourly_total_credits (sums) and
--   hourly_active_users (max): hourly_metrics rows whose hour overlaps the
--   last evaluation_window_minutes.
-- A rule that fired within its evaluation window is not fired again (one
-- alert per window, not one per evaluation). No data or NULL metric: no
-- alert. Returns the number of alerts written.
CREATE FUNCTION analytics.evaluate_alert_rules() RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_rule   analytics.alert_rules%ROWTYPE;
  v_value  numeric;
  v_fired  boolean;
  v_count  integer := 0;
BEGIN
  PERFORM auth.require_service_role();
  FOR v_rule IN
    SELECT * FROM analytics.alert_rules r
    WHERE r.is_active
      AND (r.last_triggered_at IS NULL
           OR r.last_triggered_at <= now() - make_interval(mins => r.evaluation_window_minutes))
    ORDER BY r.id
    FOR UPDATE
  LOOP
    IF v_rule.metric_type LIKE 'hourly\_%' THEN
      SELECT CASE v_rule.metric_type
               WHEN 'hourly_total_runs' THEN sum(h.total_runs)
               WHEN 'hourly_failed_runs' THEN sum(h.failed_runs)
               WHEN 'hourly_total_credits' THEN sum(h.total_credits)
               WHEN 'hourly_active_users' THEN max(h.active_users)
             END
        INTO v_value
        FROM analytics.hourly_metrics h
       WHERE h.workspace_id IS NOT DISTINCT FROM v_rule.workspace_id
         AND h.metric_hour > now() - make_interval(mins => v_rule.evaluation_window_minutes) - interval '1 hour'
         AND h.metric_hour <= now();
    ELSE
      SELECT CASE v_rule.metric_type
               WHEN 'total_runs' THEN d.total_runs::numeric
               WHEN 'successful_runs' THEN d.successful_runs
               WHEN 'failed_runs' THEN d.failed_runs
               WHEN 'cancelled_runs' THEN d.cancelled_runs
               WHEN 'total_errors' THEN d.total_errors
               WHEN 'error_rate' THEN d.error_rate
               WHEN 'total_credits_consumed' THEN d.total_credits_consumed
               WHEN 'active_users' THEN d.active_users
               WHEN 'avg_runtime_seconds' THEN d.avg_runtime_seconds
               WHEN 'p95_runtime_seconds' THEN d.p95_runtime_seconds
             END
        INTO v_value
        FROM analytics.daily_metrics d
       WHERE d.workspace_id IS NOT DISTINCT FROM v_rule.workspace_id
       ORDER BY d.metric_date DESC
       LIMIT 1;
    END IF;

    v_fired := CASE v_rule.condition
                 WHEN 'greater_than' THEN v_value > v_rule.threshold_value
                 WHEN 'less_than' THEN v_value < v_rule.threshold_value
                 WHEN 'equals' THEN v_value = v_rule.threshold_value
               END;
    IF coalesce(v_fired, false) THEN
      INSERT INTO analytics.alert_history
        (alert_rule_id, workspace_id, metric_value, threshold_value, notifications_sent, notification_status)
      VALUES
        (v_rule.id, v_rule.workspace_id, v_value, v_rule.threshold_value, '[]'::jsonb, 'pending');
      UPDATE analytics.alert_rules
         SET trigger_count = trigger_count + 1,
             last_triggered_at = now()
       WHERE id = v_rule.id;
      v_count := v_count + 1;
    END IF;
  END LOOP;
  RETURN v_count;
END
$$;

-- ---------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------
ALTER TABLE analytics.user_activity ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.daily_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.hourly_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.agent_performance ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.user_cohorts ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_history ENABLE ROW LEVEL SECURITY;

-- Events: a user records only their own, in no workspace or one they belong
-- to; they read their own and those of their workspaces. Append-only.
CREATE POLICY user_activity_select ON analytics.user_activity FOR SELECT TO authenticated
  USING (user_id = auth.uid()
         OR (workspace_id IS NOT NULL AND public.is_workspace_member(workspace_id)));
CREATE POLICY user_activity_insert ON analytics.user_activity FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid()
              AND (workspace_id IS NULL OR public.is_workspace_member(workspace_id)));

-- Rollups: members read; only the service role (no policy needed) writes.
CREATE POLICY daily_metrics_select ON analytics.daily_metrics FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY hourly_metrics_select ON analytics.hourly_metrics FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY agent_performance_select ON analytics.agent_performance FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY user_cohorts_select ON analytics.user_cohorts FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));

-- Alert rules: members read; contributors (owner/admin/member, not viewer)
-- create, edit and delete; the creator is the viewer.
CREATE POLICY alert_rules_select ON analytics.alert_rules FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY alert_rules_insert ON analytics.alert_rules FOR INSERT TO authenticated
  WITH CHECK (created_by = auth.uid()
              AND public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']));
CREATE POLICY alert_rules_update ON analytics.alert_rules FOR UPDATE TO authenticated
  USING (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']))
  WITH CHECK (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']));
CREATE POLICY alert_rules_delete ON analytics.alert_rules FOR DELETE TO authenticated
  USING (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']));

-- Alert history: members read and acknowledge (as themselves); the service
-- role writes it.
CREATE POLICY alert_history_select ON analytics.alert_history FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY alert_history_update ON analytics.alert_history FOR UPDATE TO authenticated
  USING (public.is_workspace_member(workspace_id))
  WITH CHECK (public.is_workspace_member(workspace_id) AND acknowledged_by = auth.uid());

-- ---------------------------------------------------------------------------
-- Grants
-- ---------------------------------------------------------------------------
GRANT SELECT ON analytics.user_activity TO authenticated;
-- No created_at: events are timestamped by the database, not backdated.
GRANT INSERT (id, user_id, workspace_id, event_type, event_name, page_path, session_id,
              ip_address, user_agent, referrer, metadata)
  ON analytics.user_activity TO authenticated;

GRANT SELECT ON analytics.daily_metrics, analytics.hourly_metrics, analytics.agent_performance,
  analytics.user_cohorts TO authenticated;

-- trigger_count / last_triggered_at / created_at / updated_at are the
-- system's; workspace_id and created_by are fixed once inserted.
GRANT SELECT, DELETE ON analytics.alert_rules TO authenticated;
GRANT INSERT (id, workspace_id, name, description, is_active, metric_type, condition,
              threshold_value, evaluation_window_minutes, notification_channels,
              notification_recipients, created_by)
  ON analytics.alert_rules TO authenticated;
GRANT UPDATE (name, description, is_active, metric_type, condition, threshold_value,
              evaluation_window_minutes, notification_channels, notification_recipients)
  ON analytics.alert_rules TO authenticated;

GRANT SELECT ON analytics.alert_history TO authenticated;
GRANT UPDATE (acknowledged_by, acknowledged_at, notes) ON analytics.alert_history TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.user_activity, analytics.daily_metrics,
  analytics.hourly_metrics, analytics.agent_performance, analytics.user_cohorts,
  analytics.alert_rules, analytics.alert_history TO service_role;

-- MVs: service role only; members go through the filtering views.
GRANT SELECT ON analytics.mv_active_users, analytics.mv_top_agents, analytics.mv_workspace_summary
  TO service_role;
GRANT SELECT ON analytics.v_active_users, analytics.v_top_agents, analytics.v_workspace_summary
  TO authenticated, service_role;

GRANT EXECUTE ON FUNCTION analytics.calculate_percentiles(numeric[], numeric[]) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION analytics.refresh_all_materialized_views(),
  analytics.aggregate_daily_metrics(date, uuid),
  analytics.cleanup_old_data(),
  analytics.evaluate_alert_rules()
  TO service_role;
