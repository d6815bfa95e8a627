-- Prompt lab (seed 004): prompts with their clarifying answers, test runs,
-- community templates, favorites and likes. The seed's `users` table is the
-- core's public.users. Deviations from the seed: docs/seed-deviations.md.

-- Trigram operator classes for the substring search of templates. The
-- extension is shared with the rest of the database, so down.sql keeps it.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE SCHEMA prompt_lab;
GRANT USAGE ON SCHEMA prompt_lab TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

CREATE TABLE prompt_lab.prompts (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL DEFAULT auth.uid()
             CONSTRAINT prompts_user_id_fkey REFERENCES public.users(id) ON DELETE CASCADE,
  title      varchar(255) NOT NULL
             CONSTRAINT prompts_title_check CHECK (length(btrim(title)) > 0),
  goal       text NOT NULL
             CONSTRAINT prompts_goal_check CHECK (length(btrim(goal)) > 0),
  template   text NOT NULL,
  variables  jsonb NOT NULL DEFAULT '[]'::jsonb
             CONSTRAINT prompts_variables_check CHECK (jsonb_typeof(variables) = 'array'),
  is_public  boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- Target of prompt_templates' (prompt_id, user_id) key: a template's author
  -- is always its prompt's owner.
  CONSTRAINT prompts_id_user_id_key UNIQUE (id, user_id)
);
CREATE INDEX idx_prompts_user_id ON prompt_lab.prompts(user_id);
CREATE INDEX idx_prompts_is_public ON prompt_lab.prompts(is_public);
CREATE INDEX idx_prompts_created_at ON prompt_lab.prompts(created_at DESC);
-- "My prompts, newest first" (the seed's getUserPrompts) and the public feed.
CREATE INDEX idx_prompts_user_created ON prompt_lab.prompts(user_id, created_at DESC);
CREATE INDEX idx_prompts_public_created ON prompt_lab.prompts(created_at DESC) WHERE is_public;
-- Substring (ILIKE '%q%') search on title and goal: trigram GIN indexes.
CREATE INDEX idx_prompts_title_trgm ON prompt_lab.prompts USING gin (title public.gin_trgm_ops);
CREATE INDEX idx_prompts_goal_trgm ON prompt_lab.prompts USING gin (goal public.gin_trgm_ops);

CREATE TABLE prompt_lab.prompt_answers (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  prompt_id     uuid NOT NULL
                CONSTRAINT prompt_answers_prompt_id_fkey REFERENCES prompt_lab.prompts(id) ON DELETE CASCADE,
  question_id   varchar(100) NOT NULL
                CONSTRAINT prompt_answers_question_id_check CHECK (length(btrim(question_id)) > 0),
  question_text text NOT NULL,
  answer        text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- The client keys answers by question id: one answer per question.
  CONSTRAINT prompt_answers_prompt_id_question_id_key UNIQUE (prompt_id, question_id)
);
CREATE INDEX idx_prompt_answers_prompt_id ON prompt_lab.prompt_answers(prompt_id);

CREATE TABLE prompt_lab.test_results (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  prompt_id        uuid NOT NULL
                   CONSTRAINT test_results_prompt_id_fkey REFERENCES prompt_lab.prompts(id) ON DELETE CASCADE,
  user_id          uuid NOT NULL DEFAULT auth.uid()
                   CONSTRAINT test_results_user_id_fkey REFERENCES public.users(id) ON DELETE CASCADE,
  model            varchar(50) NOT NULL
                   CONSTRAINT test_results_model_check CHECK (length(btrim(model)) > 0),
  temperature      numeric(3,2) NOT NULL
                   CONSTRAINT test_results_temperature_check CHECK (temperature BETWEEN 0 AND 2),
  variable_values  jsonb NOT NULL
                   CONSTRAINT test_results_variable_values_check CHECK (jsonb_typeof(variable_values) = 'object'),
  resolved_prompt  text NOT NULL,
  result           text,
  tokens_used      integer CONSTRAINT test_results_tokens_used_check CHECK (tokens_used >= 0),
  response_time_ms integer CONSTRAINT test_results_response_time_ms_check CHECK (response_time_ms >= 0),
  created_at       timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_test_results_prompt_id ON prompt_lab.test_results(prompt_id);
CREATE INDEX idx_test_results_user_id ON prompt_lab.test_results(user_id);
CREATE INDEX idx_test_results_model ON prompt_lab.test_results(model);
-- A prompt's test history, newest first; append-only log, so BRIN on time.
CREATE INDEX idx_test_results_prompt_created ON prompt_lab.test_results(prompt_id, created_at DESC);
CREATE INDEX idx_test_results_created_brin ON prompt_lab.test_results USING brin(created_at);

CREATE TABLE prompt_lab.prompt_templates (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  prompt_id   uuid NOT NULL,
  user_id     uuid NOT NULL DEFAULT auth.uid()
              CONSTRAINT prompt_templates_user_id_fkey REFERENCES public.users(id) ON DELETE CASCADE,
  category    varchar(100)
              CONSTRAINT prompt_templates_category_check CHECK (length(btrim(category)) > 0),
  tags        text[] NOT NULL DEFAULT '{}'::text[]
              CONSTRAINT prompt_templates_tags_check CHECK (array_position(tags, NULL) IS NULL),
  likes_count integer NOT NULL DEFAULT 0
              CONSTRAINT prompt_templates_likes_count_check CHECK (likes_count >= 0),
  uses_count  integer NOT NULL DEFAULT 0
              CONSTRAINT prompt_templates_uses_count_check CHECK (uses_count >= 0),
  created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- One template per prompt.
  CONSTRAINT prompt_templates_prompt_id_key UNIQUE (prompt_id),
  -- The template's prompt, owned by the template's author.
  CONSTRAINT prompt_templates_prompt_id_fkey FOREIGN KEY (prompt_id, user_id)
    REFERENCES prompt_lab.prompts(id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX idx_prompt_templates_category ON prompt_lab.prompt_templates(category);
CREATE INDEX idx_prompt_templates_likes ON prompt_lab.prompt_templates(likes_count DESC);
CREATE INDEX idx_prompt_templates_uses ON prompt_lab.prompt_templates(uses_count DESC);
-- The popularity ranking (likes, uses, id), overall and per category.
CREATE INDEX idx_prompt_templates_ranking
  ON prompt_lab.prompt_templates(likes_count DESC, uses_count DESC, id);
CREATE INDEX idx_prompt_templates_category_ranking
  ON prompt_lab.prompt_templates(category, likes_count DESC, uses_count DESC, id);
CREATE INDEX idx_prompt_templates_user_id ON prompt_lab.prompt_templates(user_id);
CREATE INDEX idx_prompt_templates_tags ON prompt_lab.prompt_templates USING gin (tags);

CREATE TABLE prompt_lab.user_favorites (
  user_id     uuid NOT NULL DEFAULT auth.uid()
              CONSTRAINT user_favorites_user_id_fkey REFERENCES public.users(id) ON DELETE CASCADE,
  template_id uuid NOT NULL
              CONSTRAINT user_favorites_template_id_fkey REFERENCES prompt_lab.prompt_templates(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT user_favorites_pkey PRIMARY KEY (user_id, template_id)
);
CREATE INDEX idx_user_favorites_user_id ON prompt_lab.user_favorites(user_id);
CREATE INDEX idx_user_favorites_template_id ON prompt_lab.user_favorites(template_id);

-- One like per user and template; prompt_templates.likes_count counts these rows.
CREATE TABLE prompt_lab.template_likes (
  user_id     uuid NOT NULL DEFAULT auth.uid()
              CONSTRAINT template_likes_user_id_fkey REFERENCES public.users(id) ON DELETE CASCADE,
  template_id uuid NOT NULL
              CONSTRAINT template_likes_template_id_fkey REFERENCES prompt_lab.prompt_templates(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT template_likes_pkey PRIMARY KEY (user_id, template_id)
);
CREATE INDEX idx_template_likes_template_id ON prompt_lab.template_likes(template_id);

-- ---------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------

CREATE FUNCTION prompt_lab.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$$;

CREATE TRIGGER update_prompts_updated_at BEFORE UPDATE ON prompt_lab.prompts
  FOR EACH ROW EXECUTE FUNCTION prompt_lab.update_updated_at_column();
-- Only content edits move a template's updated_at, not likes or uses.
CREATE TRIGGER update_prompt_templates_updated_at
  BEFORE UPDATE OF prompt_id, user_id, category, tags ON prompt_lab.prompt_templates
  FOR EACH ROW EXECUTE FUNCTION prompt_lab.update_updated_at_column();

-- likes_count follows template_likes: +1 / -1 in one UPDATE (row lock, no lost
-- update). SECURITY DEFINER: users have no UPDATE right on the counter.
-- When the template itself is being deleted (cascade), the UPDATE finds no row.
CREATE FUNCTION prompt_lab.sync_template_likes_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE prompt_lab.prompt_templates
       SET likes_count = likes_count + 1
     WHERE id = NEW.template_id;
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE prompt_lab.prompt_templates
       SET likes_count = likes_count - 1
     WHERE id = OLD.template_id;
    RETURN OLD;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER template_likes_count_insert AFTER INSERT ON prompt_lab.template_likes
  FOR EACH ROW EXECUTE FUNCTION prompt_lab.sync_template_likes_count();
CREATE TRIGGER template_likes_count_delete AFTER DELETE ON prompt_lab.template_likes
  FOR EACH ROW EXECUTE FUNCTION prompt_lab.sync_template_likes_count();

-- A like row is never moved to another user or template (that would bypass
-- the counter); only service_role holds UPDATE, and this closes it too.
CREATE FUNCTION prompt_lab.forbid_template_likes_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.user_id, NEW.template_id) IS DISTINCT FROM (OLD.user_id, OLD.template_id) THEN
    RAISE EXCEPTION 'template_likes rows cannot be moved; delete and insert instead'
      USING ERRCODE = 'feature_not_supported';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER template_likes_forbid_move BEFORE UPDATE ON prompt_lab.template_likes
  FOR EACH ROW EXECUTE FUNCTION prompt_lab.forbid_template_likes_update();

-- ---------------------------------------------------------------------------
-- Row level security
-- ---------------------------------------------------------------------------
ALTER TABLE prompt_lab.prompts ENABLE ROW LEVEL SECURITY;
ALTER TABLE prompt_lab.prompt_answers ENABLE ROW LEVEL SECURITY;
ALTER TABLE prompt_lab.test_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE prompt_lab.prompt_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE prompt_lab.user_favorites ENABLE ROW LEVEL SECURITY;
ALTER TABLE prompt_lab.template_likes ENABLE ROW LEVEL SECURITY;

-- prompts: public ones are readable by everyone; the owner does everything.
CREATE POLICY prompts_select ON prompt_lab.prompts FOR SELECT TO anon, authenticated
  USING (is_public OR user_id = auth.uid());
CREATE POLICY prompts_insert ON prompt_lab.prompts FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid());
CREATE POLICY prompts_update ON prompt_lab.prompts FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY prompts_delete ON prompt_lab.prompts FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- prompt_answers: readable with their prompt (the subquery runs under the
-- viewer's prompts policy), written by the prompt's owner only.
CREATE POLICY prompt_answers_select ON prompt_lab.prompt_answers FOR SELECT TO anon, authenticated
  USING (EXISTS (SELECT 1 FROM prompt_lab.prompts p WHERE p.id = prompt_id));
CREATE POLICY prompt_answers_insert ON prompt_lab.prompt_answers FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM prompt_lab.prompts p
                      WHERE p.id = prompt_id AND p.user_id = auth.uid()));
CREATE POLICY prompt_answers_update ON prompt_lab.prompt_answers FOR UPDATE TO authenticated
  USING (EXISTS (SELECT 1 FROM prompt_lab.prompts p
                 WHERE p.id = prompt_id AND p.user_id = auth.uid()))
  WITH CHECK (EXISTS (SELECT 1 FROM prompt_lab.prompts p
                      WHERE p.id = prompt_id AND p.user_id = auth.uid()));
CREATE POLICY prompt_answers_delete ON prompt_lab.prompt_answers FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM prompt_lab.prompts p
                 WHERE p.id = prompt_id AND p.user_id = auth.uid()));

-- test_results: the tester's own rows, on prompts the tester can see (own or
-- public).
CREATE POLICY test_results_select ON prompt_lab.test_results FOR SELECT TO authenticated
  USING (user_id = auth.uid()
         AND EXISTS (SELECT 1 FROM prompt_lab.prompts p WHERE p.id = prompt_id));
