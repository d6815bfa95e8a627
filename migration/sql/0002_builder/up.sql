-- Model builder (seed 000): sessions, prompts, responses, steps, and the
-- per-user dashboard counters in `builder.analytics`, kept equal to the live
-- row counts by SECURITY DEFINER triggers. Deviations from the seed:
-- docs/seed-deviations.md.

CREATE SCHEMA builder;
GRANT USAGE ON SCHEMA builder TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

CREATE TABLE builder.sessions (
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL,
  description  text,
  problem_type text,
  status       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sessions_pkey PRIMARY KEY (id),
  CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE,
  -- Target of the children's (session_id, user_id) foreign keys, which is
  -- what makes "a prompt/step belongs to a session of the same user" hold
  -- for every writer, service role included.
  CONSTRAINT sessions_id_user_id_key UNIQUE (id, user_id),
  -- NULL stays allowed (the seed's column is nullable with no default).
  CONSTRAINT sessions_status_check CHECK (status IN ('active', 'completed', 'archived'))
);

CREATE TABLE builder.prompts (
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  session_id  uuid NOT NULL,
  user_id     uuid NOT NULL,
  prompt_text text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT prompts_pkey PRIMARY KEY (id),
  CONSTRAINT prompts_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE,
  -- ON UPDATE CASCADE: when the service role moves a session to another
  -- user, its prompts (and, through them, responses) follow, and the counter
  -- triggers move the counts with them.
  CONSTRAINT prompts_session_id_fkey FOREIGN KEY (session_id, user_id)
    REFERENCES builder.sessions(id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT prompts_id_user_id_key UNIQUE (id, user_id),
  CONSTRAINT prompts_prompt_text_check CHECK (length(btrim(prompt_text)) > 0)
);

CREATE TABLE builder.responses (
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  prompt_id     uuid NOT NULL,
  user_id       uuid NOT NULL,
  response_text text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT responses_pkey PRIMARY KEY (id),
  CONSTRAINT responses_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE,
  CONSTRAINT responses_prompt_id_fkey FOREIGN KEY (prompt_id, user_id)
    REFERENCES builder.prompts(id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE builder.steps (
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL,
  user_id    uuid NOT NULL,
  step_type  text NOT NULL,
  step_data  jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT steps_pkey PRIMARY KEY (id),
  CONSTRAINT steps_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE,
  CONSTRAINT steps_session_id_fkey FOREIGN KEY (session_id, user_id)
    REFERENCES builder.sessions(id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT steps_step_type_check CHECK (length(btrim(step_type)) > 0)
);

-- Per-user dashboard counters. Written only by the SECURITY DEFINER
-- functions below; the CHECKs make any drift below zero fail loudly instead
-- of showing negative numbers.
CREATE TABLE builder.analytics (
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL,
  total_sessions  integer NOT NULL DEFAULT 0,
  total_prompts   integer NOT NULL DEFAULT 0,
  total_responses integer NOT NULL DEFAULT 0,
  total_decisions integer NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT analytics_pkey PRIMARY KEY (id),
  CONSTRAINT analytics_user_id_key UNIQUE (user_id),
  CONSTRAINT analytics_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE,
  CONSTRAINT analytics_total_sessions_check CHECK (total_sessions >= 0),
  CONSTRAINT analytics_total_prompts_check CHECK (total_prompts >= 0),
  CONSTRAINT analytics_total_responses_check CHECK (total_responses >= 0),
  CONSTRAINT analytics_total_decisions_check CHECK (total_decisions >= 0)
);

-- ---------------------------------------------------------------------------
-- Indexes (the seed lists none; these serve the API's orderings and the
-- ON DELETE CASCADE from public.users / sessions / prompts)
-- ---------------------------------------------------------------------------
CREATE INDEX idx_builder_sessions_user_created ON builder.sessions (user_id, created_at DESC);
CREATE INDEX idx_builder_prompts_session_created ON builder.prompts (session_id, created_at);
CREATE INDEX idx_builder_prompts_user_created ON builder.prompts (user_id, created_at DESC);
CREATE INDEX idx_builder_responses_prompt_created ON builder.responses (prompt_id, created_at);
CREATE INDEX idx_builder_responses_user_created ON builder.responses (user_id, created_at DESC);
CREATE INDEX idx_builder_steps_session_created ON builder.steps (session_id, created_at);
CREATE INDEX idx_builder_steps_user_created ON builder.steps (user_id, created_at DESC);
-- Decisions per user (recompute_analytics, "my deployments" lists).
CREATE INDEX idx_builder_steps_user_model_deploy ON builder.steps (user_id, created_at DESC)
  WHERE step_type = 'model_deploy';

-- ---------------------------------------------------------------------------
-- updated_at
-- ---------------------------------------------------------------------------
CREATE FUNCTION builder.set_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER trg_sessions_set_updated_at
  BEFORE UPDATE ON builder.sessions
  FOR EACH ROW EXECUTE FUNCTION builder.set_updated_at();

-- ---------------------------------------------------------------------------
-- Counters
-- ---------------------------------------------------------------------------

-- Ensures the caller's (or, for the service role, any user's) analytics row
-- exists. SECURITY DEFINER because users hold no INSERT on builder.analytics.
CREATE FUNCTION builder.ensure_analytics_row(p_user_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_user(p_user_id);
  INSERT INTO builder.analytics (user_id)
  VALUES (p_user_id)
  ON CONFLICT (user_id) DO NOTHING;
END
$$;

-- Adds the deltas to one user's counters in a single statement (row lock, no
-- lost update). Positive-only deltas upsert, so concurrent first inserts of
-- one user cannot race on creating the row. A delta that removes something
-- only updates: during a cascade delete of the user, the row may be gone
-- already and must not be re-created. Internal: callable by the trigger
-- functions (same owner) only.
CREATE FUNCTION builder.adjust_analytics(
  p_user_id   uuid,
  p_sessions  integer,
  p_prompts   integer,
  p_responses integer,
  p_decisions integer
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF p_sessions = 0 AND p_prompts = 0 AND p_responses = 0 AND p_decisions = 0 THEN
    RETURN;
  END IF;
  IF p_sessions >= 0 AND p_prompts >= 0 AND p_responses >= 0 AND p_decisions >= 0 THEN
    INSERT INTO builder.analytics AS a
      (user_id, total_sessions, total_prompts, total_responses, total_decisions)
    VALUES (p_user_id, p_sessions, p_prompts, p_responses, p_decisions)
    ON CONFLICT (user_id) DO UPDATE SET
      total_sessions  = a.total_sessions + EXCLUDED.total_sessions,
      total_prompts   = a.total_prompts + EXCLUDED.total_prompts,
      total_responses = a.total_responses + EXCLUDED.total_responses,
      total_decisions = a.total_decisions + EXCLUDED.total_decisions,
      updated_at      = now();
  ELSE
    UPDATE builder.analytics AS a SET
      total_sessions  = a.total_sessions + p_sessions,
      total_prompts   = a.total_prompts + p_prompts,
      total_responses = a.total_responses + p_responses,
      total_decisions = a.total_decisions + p_decisions,
      updated_at      = now()
    WHERE a.user_id = p_user_id;
  END IF;
END
$$;

-- The seed's function names are kept; each now follows INSERT, DELETE and an
-- UPDATE that moves the row to another user, so the counter always equals
-- the live row count.
CREATE FUNCTION builder.increment_total_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    IF TG_OP = 'DELETE' OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM builder.adjust_analytics(OLD.user_id, -1, 0, 0, 0);
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_OP = 'INSERT' OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM builder.adjust_analytics(NEW.user_id, 1, 0, 0, 0);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION builder.increment_total_prompts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    IF TG_OP = 'DELETE' OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM builder.adjust_analytics(OLD.user_id, 0, -1, 0, 0);
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_OP = 'INSERT' OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM builder.adjust_analytics(NEW.user_id, 0, 1, 0, 0);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION builder.increment_total_responses() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    IF TG_OP = 'DELETE' OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM builder.adjust_analytics(OLD.user_id, 0, 0, -1, 0);
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_OP = 'INSERT' OR OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM builder.adjust_analytics(NEW.user_id, 0, 0, 1, 0);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- A decision is a step with step_type = 'model_deploy'. An UPDATE counts as
-- "remove the old row, add the new one", so a step_type change to or from
-- 'model_deploy' (or a move to another user) moves the count.
CREATE FUNCTION builder.increment_total_decisions_from_steps() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_old boolean := TG_OP IN ('DELETE', 'UPDATE') AND OLD.step_type = 'model_deploy';
  v_new boolean := TG_OP IN ('INSERT', 'UPDATE') AND NEW.step_type = 'model_deploy';
BEGIN
  IF TG_OP = 'UPDATE' AND v_old AND v_new AND OLD.user_id = NEW.user_id THEN
    RETURN NULL;
  END IF;
  IF v_old THEN
    PERFORM builder.adjust_analytics(OLD.user_id, 0, 0, 0, -1);
  END IF;
  IF v_new THEN
    PERFORM builder.adjust_analytics(NEW.user_id, 0, 0, 0, 1);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER trg_increment_total_sessions
  AFTER INSERT OR DELETE OR UPDATE OF user_id ON builder.sessions
  FOR EACH ROW EXECUTE FUNCTION builder.increment_total_sessions();

CREATE TRIGGER trg_increment_total_prompts
  AFTER INSERT OR DELETE OR UPDATE OF user_id ON builder.prompts
  FOR EACH ROW EXECUTE FUNCTION builder.increment_total_prompts();

CREATE TRIGGER trg_increment_total_responses
  AFTER INSERT OR DELETE OR UPDATE OF user_id ON builder.responses
  FOR EACH ROW EXECUTE FUNCTION builder.increment_total_responses();

CREATE TRIGGER trg_increment_total_decisions_from_steps
  AFTER INSERT OR DELETE OR UPDATE OF user_id, step_type ON builder.steps
  FOR EACH ROW EXECUTE FUNCTION builder.increment_total_decisions_from_steps();

-- Maintenance: rebuilds the counters of one user (or of every user when
-- p_user_id is NULL) from the live rows, e.g. after a restore. Returns the
-- number of analytics rows whose numbers changed or that were created.
CREATE FUNCTION builder.recompute_analytics(p_user_id uuid DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_changed integer;
BEGIN
  PERFORM auth.require_service_role();
  WITH targets AS (
    SELECT u.id AS user_id
    FROM public.users u
    WHERE p_user_id IS NULL OR u.id = p_user_id
  ), truth AS (
    SELECT t.user_id,
      (SELECT count(*) FROM builder.sessions s WHERE s.user_id = t.user_id)::integer AS total_sessions,
      (SELECT count(*) FROM builder.prompts p WHERE p.user_id = t.user_id)::integer AS total_prompts,
      (SELECT count(*) FROM builder.responses r WHERE r.user_id = t.user_id)::integer AS total_responses,
      (SELECT count(*) FROM builder.steps st
        WHERE st.user_id = t.user_id AND st.step_type = 'model_deploy')::integer AS total_decisions
    FROM targets t
  ), upserted AS (
    INSERT INTO builder.analytics AS a
      (user_id, total_sessions, total_prompts, total_responses, total_decisions)
    SELECT user_id, total_sessions, total_prompts, total_responses, total_decisions
    FROM truth
    ON CONFLICT (user_id) DO UPDATE SET
      total_sessions  = EXCLUDED.total_sessions,
      total_prompts   = EXCLUDED.total_prompts,
      total_responses = EXCLUDED.total_responses,
      total_decisions = EXCLUDED.total_decisions,
      updated_at      = now()
    WHERE (a.total_sessions, a.total_prompts, a.total_responses, a.total_decisions)
          IS DISTINCT FROM
          (EXCLUDED.total_sessions, EXCLUDED.total_prompts,
           EXCLUDED.total_responses, EXCLUDED.total_decisions)
    RETURNING 1
  )
  SELECT count(*) INTO v_changed FROM upserted;
  RETURN v_changed;
END
$$;

-- ---------------------------------------------------------------------------
-- Row-level security: every row belongs to its user_id; children may only be
-- created under a parent the viewer owns. Nothing is public (anon has no
-- grant at all).
-- ---------------------------------------------------------------------------
ALTER TABLE builder.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE builder.prompts ENABLE ROW LEVEL SECURITY;
ALTER TABLE builder.responses ENABLE ROW LEVEL SECURITY;
ALTER TABLE builder.steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE builder.analytics ENABLE ROW LEVEL SECURITY;

CREATE POLICY sessions_select ON builder.sessions FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY sessions_insert ON builder.sessions FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid());
CREATE POLICY sessions_update ON builder.sessions FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY sessions_delete ON builder.sessions FOR DELETE TO authenticated
  USING (user_id = auth.uid());

CREATE POLICY prompts_select ON builder.prompts FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY prompts_insert ON builder.prompts FOR INSERT TO authenticated
  WITH CHECK (
    user_id = auth.uid()
    AND EXISTS (SELECT 1 FROM builder.sessions s
                WHERE s.id = session_id AND s.user_id = auth.uid())
  );
CREATE POLICY prompts_update ON builder.prompts FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY prompts_delete ON builder.prompts FOR DELETE TO authenticated
  USING (user_id = auth.uid());

CREATE POLICY responses_select ON builder.responses FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY responses_insert ON builder.responses FOR INSERT TO authenticated
  WITH CHECK (
    user_id = auth.uid()
    AND EXISTS (SELECT 1 FROM builder.prompts p
                WHERE p.id = prompt_id AND p.user_id = auth.uid())
  );
CREATE POLICY responses_update ON builder.responses FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY responses_delete ON builder.responses FOR DELETE TO authenticated
  USING (user_id = auth.uid());

CREATE POLICY steps_select ON builder.steps FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY steps_insert ON builder.steps FOR INSERT TO authenticated
  WITH CHECK (
    user_id = auth.uid()
    AND EXISTS (SELECT 1 FROM builder.sessions s
                WHERE s.id = session_id AND s.user_id = auth.uid())
  );
CREATE POLICY steps_update ON builder.steps FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY steps_delete ON builder.steps FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- Read-only for users; there is no INSERT/UPDATE/DELETE policy (and no such
-- grant): the counters are written by the trigger functions only.
CREATE POLICY analytics_select ON builder.analytics FOR SELECT TO authenticated
  USING (user_id = auth.uid());

-- ---------------------------------------------------------------------------
-- Grants
-- ---------------------------------------------------------------------------
-- Ownership (id, user_id), parents and timestamps are not updatable by users.
GRANT SELECT, INSERT, DELETE ON builder.sessions, builder.prompts, builder.responses,
  builder.steps TO authenticated;
GRANT UPDATE (description, problem_type, status) ON builder.sessions TO authenticated;
GRANT UPDATE (prompt_text) ON builder.prompts TO authenticated;
GRANT UPDATE (response_text) ON builder.responses TO authenticated;
GRANT UPDATE (step_type, step_data) ON builder.steps TO authenticated;
GRANT SELECT ON builder.analytics TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON builder.sessions, builder.prompts, builder.responses,
  builder.steps TO service_role;
-- Even the service role cannot forge the counters: it reads them, and
-- rebuilds them from the live rows with recompute_analytics().
GRANT SELECT ON builder.analytics TO service_role;

GRANT EXECUTE ON FUNCTION builder.ensure_analytics_row(uuid) TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION builder.recompute_analytics(uuid) TO service_role;
-- Trigger functions and adjust_analytics: no EXECUTE for anyone but the
-- owner (triggers do not check EXECUTE when they fire).
REVOKE EXECUTE ON FUNCTION builder.set_updated_at(), builder.adjust_analytics(uuid, integer, integer, integer, integer),
  builder.increment_total_sessions(), builder.increment_total_prompts(),
  builder.increment_total_responses(), builder.increment_total_decisions_from_steps(),
  builder.ensure_analytics_row(uuid), builder.recompute_analytics(uuid)
  FROM PUBLIC;
