-- lift (seed 001, code lifting): sessions, IR revisions, code drafts, typed-hole
-- resolutions, the counter / numbering triggers and four reporting views.
-- Deviations from the seed: docs/seed-deviations.md.

CREATE SCHEMA lift;
GRANT USAGE ON SCHEMA lift TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

CREATE TABLE lift.sessions (
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL,
  status         text NOT NULL DEFAULT 'active',
  source         text NOT NULL DEFAULT 'prompt',
  original_input text NOT NULL,
  current_ir     jsonb,
  current_code   text,
  revision_count integer NOT NULL DEFAULT 0,
  draft_count    integer NOT NULL DEFAULT 0,
  hole_count     integer NOT NULL DEFAULT 0,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  finalized_at   timestamptz,
  CONSTRAINT sessions_pkey PRIMARY KEY (id),
  CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE,
  CONSTRAINT sessions_status_check
    CHECK (status IN ('active', 'paused', 'finalized', 'error')),
  CONSTRAINT sessions_source_check CHECK (source IN ('prompt', 'code')),
  CONSTRAINT sessions_original_input_check CHECK (length(original_input) > 0),
  CONSTRAINT sessions_revision_count_check CHECK (revision_count >= 0),
  CONSTRAINT sessions_draft_count_check CHECK (draft_count >= 0),
  CONSTRAINT sessions_hole_count_check CHECK (hole_count >= 0)
);

CREATE INDEX idx_sessions_user_id ON lift.sessions (user_id);
CREATE INDEX idx_sessions_status ON lift.sessions (status);
CREATE INDEX idx_sessions_created_at ON lift.sessions (created_at DESC);
CREATE INDEX idx_sessions_user_status ON lift.sessions (user_id, status);
CREATE INDEX idx_sessions_current_ir ON lift.sessions USING gin (current_ir);
CREATE INDEX idx_sessions_metadata ON lift.sessions USING gin (metadata);

CREATE TABLE lift.session_revisions (
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  session_id        uuid NOT NULL,
  -- No default: NULL on insert means "next number", assigned by
  -- trigger_revisions_assign_number under a lock on the parent session.
  revision_number   integer NOT NULL,
  source            text NOT NULL,
  ir_content        jsonb NOT NULL,
  validation_result jsonb,
  changed_fields    text[] NOT NULL DEFAULT ARRAY[]::text[],
  change_summary    text,
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT session_revisions_pkey PRIMARY KEY (id),
  CONSTRAINT session_revisions_session_id_fkey FOREIGN KEY (session_id)
    REFERENCES lift.sessions(id) ON DELETE CASCADE,
  CONSTRAINT session_revisions_revision_number_check CHECK (revision_number > 0),
  CONSTRAINT session_revisions_source_check
    CHECK (source IN ('initial', 'refinement', 'repair', 'user_edit')),
  CONSTRAINT session_revisions_session_id_revision_number_key
    UNIQUE (session_id, revision_number),
  -- Target of the composite FKs that keep a draft's / resolution's revision
  -- inside the same session.
  CONSTRAINT session_revisions_id_session_id_key UNIQUE (id, session_id)
);

CREATE INDEX idx_revisions_session_id ON lift.session_revisions (session_id);
CREATE INDEX idx_revisions_session_revision
  ON lift.session_revisions (session_id, revision_number DESC);
CREATE INDEX idx_revisions_created_at ON lift.session_revisions (created_at DESC);
CREATE INDEX idx_revisions_source ON lift.session_revisions (source);
CREATE INDEX idx_revisions_ir_content ON lift.session_revisions USING gin (ir_content);
CREATE INDEX idx_revisions_metadata ON lift.session_revisions USING gin (metadata);
-- The seed's index list announces GIN on array columns (changed_fields).
CREATE INDEX idx_revisions_changed_fields
  ON lift.session_revisions USING gin (changed_fields);