CREATE POLICY test_results_insert ON prompt_lab.test_results FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid()
              AND EXISTS (SELECT 1 FROM prompt_lab.prompts p WHERE p.id = prompt_id));
CREATE POLICY test_results_update ON prompt_lab.test_results FOR UPDATE TO authenticated
  USING (user_id = auth.uid())
  WITH CHECK (user_id = auth.uid()
              AND EXISTS (SELECT 1 FROM prompt_lab.prompts p WHERE p.id = prompt_id));
CREATE POLICY test_results_delete ON prompt_lab.test_results FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- prompt_templates: published (prompt is public) templates are readable by
-- everyone, unpublished ones by their author; the author writes.
CREATE POLICY prompt_templates_select ON prompt_lab.prompt_templates FOR SELECT TO anon, authenticated
  USING (user_id = auth.uid()
         OR EXISTS (SELECT 1 FROM prompt_lab.prompts p WHERE p.id = prompt_id AND p.is_public));
CREATE POLICY prompt_templates_insert ON prompt_lab.prompt_templates FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid()
              AND EXISTS (SELECT 1 FROM prompt_lab.prompts p
                          WHERE p.id = prompt_id AND p.user_id = auth.uid()));
CREATE POLICY prompt_templates_update ON prompt_lab.prompt_templates FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY prompt_templates_delete ON prompt_lab.prompt_templates FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- user_favorites / template_likes: own rows only; new rows only of templates
-- the viewer can see (the subquery runs under the prompt_templates policy).
-- Reading and deleting one's own rows stays possible after the template was
-- unpublished, so a user can always withdraw a like or a favorite (the rows
-- carry ids only; the template itself stays hidden).
CREATE POLICY user_favorites_select ON prompt_lab.user_favorites FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY user_favorites_insert ON prompt_lab.user_favorites FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid()
              AND EXISTS (SELECT 1 FROM prompt_lab.prompt_templates t WHERE t.id = template_id));
CREATE POLICY user_favorites_update ON prompt_lab.user_favorites FOR UPDATE TO authenticated
  USING (false) WITH CHECK (false);
CREATE POLICY user_favorites_delete ON prompt_lab.user_favorites FOR DELETE TO authenticated
  USING (user_id = auth.uid());

CREATE POLICY template_likes_select ON prompt_lab.template_likes FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY template_likes_insert ON prompt_lab.template_likes FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid()
              AND EXISTS (SELECT 1 FROM prompt_lab.prompt_templates t WHERE t.id = template_id));
CREATE POLICY template_likes_update ON prompt_lab.template_likes FOR UPDATE TO authenticated
  USING (false) WITH CHECK (false);
CREATE POLICY template_likes_delete ON prompt_lab.template_likes FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- ---------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------

-- Like a template as the viewer. Idempotent: a second call does nothing (the
-- (user_id, template_id) key), and likes_count moves by the trigger only.
-- Returns the template's likes_count afterwards. Raises no_data_found for a
-- template the viewer cannot see (or that does not exist).
CREATE FUNCTION prompt_lab.increment_likes_count(p_template_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = '' AS $$
DECLARE
  v_count integer;
BEGIN
  IF auth.uid() IS NULL THEN
    RAISE EXCEPTION 'sign in to like a template' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM prompt_lab.prompt_templates t WHERE t.id = p_template_id) THEN
    RAISE EXCEPTION 'template % not found', p_template_id USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO prompt_lab.template_likes (user_id, template_id)
  VALUES (auth.uid(), p_template_id)
  ON CONFLICT ON CONSTRAINT template_likes_pkey DO NOTHING;
  SELECT t.likes_count INTO v_count FROM prompt_lab.prompt_templates t WHERE t.id = p_template_id;
  RETURN v_count;