CREATE TABLE lift.session_drafts (
  id                 uuid NOT NULL DEFAULT gen_random_uuid(),
  session_id         uuid NOT NULL,
  ir_revision_id     uuid,
  -- No default: NULL on insert means "next number" (trigger_drafts_assign_number).
  draft_number       integer NOT NULL,
  source             text NOT NULL,
  code_content       text NOT NULL,
  language           text NOT NULL DEFAULT 'python',
  syntax_valid       boolean NOT NULL DEFAULT false,
  ast_valid          boolean NOT NULL DEFAULT false,
  validation_errors  jsonb NOT NULL DEFAULT '[]'::jsonb,
  generation_time_ms integer,
  validation_time_ms integer,
  llm_tokens_used    integer,
  llm_cost_usd       numeric(10, 6),
  metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT session_drafts_pkey PRIMARY KEY (id),
  CONSTRAINT session_drafts_session_id_fkey FOREIGN KEY (session_id)
    REFERENCES lift.sessions(id) ON DELETE CASCADE,
  -- The revision must belong to the draft's own session; deleting it only
  -- clears ir_revision_id (PG15 column list), never session_id.
  CONSTRAINT session_drafts_ir_revision_id_fkey FOREIGN KEY (ir_revision_id, session_id)
    REFERENCES lift.session_revisions(id, session_id) ON DELETE SET NULL (ir_revision_id),
  CONSTRAINT session_drafts_draft_number_check CHECK (draft_number > 0),
  CONSTRAINT session_drafts_source_check
    CHECK (source IN ('initial_generation', 'ast_repair', 'llm_regeneration', 'user_edit')),
  CONSTRAINT session_drafts_code_content_check CHECK (length(code_content) > 0),
  CONSTRAINT session_drafts_language_check CHECK (length(language) > 0),
  CONSTRAINT session_drafts_generation_time_ms_check
    CHECK (generation_time_ms IS NULL OR generation_time_ms >= 0),
  CONSTRAINT session_drafts_validation_time_ms_check
    CHECK (validation_time_ms IS NULL OR validation_time_ms >= 0),
  CONSTRAINT session_drafts_llm_tokens_used_check
    CHECK (llm_tokens_used IS NULL OR llm_tokens_used >= 0),
  CONSTRAINT session_drafts_llm_cost_usd_check
    CHECK (llm_cost_usd IS NULL OR llm_cost_usd >= 0),
  CONSTRAINT session_drafts_validation_errors_check
    CHECK (jsonb_typeof(validation_errors) = 'array'),
  CONSTRAINT session_drafts_session_id_draft_number_key UNIQUE (session_id, draft_number)
);

CREATE INDEX idx_drafts_session_id ON lift.session_drafts (session_id);
CREATE INDEX idx_drafts_session_draft ON lift.session_drafts (session_id, draft_number DESC);
CREATE INDEX idx_drafts_ir_revision_id ON lift.session_drafts (ir_revision_id);
CREATE INDEX idx_drafts_created_at ON lift.session_drafts (created_at DESC);
CREATE INDEX idx_drafts_source ON lift.session_drafts (source);
CREATE INDEX idx_drafts_valid ON lift.session_drafts (syntax_valid, ast_valid);
CREATE INDEX idx_drafts_validation_errors ON lift.session_drafts USING gin (validation_errors);
CREATE INDEX idx_drafts_metadata ON lift.session_drafts USING gin (metadata);

CREATE TABLE lift.hole_resolutions (
  id                   uuid NOT NULL DEFAULT gen_random_uuid(),
  session_id           uuid NOT NULL,
  ir_revision_id       uuid,
  hole_id              text NOT NULL,
  hole_type            text NOT NULL,
  resolution_method    text NOT NULL,
  resolved_value       jsonb NOT NULL,
  confidence_score     numeric(3, 2),
  original_hole_data   jsonb,
  suggestions_provided jsonb NOT NULL DEFAULT '[]'::jsonb,
  user_feedback        text,
  metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT hole_resolutions_pkey PRIMARY KEY (id),
  CONSTRAINT hole_resolutions_session_id_fkey FOREIGN KEY (session_id)
    REFERENCES lift.sessions(id) ON DELETE CASCADE,
  CONSTRAINT hole_resolutions_ir_revision_id_fkey FOREIGN KEY (ir_revision_id, session_id)
    REFERENCES lift.session_revisions(id, session_id) ON DELETE SET NULL (ir_revision_id),
  CONSTRAINT hole_resolutions_hole_id_check CHECK (length(hole_id) > 0),
  CONSTRAINT hole_resolutions_hole_type_check
    CHECK (hole_type IN ('type', 'parameter', 'return_value', 'validation', 'entity',
                         'constraint', 'other')),
  CONSTRAINT hole_resolutions_resolution_method_check
    CHECK (resolution_method IN ('user_selection', 'ai_suggestion', 'inference', 'default')),
  CONSTRAINT hole_resolutions_confidence_score_check
    CHECK (confidence_score BETWEEN 0 AND 1),
  -- NULLs stay distinct: resolutions whose revision was deleted (SET NULL)
  -- must not collide with each other.
  CONSTRAINT hole_resolutions_session_id_ir_revision_id_hole_id_key
    UNIQUE (session_id, ir_revision_id, hole_id)
);

CREATE INDEX idx_resolutions_session_id ON lift.hole_resolutions (session_id);
CREATE INDEX idx_resolutions_ir_revision_id ON lift.hole_resolutions (ir_revision_id);
CREATE INDEX idx_resolutions_hole_type ON lift.hole_resolutions (hole_type);
CREATE INDEX idx_resolutions_resolution_method ON lift.hole_resolutions (resolution_method);
CREATE INDEX idx_resolutions_created_at ON lift.hole_resolutions (created_at DESC);
CREATE INDEX idx_resolutions_resolved_value ON lift.hole_resolutions USING gin (resolved_value);
CREATE INDEX idx_resolutions_original_data ON lift.hole_resolutions USING gin (original_hole_data);
CREATE INDEX idx_resolutions_suggestions ON lift.hole_resolutions USING gin (suggestions_provided);
CREATE INDEX idx_resolutions_metadata ON lift.hole_resolutions USING gin (metadata);

-- ---------------------------------------------------------------------------
-- Trigger functions and triggers
-- ---------------------------------------------------------------------------

-- lift's own copy (the seed name collides with other domains').
CREATE FUNCTION lift.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER trigger_sessions_updated_at
  BEFORE UPDATE ON lift.sessions
  FOR EACH ROW EXECUTE FUNCTION lift.update_updated_at_column();

-- finalized_at follows status: set when a session becomes 'finalized' (unless
-- the service role supplied it), cleared when it leaves that state, so
-- time-to-finalization figures cannot be forged or go stale.
CREATE FUNCTION lift.set_finalized_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.status = 'finalized' THEN
    NEW.finalized_at := coalesce(NEW.finalized_at, now());
  ELSE
    NEW.finalized_at := NULL;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER trigger_sessions_finalized_at
  BEFORE INSERT OR UPDATE OF status, finalized_at ON lift.sessions
  FOR EACH ROW EXECUTE FUNCTION lift.set_finalized_at();

-- Counters: +1 / -1 in a single UPDATE (row lock, no lost update).
-- SECURITY DEFINER because users hold no UPDATE privilege on the counters.
-- When the whole session is being deleted (cascade), the parent row is already
-- gone and the UPDATE simply matches nothing.
CREATE FUNCTION lift.update_session_revision_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE lift.sessions AS s SET revision_count = s.revision_count + 1
    WHERE s.id = NEW.session_id;
    RETURN NEW;
  END IF;
  UPDATE lift.sessions AS s SET revision_count = s.revision_count - 1
  WHERE s.id = OLD.session_id;
  RETURN OLD;
END
$$;

CREATE FUNCTION lift.update_session_draft_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE lift.sessions AS s SET draft_count = s.draft_count + 1
    WHERE s.id = NEW.session_id;
    RETURN NEW;
  END IF;
  UPDATE lift.sessions AS s SET draft_count = s.draft_count - 1
  WHERE s.id = OLD.session_id;
  RETURN OLD;
END
$$;