END
$$;

-- Withdraw the viewer's like. Idempotent, and allowed on a template that is
-- no longer visible (unpublished since the like). Returns likes_count
-- afterwards, or NULL when the viewer cannot see the template.
CREATE FUNCTION prompt_lab.decrement_likes_count(p_template_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = '' AS $$
DECLARE
  v_count integer;
BEGIN
  IF auth.uid() IS NULL THEN
    RAISE EXCEPTION 'sign in to unlike a template' USING ERRCODE = 'insufficient_privilege';
  END IF;
  DELETE FROM prompt_lab.template_likes l
   WHERE l.user_id = auth.uid() AND l.template_id = p_template_id;
  SELECT t.likes_count INTO v_count FROM prompt_lab.prompt_templates t WHERE t.id = p_template_id;
  RETURN v_count;
END
$$;

-- Count one use of a template. SECURITY DEFINER because users have no UPDATE
-- right on uses_count; it therefore re-checks the visibility rule of the
-- prompt_templates_select policy itself (RLS does not apply to the owner).
-- Returns uses_count afterwards.
CREATE FUNCTION prompt_lab.increment_uses_count(p_template_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_count integer;
BEGIN
  IF auth.uid() IS NULL AND NOT auth.is_service_role() THEN
    RAISE EXCEPTION 'sign in to use a template' USING ERRCODE = 'insufficient_privilege';
  END IF;
  UPDATE prompt_lab.prompt_templates t
     SET uses_count = t.uses_count + 1
   WHERE t.id = p_template_id
     AND (auth.is_service_role()
          OR t.user_id = auth.uid()
          OR EXISTS (SELECT 1 FROM prompt_lab.prompts p WHERE p.id = t.prompt_id AND p.is_public))
  RETURNING t.uses_count INTO v_count;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'template % not found', p_template_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_count;
END
$$;

-- Most liked, then most used templates the viewer can see (SECURITY INVOKER:
-- RLS decides), optionally of one category. A NULL or blank category_filter
-- means every category, including templates without one. limit_count is
-- clamped to 0..100 (NULL means 10). Ties break on id, so pages are stable.
CREATE FUNCTION prompt_lab.get_popular_templates(
  limit_count integer DEFAULT 10,
  category_filter varchar DEFAULT NULL
)
RETURNS TABLE (
  id uuid,
  title varchar,
  goal text,
  category varchar,
  likes_count integer,
  uses_count integer
)
LANGUAGE sql STABLE SECURITY INVOKER ROWS 10 SET search_path = '' AS $$
  SELECT pt.id, p.title, p.goal, pt.category, pt.likes_count, pt.uses_count
  FROM prompt_lab.prompt_templates pt
  JOIN prompt_lab.prompts p ON p.id = pt.prompt_id
  WHERE nullif(btrim(category_filter), '') IS NULL
     OR pt.category = btrim(category_filter)
  ORDER BY pt.likes_count DESC, pt.uses_count DESC, pt.id
  LIMIT least(greatest(coalesce(limit_count, 10), 0), 100)
$$;

-- Case-insensitive substring search of the templates the viewer can see, on
-- the prompt's title or goal, optionally in one category. The query is data:
-- \ % _ are escaped before it becomes an ILIKE pattern, which is bound as a
-- parameter, never spliced into SQL text. NULL or blank query means no text
-- filter. Same ordering and limit rule as get_popular_templates (default 20,
-- as the seed's client). PL/pgSQL with one statement per case so the text
-- search is planned as `title ILIKE $pattern OR goal ILIKE $pattern`, which the
-- trigram indexes serve (a "pattern IS NULL OR ..." form would not use them).
CREATE FUNCTION prompt_lab.search_templates(
  p_query text,
  p_category text DEFAULT NULL,
  p_limit integer DEFAULT 20
)
RETURNS TABLE (
  id uuid,
  prompt_id uuid,
  user_id uuid,
  title varchar,
  goal text,
  template text,
  category varchar,
  tags text[],
  likes_count integer,
  uses_count integer,
  created_at timestamptz,
  updated_at timestamptz
)
LANGUAGE plpgsql STABLE SECURITY INVOKER ROWS 20 SET search_path = '' AS $$
DECLARE
  v_query    text := nullif(btrim(p_query), '');
  v_category text := nullif(btrim(p_category), '');
  v_limit    integer := least(greatest(coalesce(p_limit, 20), 0), 100);
  v_pattern  text;
BEGIN
  IF v_query IS NULL THEN
    RETURN QUERY
    SELECT pt.id, pt.prompt_id, pt.user_id, p.title, p.goal, p.template, pt.category, pt.tags,
           pt.likes_count, pt.uses_count, pt.created_at, pt.updated_at
    FROM prompt_lab.prompt_templates pt
    JOIN prompt_lab.prompts p ON p.id = pt.prompt_id
    WHERE (v_category IS NULL OR pt.category = v_category)
    ORDER BY pt.likes_count DESC, pt.uses_count DESC, pt.id
    LIMIT v_limit;
  ELSE
    v_pattern := '%' || replace(replace(replace(v_query, '\', '\\'), '%', '\%'), '_', '\_') || '%';
    RETURN QUERY
    SELECT pt.id, pt.prompt_id, pt.user_id, p.title, p.goal, p.template, pt.category, pt.tags,
           pt.likes_count, pt.uses_count, pt.created_at, pt.updated_at
    FROM prompt_lab.prompt_templates pt
    JOIN prompt_lab.prompts p ON p.id = pt.prompt_id
    WHERE (p.title ILIKE v_pattern OR p.goal ILIKE v_pattern)
      AND (v_category IS NULL OR pt.category = v_category)
    ORDER BY pt.likes_count DESC, pt.uses_count DESC, pt.id
    LIMIT v_limit;
  END IF;
END
$$;

-- Create a prompt and its clarifying answers in one statement: all or
-- nothing. The owner is the viewer (no user id parameter to forge). Answers
-- are either an object {question_id: answer} (the seed client's shape;
-- question_text = question_id) or an array of
-- {question_id, question_text?, answer} objects.
CREATE FUNCTION prompt_lab.create_prompt_with_answers(
  p_title text,
  p_goal text,
  p_template text,
  p_variables jsonb DEFAULT '[]'::jsonb,
  p_is_public boolean DEFAULT false,
  p_answers jsonb DEFAULT '[]'::jsonb
)
RETURNS prompt_lab.prompts
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = '' AS $$
DECLARE
  v_prompt prompt_lab.prompts;
BEGIN
  IF auth.uid() IS NULL THEN
    RAISE EXCEPTION 'sign in to create a prompt' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_answers IS NOT NULL AND jsonb_typeof(p_answers) NOT IN ('object', 'array') THEN
    RAISE EXCEPTION 'answers must be a JSON object or array' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO prompt_lab.prompts (user_id, title, goal, template, variables, is_public)
  VALUES (auth.uid(), p_title, p_goal, p_template,
          coalesce(p_variables, '[]'::jsonb), coalesce(p_is_public, false))
  RETURNING * INTO v_prompt;

  IF jsonb_typeof(p_answers) = 'object' THEN
    IF EXISTS (SELECT 1 FROM jsonb_each(p_answers) e WHERE jsonb_typeof(e.value) <> 'string') THEN
      RAISE EXCEPTION 'every answer must be a string' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO prompt_lab.prompt_answers (prompt_id, question_id, question_text, answer)
    SELECT v_prompt.id, e.key, e.key, e.value
    FROM jsonb_each_text(p_answers) e;
  ELSIF jsonb_typeof(p_answers) = 'array' THEN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_answers) a WHERE jsonb_typeof(a.value) <> 'object') THEN
      RAISE EXCEPTION 'every answer must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO prompt_lab.prompt_answers (prompt_id, question_id, question_text, answer)
    SELECT v_prompt.id,
           a.value ->> 'question_id',
           coalesce(a.value ->> 'question_text', a.value ->> 'question_id'),
           a.value ->> 'answer'
    FROM jsonb_array_elements(p_answers) WITH ORDINALITY AS a(value, n)
    ORDER BY a.n;
  END IF;

  RETURN v_prompt;
END
$$;

-- ---------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------

-- Public author card of published templates. The controlled exposure of this
-- schema: it runs with the view owner's rights (no security_invoker), because
-- public.users is only visible to oneself and workspace co-members, yet anyone
-- browsing templates must see who wrote them. It exposes id, full_name and
-- avatar_url only (never email), and only of users with at least one template
-- whose prompt is public. security_barrier keeps viewer-supplied predicates
-- from being evaluated on rows the view filters out.
CREATE VIEW prompt_lab.template_authors WITH (security_barrier = true) AS
SELECT u.id, u.full_name, u.avatar_url
FROM public.users u
WHERE EXISTS (
  SELECT 1
  FROM prompt_lab.prompt_templates t
  JOIN prompt_lab.prompts p ON p.id = t.prompt_id
  WHERE t.user_id = u.id AND p.is_public
);

-- ---------------------------------------------------------------------------
-- Grants
-- ---------------------------------------------------------------------------

-- anon: read what is public.
GRANT SELECT ON prompt_lab.prompts, prompt_lab.prompt_answers, prompt_lab.prompt_templates
  TO anon;

-- authenticated: ownership (user_id, prompt_id, template_id), counters and
-- timestamps are not writable after insert; counters not even on insert.
GRANT SELECT, DELETE ON prompt_lab.prompts TO authenticated;
GRANT INSERT (id, user_id, title, goal, template, variables, is_public) ON prompt_lab.prompts TO authenticated;
GRANT UPDATE (title, goal, template, variables, is_public) ON prompt_lab.prompts TO authenticated;

GRANT SELECT, DELETE ON prompt_lab.prompt_answers TO authenticated;
GRANT INSERT (id, prompt_id, question_id, question_text, answer) ON prompt_lab.prompt_answers TO authenticated;
GRANT UPDATE (question_text, answer) ON prompt_lab.prompt_answers TO authenticated;

GRANT SELECT, DELETE ON prompt_lab.test_results TO authenticated;
GRANT INSERT (id, prompt_id, user_id, model, temperature, variable_values, resolved_prompt,
              result, tokens_used, response_time_ms) ON prompt_lab.test_results TO authenticated;
GRANT UPDATE (result, tokens_used, response_time_ms) ON prompt_lab.test_results TO authenticated;

GRANT SELECT, DELETE ON prompt_lab.prompt_templates TO authenticated;
GRANT INSERT (id, prompt_id, user_id, category, tags) ON prompt_lab.prompt_templates TO authenticated;
GRANT UPDATE (category, tags) ON prompt_lab.prompt_templates TO authenticated;

GRANT SELECT, DELETE ON prompt_lab.user_favorites, prompt_lab.template_likes TO authenticated;
GRANT INSERT (user_id, template_id) ON prompt_lab.user_favorites, prompt_lab.template_likes TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON prompt_lab.prompts, prompt_lab.prompt_answers,
  prompt_lab.test_results, prompt_lab.prompt_templates, prompt_lab.user_favorites,
  prompt_lab.template_likes TO service_role;

GRANT SELECT ON prompt_lab.template_authors TO anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION prompt_lab.get_popular_templates(integer, varchar),
  prompt_lab.search_templates(text, text, integer)
  TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION prompt_lab.increment_likes_count(uuid),
  prompt_lab.decrement_likes_count(uuid),
  prompt_lab.increment_uses_count(uuid),
  prompt_lab.create_prompt_with_answers(text, text, text, jsonb, boolean, jsonb)
  TO authenticated, service_role;