CREATE FUNCTION lift.update_session_hole_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE lift.sessions AS s SET hole_count = s.hole_count + 1
    WHERE s.id = NEW.session_id;
    RETURN NEW;
  END IF;
  UPDATE lift.sessions AS s SET hole_count = s.hole_count - 1
  WHERE s.id = OLD.session_id;
  RETURN OLD;
END
$$;

CREATE TRIGGER trigger_revisions_count_insert
  AFTER INSERT ON lift.session_revisions
  FOR EACH ROW EXECUTE FUNCTION lift.update_session_revision_count();
CREATE TRIGGER trigger_revisions_count_delete
  AFTER DELETE ON lift.session_revisions
  FOR EACH ROW EXECUTE FUNCTION lift.update_session_revision_count();
CREATE TRIGGER trigger_drafts_count_insert
  AFTER INSERT ON lift.session_drafts
  FOR EACH ROW EXECUTE FUNCTION lift.update_session_draft_count();
CREATE TRIGGER trigger_drafts_count_delete
  AFTER DELETE ON lift.session_drafts
  FOR EACH ROW EXECUTE FUNCTION lift.update_session_draft_count();
CREATE TRIGGER trigger_resolutions_count_insert
  AFTER INSERT ON lift.hole_resolutions
  FOR EACH ROW EXECUTE FUNCTION lift.update_session_hole_count();
CREATE TRIGGER trigger_resolutions_count_delete
  AFTER DELETE ON lift.hole_resolutions
  FOR EACH ROW EXECUTE FUNCTION lift.update_session_hole_count();

-- Sequential numbers: a NULL revision_number / draft_number becomes max + 1
-- within the session. Locking the parent session row first serialises
-- concurrent writers of one session, so numbers are unique and gap-free; the
-- statement after the lock sees every committed predecessor (READ COMMITTED
-- takes a fresh snapshot per statement). SECURITY INVOKER on purpose: a caller
-- can only lock and read sessions its RLS lets it update, and an insert under
-- a foreign session fails the policy check anyway. A supplied number is kept
-- and checked by the UNIQUE constraint.
CREATE FUNCTION lift.assign_revision_number() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.revision_number IS NULL THEN
    PERFORM 1 FROM lift.sessions AS s WHERE s.id = NEW.session_id FOR NO KEY UPDATE;
    SELECT coalesce(max(r.revision_number), 0) + 1 INTO NEW.revision_number
    FROM lift.session_revisions AS r
    WHERE r.session_id = NEW.session_id;
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION lift.assign_draft_number() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.draft_number IS NULL THEN
    PERFORM 1 FROM lift.sessions AS s WHERE s.id = NEW.session_id FOR NO KEY UPDATE;
    SELECT coalesce(max(d.draft_number), 0) + 1 INTO NEW.draft_number
    FROM lift.session_drafts AS d
    WHERE d.session_id = NEW.session_id;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER trigger_revisions_assign_number
  BEFORE INSERT ON lift.session_revisions
  FOR EACH ROW EXECUTE FUNCTION lift.assign_revision_number();
CREATE TRIGGER trigger_drafts_assign_number
  BEFORE INSERT ON lift.session_drafts
  FOR EACH ROW EXECUTE FUNCTION lift.assign_draft_number();

-- A child row never moves to another session: that would make the counters
-- drift and break per-session numbering. Raised as a check violation naming
-- <table>_session_id_immutable.
CREATE FUNCTION lift.forbid_session_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.session_id IS DISTINCT FROM OLD.session_id THEN
    RAISE EXCEPTION 'session_id of %.% is immutable', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'check_violation',
            CONSTRAINT = TG_TABLE_NAME || '_session_id_immutable',
            TABLE = TG_TABLE_NAME,
            SCHEMA = TG_TABLE_SCHEMA;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER trigger_revisions_session_immutable
  BEFORE UPDATE OF session_id ON lift.session_revisions
  FOR EACH ROW EXECUTE FUNCTION lift.forbid_session_change();
CREATE TRIGGER trigger_drafts_session_immutable
  BEFORE UPDATE OF session_id ON lift.session_drafts
  FOR EACH ROW EXECUTE FUNCTION lift.forbid_session_change();
CREATE TRIGGER trigger_resolutions_session_immutable
  BEFORE UPDATE OF session_id ON lift.hole_resolutions
  FOR EACH ROW EXECUTE FUNCTION lift.forbid_session_change();

-- ---------------------------------------------------------------------------
-- Views (security_invoker: the viewer's RLS applies to the underlying tables)
-- ---------------------------------------------------------------------------

-- One row per session with its aggregates. Each aggregate comes from its own
-- per-session subquery so sums are never multiplied by a join.
CREATE VIEW lift.session_summary WITH (security_invoker = true) AS
SELECT
  s.id,
  s.user_id,
  s.status,
  s.source,
  s.original_input,
  s.current_ir,
  s.current_code,
  s.revision_count,
  s.draft_count,
  s.hole_count,
  s.metadata,
  s.created_at,
  s.updated_at,
  s.finalized_at,
  rev.latest_revision_number,
  dr.latest_draft_number,
  latest.latest_draft_valid,
  coalesce(dr.total_generation_time_ms, 0)::bigint AS total_generation_time_ms,
  coalesce(dr.total_llm_cost_usd, 0)::numeric AS total_llm_cost_usd,
  coalesce(dr.total_llm_tokens_used, 0)::bigint AS total_llm_tokens_used,
  extract(epoch FROM s.updated_at - s.created_at) AS session_duration_seconds,
  extract(epoch FROM s.finalized_at - s.created_at) AS time_to_finalization_seconds
FROM lift.sessions AS s
LEFT JOIN LATERAL (
  SELECT max(r.revision_number) AS latest_revision_number
  FROM lift.session_revisions AS r
  WHERE r.session_id = s.id
) AS rev ON true
LEFT JOIN LATERAL (
  SELECT max(d.draft_number) AS latest_draft_number,
         sum(d.generation_time_ms) AS total_generation_time_ms,
         sum(d.llm_cost_usd) AS total_llm_cost_usd,
         sum(d.llm_tokens_used) AS total_llm_tokens_used
  FROM lift.session_drafts AS d
  WHERE d.session_id = s.id
) AS dr ON true
LEFT JOIN LATERAL (
  SELECT d.syntax_valid AND d.ast_valid AS latest_draft_valid
  FROM lift.session_drafts AS d
  WHERE d.session_id = s.id
  ORDER BY d.draft_number DESC
  LIMIT 1
) AS latest ON true;

-- One row per user with at least one session. Session counts come from the
-- sessions; cost and tokens from a per-user sum over the drafts.
CREATE VIEW lift.user_analytics WITH (security_invoker = true) AS
SELECT
  s.user_id,
  count(*) AS total_sessions,
  count(*) FILTER (WHERE s.status = 'finalized') AS finalized_sessions,
  count(*) FILTER (WHERE s.status = 'active') AS active_sessions,
  count(*) FILTER (WHERE s.status = 'error') AS error_sessions,
  sum(s.revision_count)::bigint AS total_revisions,
  sum(s.draft_count)::bigint AS total_drafts,
  round(avg(s.revision_count), 2) AS avg_revisions_per_session,
  round(avg(s.draft_count), 2) AS avg_drafts_per_session,
  min(s.created_at) AS first_session_at,
  max(s.created_at) AS last_session_at,
  coalesce(max(cost.total_llm_cost_usd), 0)::numeric AS total_llm_cost_usd,
  coalesce(max(cost.total_llm_tokens_used), 0)::bigint AS total_llm_tokens_used,
  round(avg(extract(epoch FROM s.finalized_at - s.created_at))
          FILTER (WHERE s.status = 'finalized' AND s.finalized_at IS NOT NULL), 2)
    AS avg_time_to_finalization_seconds
FROM lift.sessions AS s
LEFT JOIN (
  SELECT s2.user_id,
         sum(d.llm_cost_usd) AS total_llm_cost_usd,
         sum(d.llm_tokens_used) AS total_llm_tokens_used
  FROM lift.session_drafts AS d
  JOIN lift.sessions AS s2 ON s2.id = d.session_id
  GROUP BY s2.user_id
) AS cost ON cost.user_id = s.user_id
GROUP BY s.user_id;

-- Unified timeline. event_id is the id of the row the event is about
-- (session, revision, draft or resolution): (event_type, event_id) is unique.
CREATE VIEW lift.recent_activity WITH (security_invoker = true) AS
SELECT
  'session_created'::text AS event_type,
  s.id AS event_id,
  s.id AS session_id,
  s.user_id,
  NULL::uuid AS revision_id,
  NULL::uuid AS draft_id,
  NULL::uuid AS resolution_id,
  s.created_at AS event_time,
  jsonb_build_object('status', s.status, 'source', s.source) AS event_data
FROM lift.sessions AS s
UNION ALL
SELECT
  'revision_created'::text,
  r.id,
  r.session_id,
  s.user_id,
  r.id,
  NULL::uuid,
  NULL::uuid,
  r.created_at,
  jsonb_build_object('revision_number', r.revision_number, 'source', r.source,
                     'change_summary', r.change_summary, 'changed_fields', to_jsonb(r.changed_fields))
FROM lift.session_revisions AS r
JOIN lift.sessions AS s ON s.id = r.session_id
UNION ALL
SELECT
  'draft_created'::text,
  d.id,
  d.session_id,
  s.user_id,
  d.ir_revision_id,
  d.id,
  NULL::uuid,
  d.created_at,
  jsonb_build_object('draft_number', d.draft_number, 'source', d.source,
                     'language', d.language, 'syntax_valid', d.syntax_valid,
                     'ast_valid', d.ast_valid)
FROM lift.session_drafts AS d
JOIN lift.sessions AS s ON s.id = d.session_id
UNION ALL
SELECT
  'hole_resolved'::text,
  h.id,
  h.session_id,
  s.user_id,
  h.ir_revision_id,
  NULL::uuid,
  h.id,
  h.created_at,
  jsonb_build_object('hole_id', h.hole_id, 'hole_type', h.hole_type,
                     'resolution_method', h.resolution_method,
                     'confidence_score', h.confidence_score)
FROM lift.hole_resolutions AS h
JOIN lift.sessions AS s ON s.id = h.session_id;

-- One row per session (sessions without drafts included: counts 0, rates and
-- averages NULL). Percentages are 0-100 with two decimals.
CREATE VIEW lift.draft_validation_stats WITH (security_invoker = true) AS
SELECT
  s.id AS session_id,
  s.user_id,
  st.total_drafts,
  st.syntax_valid_count,
  st.ast_valid_count,
  st.fully_valid_count,
  round(100.0 * st.syntax_valid_count / nullif(st.total_drafts, 0), 2) AS syntax_valid_percent,
  round(100.0 * st.ast_valid_count / nullif(st.total_drafts, 0), 2) AS ast_valid_percent,
  round(100.0 * st.fully_valid_count / nullif(st.total_drafts, 0), 2) AS fully_valid_percent,
  st.avg_generation_time_ms,
  st.avg_validation_time_ms,
  st.total_llm_cost_usd
FROM lift.sessions AS s
CROSS JOIN LATERAL (
  SELECT count(*) AS total_drafts,
         count(*) FILTER (WHERE d.syntax_valid) AS syntax_valid_count,
         count(*) FILTER (WHERE d.ast_valid) AS ast_valid_count,
         count(*) FILTER (WHERE d.syntax_valid AND d.ast_valid) AS fully_valid_count,
         round(avg(d.generation_time_ms), 2) AS avg_generation_time_ms,
         round(avg(d.validation_time_ms), 2) AS avg_validation_time_ms,
         coalesce(sum(d.llm_cost_usd), 0)::numeric AS total_llm_cost_usd
  FROM lift.session_drafts AS d
  WHERE d.session_id = s.id
) AS st;

-- ---------------------------------------------------------------------------
-- Row-level security: sessions by owner, children by the parent's owner
-- ---------------------------------------------------------------------------
ALTER TABLE lift.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE lift.session_revisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE lift.session_drafts ENABLE ROW LEVEL SECURITY;
ALTER TABLE lift.hole_resolutions ENABLE ROW LEVEL SECURITY;

CREATE POLICY sessions_select ON lift.sessions FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));
CREATE POLICY sessions_insert ON lift.sessions FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY sessions_update ON lift.sessions FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid()))
  WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY sessions_delete ON lift.sessions FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()));

CREATE POLICY session_revisions_select ON lift.session_revisions FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY session_revisions_insert ON lift.session_revisions FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM lift.sessions AS s
                      WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY session_revisions_update ON lift.session_revisions FOR UPDATE TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())))
  WITH CHECK (EXISTS (SELECT 1 FROM lift.sessions AS s
                      WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY session_revisions_delete ON lift.session_revisions FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));

CREATE POLICY session_drafts_select ON lift.session_drafts FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY session_drafts_insert ON lift.session_drafts FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM lift.sessions AS s
                      WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY session_drafts_update ON lift.session_drafts FOR UPDATE TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())))
  WITH CHECK (EXISTS (SELECT 1 FROM lift.sessions AS s
                      WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY session_drafts_delete ON lift.session_drafts FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));

CREATE POLICY hole_resolutions_select ON lift.hole_resolutions FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY hole_resolutions_insert ON lift.hole_resolutions FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM lift.sessions AS s
                      WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY hole_resolutions_update ON lift.hole_resolutions FOR UPDATE TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())))
  WITH CHECK (EXISTS (SELECT 1 FROM lift.sessions AS s
                      WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
CREATE POLICY hole_resolutions_delete ON lift.hole_resolutions FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM lift.sessions AS s
                 WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));

-- ---------------------------------------------------------------------------
-- Grants. Nothing in lift is public: anon has schema usage only.
-- Users never write counters, ownership, numbering bookkeeping or timestamps
-- after the fact (column-level INSERT / UPDATE grants).
-- ---------------------------------------------------------------------------
GRANT SELECT, DELETE ON lift.sessions TO authenticated;
GRANT INSERT (id, user_id, status, source, original_input, current_ir, current_code, metadata)
  ON lift.sessions TO authenticated;
GRANT UPDATE (status, current_ir, current_code, metadata) ON lift.sessions TO authenticated;

GRANT SELECT, DELETE ON lift.session_revisions TO authenticated;
GRANT INSERT (id, session_id, revision_number, source, ir_content, validation_result,
              changed_fields, change_summary, metadata)
  ON lift.session_revisions TO authenticated;
GRANT UPDATE (validation_result, change_summary, metadata)
  ON lift.session_revisions TO authenticated;

GRANT SELECT, DELETE ON lift.session_drafts TO authenticated;
GRANT INSERT (id, session_id, ir_revision_id, draft_number, source, code_content, language,
              syntax_valid, ast_valid, validation_errors, generation_time_ms,
              validation_time_ms, llm_tokens_used, llm_cost_usd, metadata)
  ON lift.session_drafts TO authenticated;
GRANT UPDATE (syntax_valid, ast_valid, validation_errors, validation_time_ms, metadata)
  ON lift.session_drafts TO authenticated;

GRANT SELECT, DELETE ON lift.hole_resolutions TO authenticated;
GRANT INSERT (id, session_id, ir_revision_id, hole_id, hole_type, resolution_method,
              resolved_value, confidence_score, original_hole_data, suggestions_provided,
              user_feedback, metadata)
  ON lift.hole_resolutions TO authenticated;
GRANT UPDATE (user_feedback, metadata) ON lift.hole_resolutions TO authenticated;

GRANT SELECT ON lift.session_summary, lift.user_analytics, lift.recent_activity,
  lift.draft_validation_stats TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON lift.sessions, lift.session_revisions,
  lift.session_drafts, lift.hole_resolutions TO service_role;
GRANT SELECT ON lift.session_summary, lift.user_analytics, lift.recent_activity,
  lift.draft_validation_stats TO service_role;

-- Trigger functions are never called directly; do not rely on the default
-- privileges of whichever role runs this migration.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lift FROM PUBLIC;
