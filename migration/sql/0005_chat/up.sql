-- Chat (seed 003): profiles synced from auth.users, activity log, chat
-- sessions and messages, daily usage, model access by tier, cache and stats,
-- the api_user_summary view and the functions the chat API calls.
-- The seed puts everything in `public`; here it all lives in `chat` (same
-- names). Deviations from the seed: docs/seed-deviations.md.

CREATE SCHEMA chat;
GRANT USAGE ON SCHEMA chat TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

-- One row per auth user, created and kept in sync by on_auth_user_profile_sync.
CREATE TABLE chat.profiles (
  id                uuid NOT NULL,
  email             varchar(255) NOT NULL,
  full_name         varchar(255),
  avatar_url        text,
  subscription_tier varchar(20) NOT NULL DEFAULT 'free',
  -- Sections ui / session / model; update_user_preferences deep-merges into them.
  preferences       jsonb NOT NULL DEFAULT '{"ui": {}, "session": {}, "model": {}}'::jsonb,
  -- Lifetime totals kept by track_user_usage (survive cleanup of daily rows).
  usage_stats       jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_active       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT profiles_pkey PRIMARY KEY (id),
  CONSTRAINT profiles_id_fkey FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE,
  CONSTRAINT profiles_subscription_tier_check CHECK (subscription_tier IN ('free', 'pro', 'enterprise')),
  CONSTRAINT profiles_preferences_check CHECK (jsonb_typeof(preferences) = 'object'),
  CONSTRAINT profiles_usage_stats_check CHECK (jsonb_typeof(usage_stats) = 'object')
);
CREATE INDEX idx_profiles_email ON chat.profiles(email);
CREATE INDEX idx_profiles_last_active ON chat.profiles(last_active);
CREATE INDEX idx_profiles_subscription_tier ON chat.profiles(subscription_tier);

-- Audit trail of what a user did (and what the system did to their profile).
CREATE TABLE chat.user_activity_log (
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL,
  action      varchar(100) NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- The client's conversation id the action was about, if any.
  session_id  text,
  ip_address  inet,
  user_agent  text,
  "timestamp" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_activity_log_pkey PRIMARY KEY (id),
  CONSTRAINT user_activity_log_user_id_fkey FOREIGN KEY (user_id) REFERENCES chat.profiles(id) ON DELETE CASCADE,
  CONSTRAINT user_activity_log_action_check CHECK (length(btrim(action)) > 0),
  CONSTRAINT user_activity_log_details_check CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX idx_activity_log_user_id ON chat.user_activity_log(user_id);
CREATE INDEX idx_activity_log_timestamp ON chat.user_activity_log("timestamp");
CREATE INDEX idx_activity_log_action ON chat.user_activity_log(action);

-- A conversation. `client_id` is the id the frontend gave it (the sync key);
-- it is unique per user only, so user B can never collide with (or probe)
-- user A's ids. `id` is the server key children reference.
CREATE TABLE chat.chat_sessions (
  id                     uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id                uuid NOT NULL,
  client_id              text NOT NULL,
  title                  varchar(255) NOT NULL DEFAULT 'New Chat',
  is_active              boolean NOT NULL DEFAULT true,
  -- Maintained by update_session_stats(); not user-writable.
  message_count          integer NOT NULL DEFAULT 0,
  total_tokens           bigint NOT NULL DEFAULT 0,
  last_model             varchar(100),
  last_message_preview   text,
  last_message_timestamp timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  last_activity          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chat_sessions_pkey PRIMARY KEY (id),
  CONSTRAINT chat_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES chat.profiles(id) ON DELETE CASCADE,
  CONSTRAINT chat_sessions_user_id_client_id_key UNIQUE (user_id, client_id),
  -- Target of the messages' composite FK: a message's user is its session's user.
  CONSTRAINT chat_sessions_id_user_id_key UNIQUE (id, user_id),
  CONSTRAINT chat_sessions_client_id_check CHECK (length(btrim(client_id)) BETWEEN 1 AND 255),
  CONSTRAINT chat_sessions_title_check CHECK (length(btrim(title)) > 0),
  CONSTRAINT chat_sessions_message_count_check CHECK (message_count >= 0),
  CONSTRAINT chat_sessions_total_tokens_check CHECK (total_tokens >= 0)
);
CREATE INDEX idx_chat_sessions_user_id ON chat.chat_sessions(user_id);
CREATE INDEX idx_chat_sessions_updated_at ON chat.chat_sessions(updated_at DESC);
CREATE INDEX idx_chat_sessions_user_updated ON chat.chat_sessions(user_id, updated_at DESC);

-- One message of a conversation. `client_id` is the frontend's message id,
-- unique within its session, so re-syncing the same message updates it.
CREATE TABLE chat.chat_messages (
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  session_id        uuid NOT NULL,
  user_id           uuid NOT NULL,
  client_id         text NOT NULL,
  role              varchar(20) NOT NULL,
  content           text NOT NULL,
  model             varchar(100),
  input_tokens      integer NOT NULL DEFAULT 0,
  output_tokens     integer NOT NULL DEFAULT 0,
  total_tokens      integer NOT NULL GENERATED ALWAYS AS (input_tokens + output_tokens) STORED,
  -- The provider's completion id (assistant messages).
  completion_id     varchar(255),
  -- client_id of the user message an assistant message answers.
  user_message_id   text,
  elapsed_ms        integer,
  has_error         boolean NOT NULL DEFAULT false,
  error_message     text,
  message_timestamp timestamptz NOT NULL DEFAULT now(),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chat_messages_pkey PRIMARY KEY (id),
  CONSTRAINT chat_messages_session_id_fkey FOREIGN KEY (session_id, user_id)
    REFERENCES chat.chat_sessions(id, user_id) ON DELETE CASCADE,
  CONSTRAINT chat_messages_session_id_client_id_key UNIQUE (session_id, client_id),
  CONSTRAINT chat_messages_client_id_check CHECK (length(btrim(client_id)) BETWEEN 1 AND 255),
  CONSTRAINT chat_messages_role_check CHECK (role IN ('user', 'assistant', 'system')),
  CONSTRAINT chat_messages_input_tokens_check CHECK (input_tokens >= 0),
  CONSTRAINT chat_messages_output_tokens_check CHECK (output_tokens >= 0),
  CONSTRAINT chat_messages_elapsed_ms_check CHECK (elapsed_ms IS NULL OR elapsed_ms >= 0)
);
CREATE INDEX idx_chat_messages_session_id ON chat.chat_messages(session_id);
CREATE INDEX idx_chat_messages_timestamp ON chat.chat_messages(message_timestamp);
CREATE INDEX idx_chat_messages_session_timestamp ON chat.chat_messages(session_id, message_timestamp);
CREATE INDEX idx_chat_messages_completion_id ON chat.chat_messages(completion_id);
CREATE INDEX idx_chat_messages_user_message_id ON chat.chat_messages(user_message_id)
  WHERE user_message_id IS NOT NULL;
CREATE INDEX idx_chat_messages_tokens_role ON chat.chat_messages(role, input_tokens, output_tokens)
  WHERE input_tokens > 0 OR output_tokens > 0;
-- RLS filters messages by user_id; export reads them per user.
CREATE INDEX idx_chat_messages_user_id ON chat.chat_messages(user_id);

-- Per-user, per-day (UTC) usage, accumulated by track_user_usage().
CREATE TABLE chat.user_usage_daily (
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id           uuid NOT NULL,
  usage_date        date NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
  messages_sent     integer NOT NULL DEFAULT 0,
  messages_received integer NOT NULL DEFAULT 0,
  input_tokens      bigint NOT NULL DEFAULT 0,
  output_tokens     bigint NOT NULL DEFAULT 0,
  total_tokens      bigint NOT NULL GENERATED ALWAYS AS (input_tokens + output_tokens) STORED,
  -- Distinct model ids used that day, sorted.
  models_used       text[] NOT NULL DEFAULT '{}',
  sessions_created  integer NOT NULL DEFAULT 0,
  active_minutes    integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_usage_daily_pkey PRIMARY KEY (id),
  CONSTRAINT user_usage_daily_user_id_fkey FOREIGN KEY (user_id) REFERENCES chat.profiles(id) ON DELETE CASCADE,
  CONSTRAINT user_usage_daily_user_id_usage_date_key UNIQUE (user_id, usage_date),
  CONSTRAINT user_usage_daily_counts_check CHECK (
    messages_sent >= 0 AND messages_received >= 0 AND input_tokens >= 0 AND output_tokens >= 0
    AND sessions_created >= 0 AND active_minutes >= 0)
);
CREATE INDEX idx_usage_daily_user_date ON chat.user_usage_daily(user_id, usage_date DESC);
CREATE INDEX idx_usage_daily_date ON chat.user_usage_daily(usage_date DESC);

-- Which models each subscription tier may use. Tiers are cumulative: a tier
-- may use the models of every tier below it.
CREATE TABLE chat.model_access (
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  model_id          varchar(100) NOT NULL,
  model_name        varchar(255) NOT NULL,
  model_description text,
  tier              varchar(20) NOT NULL,
  is_active         boolean NOT NULL DEFAULT true,
  -- Message limits for this tier on this model; NULL means unlimited.
  daily_limit       integer,
  monthly_limit     integer,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_access_pkey PRIMARY KEY (id),
  CONSTRAINT model_access_model_id_tier_key UNIQUE (model_id, tier),
  CONSTRAINT model_access_tier_check CHECK (tier IN ('free', 'pro', 'enterprise')),
  CONSTRAINT model_access_model_id_check CHECK (length(btrim(model_id)) > 0),
  CONSTRAINT model_access_limits_check CHECK (
    (daily_limit IS NULL OR daily_limit > 0) AND (monthly_limit IS NULL OR monthly_limit > 0))
);
CREATE INDEX idx_model_access_tier ON chat.model_access(tier, is_active);
CREATE INDEX idx_model_access_model_id ON chat.model_access(model_id, is_active);
CREATE TRIGGER update_model_access_updated_at BEFORE UPDATE ON chat.model_access
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

INSERT INTO chat.model_access (model_id, model_name, model_description, tier, daily_limit, monthly_limit) VALUES
  ('deepseek/deepseek-r1-0528:free', 'DeepSeek R1 (free)', 'Reasoning model, free route', 'free', 50, 1000),
  ('google/gemini-2.0-flash-exp:free', 'Gemini 2.0 Flash (free)', 'Fast multimodal model, free route', 'free', 50, 1000),
  ('openai/gpt-4o-mini', 'GPT-4o mini', 'Small, fast OpenAI model', 'pro', 500, 10000),
  ('anthropic/claude-3-haiku', 'Claude 3 Haiku', 'Fast Anthropic model', 'pro', 500, 10000),
  ('deepseek/deepseek-r1-0528:free', 'DeepSeek R1 (free)', 'Reasoning model, free route', 'pro', 500, 10000),
  ('openai/gpt-4o', 'GPT-4o', 'Flagship OpenAI model', 'enterprise', NULL, NULL),
  ('anthropic/claude-3.5-sonnet', 'Claude 3.5 Sonnet', 'Flagship Anthropic model', 'enterprise', NULL, NULL);

-- Service-side key/value cache.
CREATE TABLE chat.system_cache (
  key        varchar(255) NOT NULL,
  value      jsonb NOT NULL,
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT system_cache_pkey PRIMARY KEY (key),
  CONSTRAINT system_cache_key_check CHECK (length(btrim(key)) > 0)
);
CREATE INDEX idx_system_cache_expires ON chat.system_cache(expires_at) WHERE expires_at IS NOT NULL;
CREATE TRIGGER update_system_cache_updated_at BEFORE UPDATE ON chat.system_cache
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- One row of system-wide figures per day (written by the service).
CREATE TABLE chat.system_stats (
  id                 uuid NOT NULL DEFAULT gen_random_uuid(),
  stat_date          date NOT NULL,
  total_users        integer NOT NULL DEFAULT 0,
  active_users       integer NOT NULL DEFAULT 0,
  new_users          integer NOT NULL DEFAULT 0,
  total_sessions     integer NOT NULL DEFAULT 0,
  total_messages     bigint NOT NULL DEFAULT 0,
  total_tokens       bigint NOT NULL DEFAULT 0,
  details            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT system_stats_pkey PRIMARY KEY (id),
  CONSTRAINT system_stats_stat_date_key UNIQUE (stat_date),
  CONSTRAINT system_stats_counts_check CHECK (
    total_users >= 0 AND active_users >= 0 AND new_users >= 0 AND total_sessions >= 0
    AND total_messages >= 0 AND total_tokens >= 0)
);
CREATE INDEX idx_system_stats_date ON chat.system_stats(stat_date DESC);

-- ---------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------

-- Rank of a subscription tier (free < pro < enterprise); NULL when unknown.
CREATE FUNCTION chat.tier_rank(p_tier text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE p_tier WHEN 'free' THEN 1 WHEN 'pro' THEN 2 WHEN 'enterprise' THEN 3 END
$$;

-- Recursive merge of two JSON objects: keys of p_b win, except that when both
-- sides hold an object under the same key, those objects are merged in turn.
-- Anything that is not object-with-object yields p_b (arrays are replaced).
CREATE FUNCTION chat.jsonb_deep_merge(p_a jsonb, p_b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_result jsonb;
  v_key    text;
  v_value  jsonb;
BEGIN
  IF p_a IS NULL THEN
    RETURN p_b;
  END IF;
  IF p_b IS NULL THEN
    RETURN p_a;
  END IF;
  IF jsonb_typeof(p_a) <> 'object' OR jsonb_typeof(p_b) <> 'object' THEN
    RETURN p_b;
  END IF;
  v_result := p_a;
  FOR v_key, v_value IN SELECT e.key, e.value FROM jsonb_each(p_b) AS e LOOP
    IF jsonb_typeof(v_result -> v_key) = 'object' AND jsonb_typeof(v_value) = 'object' THEN
      v_result := v_result || jsonb_build_object(v_key, chat.jsonb_deep_merge(v_result -> v_key, v_value));
    ELSE
      v_result := v_result || jsonb_build_object(v_key, v_value);
    END IF;
  END LOOP;
  RETURN v_result;
END
$$;

-- Internal: append to the activity log. Only SECURITY DEFINER functions of
-- this schema call it (no EXECUTE grant to any API role).
CREATE FUNCTION chat.write_activity_log(
  p_user_id uuid, p_action text, p_details jsonb DEFAULT '{}'::jsonb,
  p_session_id text DEFAULT NULL, p_ip_address inet DEFAULT NULL, p_user_agent text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  INSERT INTO chat.user_activity_log (user_id, action, details, session_id, ip_address, user_agent)
  VALUES (p_user_id, p_action, coalesce(p_details, '{}'::jsonb), p_session_id, p_ip_address, p_user_agent)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- ---------------------------------------------------------------------------
-- Trigger functions
-- ---------------------------------------------------------------------------

-- BEFORE INSERT OR UPDATE on profiles: stamps updated_at, and on insert fills
-- in the preference sections and the lifetime usage counters.
CREATE FUNCTION chat.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  IF TG_OP = 'INSERT' THEN
    NEW.preferences := chat.jsonb_deep_merge(
      '{"ui": {}, "session": {}, "model": {}}'::jsonb, coalesce(NEW.preferences, '{}'::jsonb));
    NEW.usage_stats := jsonb_build_object(
      'messages_sent', 0, 'messages_received', 0, 'input_tokens', 0, 'output_tokens', 0,
      'total_tokens', 0, 'sessions_created', 0, 'active_minutes', 0
    ) || coalesce(NEW.usage_stats, '{}'::jsonb);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER update_profiles_updated_at BEFORE INSERT OR UPDATE ON chat.profiles
  FOR EACH ROW EXECUTE FUNCTION chat.update_updated_at_column();

-- AFTER INSERT OR UPDATE on auth.users. First sign-in creates the profile and
-- logs profile_created; a returning sign-in syncs email, name, avatar and
-- last_active, and logs profile_synced when the email changed or no
-- profile_synced was logged in the last hour (so frequent token refreshes do
-- not flood the log).
CREATE FUNCTION chat.handle_user_profile_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_full_name  text := coalesce(NEW.raw_user_meta_data ->> 'full_name', NEW.raw_user_meta_data ->> 'name');
  v_avatar_url text := coalesce(NEW.raw_user_meta_data ->> 'avatar_url', NEW.raw_user_meta_data ->> 'picture');
  v_old        chat.profiles%ROWTYPE;
  v_inserted   boolean;
BEGIN
  SELECT * INTO v_old FROM chat.profiles p WHERE p.id = NEW.id FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO chat.profiles (id, email, full_name, avatar_url, last_active)
    VALUES (NEW.id, NEW.email, v_full_name, v_avatar_url, now())
    ON CONFLICT ON CONSTRAINT profiles_pkey DO NOTHING
    RETURNING true INTO v_inserted;
    IF coalesce(v_inserted, false) THEN
      PERFORM chat.write_activity_log(NEW.id, 'profile_created',
        jsonb_build_object('email', NEW.email, 'source', lower(TG_OP)));
    END IF;
    RETURN NEW;
  END IF;

  UPDATE chat.profiles p SET
    email       = NEW.email,
    full_name   = coalesce(v_full_name, p.full_name),
    avatar_url  = coalesce(v_avatar_url, p.avatar_url),
    last_active = now()
  WHERE p.id = NEW.id;

  IF v_old.email IS DISTINCT FROM NEW.email
     OR NOT EXISTS (
       SELECT 1 FROM chat.user_activity_log l
       WHERE l.user_id = NEW.id AND l.action = 'profile_synced'
         AND l."timestamp" > now() - interval '1 hour')
  THEN
    PERFORM chat.write_activity_log(NEW.id, 'profile_synced', jsonb_build_object(
      'email_changed', v_old.email IS DISTINCT FROM NEW.email,
      'previous_email', v_old.email,
      'email', NEW.email));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER on_auth_user_profile_sync AFTER INSERT OR UPDATE ON auth.users
  FOR EACH ROW EXECUTE FUNCTION chat.handle_user_profile_sync();

-- AFTER INSERT OR UPDATE OR DELETE on chat_messages: keeps the session's
-- message_count / total_tokens (as +/- deltas in one UPDATE, so concurrent
-- writers never lose a count) and its last message preview/timestamp/model.
-- When the session itself is being deleted (cascade), its row is already
-- gone and the UPDATE simply matches nothing.
CREATE FUNCTION chat.update_session_stats() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE chat.chat_sessions s SET
      message_count = s.message_count + 1,
      total_tokens  = s.total_tokens + NEW.total_tokens,
      last_message_preview = CASE
        WHEN s.last_message_timestamp IS NULL OR NEW.message_timestamp >= s.last_message_timestamp
        THEN left(NEW.content, 100) ELSE s.last_message_preview END,
      last_model = CASE
        WHEN NEW.model IS NOT NULL
             AND (s.last_message_timestamp IS NULL OR NEW.message_timestamp >= s.last_message_timestamp)
        THEN NEW.model ELSE s.last_model END,
      last_message_timestamp = greatest(s.last_message_timestamp, NEW.message_timestamp)
    WHERE s.id = NEW.session_id;
    RETURN NULL;
  END IF;

  IF TG_OP = 'UPDATE' AND NEW.session_id IS NOT DISTINCT FROM OLD.session_id THEN
    IF NEW.total_tokens = OLD.total_tokens AND NEW.content = OLD.content
       AND NEW.message_timestamp = OLD.message_timestamp
       AND NEW.model IS NOT DISTINCT FROM OLD.model THEN
      RETURN NULL;
    END IF;
    UPDATE chat.chat_sessions s SET
      total_tokens = s.total_tokens + NEW.total_tokens - OLD.total_tokens
    WHERE s.id = NEW.session_id;
  ELSE
    -- DELETE, or a message moved to another session (service role only):
    -- leave the old session, then enter the new one.
    UPDATE chat.chat_sessions s SET
      message_count = s.message_count - 1,
      total_tokens  = s.total_tokens - OLD.total_tokens
    WHERE s.id = OLD.session_id;
    IF TG_OP = 'UPDATE' THEN
      UPDATE chat.chat_sessions s SET
        message_count = s.message_count + 1,
        total_tokens  = s.total_tokens + NEW.total_tokens
      WHERE s.id = NEW.session_id;
      PERFORM chat.refresh_session_last_message(NEW.session_id);
    END IF;
  END IF;
  PERFORM chat.refresh_session_last_message(OLD.session_id);
  RETURN NULL;
END
$$;

-- Internal: recompute a session's last message preview / timestamp / model
-- from its remaining messages (after a delete or an edit).
CREATE FUNCTION chat.refresh_session_last_message(p_session_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  UPDATE chat.chat_sessions s SET
    last_message_preview = (
      SELECT left(m.content, 100) FROM chat.chat_messages m WHERE m.session_id = s.id
      ORDER BY m.message_timestamp DESC, m.created_at DESC, m.id DESC LIMIT 1),
    last_message_timestamp = (
      SELECT max(m.message_timestamp) FROM chat.chat_messages m WHERE m.session_id = s.id),
    last_model = (
      SELECT m.model FROM chat.chat_messages m WHERE m.session_id = s.id AND m.model IS NOT NULL
      ORDER BY m.message_timestamp DESC, m.created_at DESC, m.id DESC LIMIT 1)
  WHERE s.id = p_session_id;
$$;

CREATE TRIGGER on_message_change AFTER INSERT OR UPDATE OR DELETE ON chat.chat_messages
  FOR EACH ROW EXECUTE FUNCTION chat.update_session_stats();

-- BEFORE UPDATE on chat_sessions: any change (rename, new message stats)
-- counts as activity.
CREATE FUNCTION chat.update_session_timestamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  NEW.last_activity := now();
  RETURN NEW;
END
$$;
CREATE TRIGGER on_session_updated BEFORE UPDATE ON chat.chat_sessions
  FOR EACH ROW EXECUTE FUNCTION chat.update_session_timestamp();

-- ---------------------------------------------------------------------------
-- API functions
-- ---------------------------------------------------------------------------

-- Logs an activity of the caller (or, for the service role, of any user).
-- Action names the system itself writes are reserved to the service role so
-- the audit trail cannot be forged by its subject.
CREATE FUNCTION chat.log_user_activity(
  p_user_id uuid, p_action varchar, p_details jsonb DEFAULT '{}'::jsonb,
  p_session_id text DEFAULT NULL, p_ip_address inet DEFAULT NULL, p_user_agent text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_user(p_user_id);
  IF p_action IN ('profile_created', 'profile_synced', 'tier_updated', 'preferences_updated')
     AND NOT auth.is_service_role() THEN
    RAISE EXCEPTION 'action % is reserved to the system', p_action
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_details IS NOT NULL AND jsonb_typeof(p_details) <> 'object' THEN
    RAISE EXCEPTION 'details must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN chat.write_activity_log(p_user_id, p_action, p_details, p_session_id, p_ip_address, p_user_agent);
END
$$;

-- Re-reads email / name / avatar from auth.users into the profile (creating
-- it if missing) and returns the profile.
CREATE FUNCTION chat.sync_profile_from_auth(p_user_id uuid) RETURNS chat.profiles
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_user    auth.users%ROWTYPE;
  v_profile chat.profiles%ROWTYPE;
BEGIN
  PERFORM auth.require_user(p_user_id);
  SELECT * INTO v_user FROM auth.users u WHERE u.id = p_user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user % not found', p_user_id USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO chat.profiles AS p (id, email, full_name, avatar_url, last_active)
  VALUES (
    v_user.id, v_user.email,
    coalesce(v_user.raw_user_meta_data ->> 'full_name', v_user.raw_user_meta_data ->> 'name'),
    coalesce(v_user.raw_user_meta_data ->> 'avatar_url', v_user.raw_user_meta_data ->> 'picture'),
    now())
  ON CONFLICT ON CONSTRAINT profiles_pkey DO UPDATE SET
    email      = EXCLUDED.email,
    full_name  = coalesce(EXCLUDED.full_name, p.full_name),
    avatar_url = coalesce(EXCLUDED.avatar_url, p.avatar_url)
  RETURNING * INTO v_profile;
  RETURN v_profile;
END
$$;

-- A user's most recently updated sessions (1..100 of them).
CREATE FUNCTION chat.get_user_recent_sessions(p_user_id uuid, p_session_limit integer DEFAULT 10)
RETURNS SETOF chat.chat_sessions
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_user(p_user_id);
  IF p_session_limit IS NULL OR p_session_limit < 1 THEN
    RAISE EXCEPTION 'session_limit must be positive' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT s.* FROM chat.chat_sessions s
    WHERE s.user_id = p_user_id
    ORDER BY s.updated_at DESC, s.id DESC
    LIMIT least(p_session_limit, 100);
END
$$;

-- One session (by the client's id) with its messages in order, as JSON:
-- {"session": {...}, "messages": [...]}; NULL when the user has no such session.
CREATE FUNCTION chat.get_session_with_messages(p_session_text_id text, p_requesting_user_uuid uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_session chat.chat_sessions%ROWTYPE;
BEGIN
  PERFORM auth.require_user(p_requesting_user_uuid);
  SELECT * INTO v_session FROM chat.chat_sessions s
  WHERE s.user_id = p_requesting_user_uuid AND s.client_id = p_session_text_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN jsonb_build_object(
    'session', to_jsonb(v_session),
    'messages', coalesce((
      SELECT jsonb_agg(to_jsonb(m) ORDER BY m.message_timestamp, m.created_at, m.id)
      FROM chat.chat_messages m WHERE m.session_id = v_session.id), '[]'::jsonb));
END
$$;

-- Internal: a JSON value that must be a non-negative integer (or absent).
CREATE FUNCTION chat.json_nonneg_int(p_value jsonb, p_what text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_value IS NULL OR p_value = 'null'::jsonb THEN
    RETURN 0;
  END IF;
  IF jsonb_typeof(p_value) <> 'number' OR (p_value #>> '{}')::numeric < 0
     OR (p_value #>> '{}')::numeric <> trunc((p_value #>> '{}')::numeric)
     OR (p_value #>> '{}')::numeric > 2147483647 THEN
    RAISE EXCEPTION '% must be a non-negative integer', p_what USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN (p_value #>> '{}')::integer;
END
$$;

-- Internal: an optional JSON string field.
CREATE FUNCTION chat.json_opt_text(p_value jsonb, p_what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_value IS NULL OR p_value = 'null'::jsonb THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(p_value) <> 'string' THEN
    RAISE EXCEPTION '% must be a string', p_what USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN p_value #>> '{}';
END
$$;

-- Internal: an optional JSON timestamp string.
CREATE FUNCTION chat.json_opt_timestamptz(p_value jsonb, p_what text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_text text := chat.json_opt_text(p_value, p_what);
BEGIN
  IF v_text IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN v_text::timestamptz;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
  RAISE EXCEPTION '% is not a timestamp: %', p_what, v_text USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- Upserts the client's conversations and their messages, all or nothing.
-- Payload: a JSON array (or {"conversations": [...]}) of
--   {"id": text, "title"?: text, "created_at"?: ts,
--    "messages": [{"id": text, "role": "user"|"assistant"|"system", "content": text,
--                  "model"?, "input_tokens"?, "output_tokens"?, "completion_id"?,
--                  "user_message_id"?, "elapsed_ms"?, "has_error"?, "error_message"?,
--                  "timestamp"?: ts}]}
-- Rows are keyed by (user, conversation id) and (session, message id) and only
-- rewritten when something differs, so replaying a payload changes nothing.
-- Messages missing from the payload are kept. Runs with the caller's rights
-- (RLS applies). Returns counts of what changed.
CREATE FUNCTION chat.sync_user_conversations(p_user_id uuid, p_conversations_data jsonb)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_convs        jsonb := p_conversations_data;
  v_conv         jsonb;
  v_msg          jsonb;
  v_ci           integer := 0;
  v_mi           integer;
  v_client_id    text;
  v_title        text;
  v_created_at   timestamptz;
  v_session_id   uuid;
  v_inserted     boolean;
  v_msg_client   text;
  v_role         text;
  v_content      text;
  v_has_error    boolean;
  v_sessions_created integer := 0;
  v_sessions_updated integer := 0;
  v_msgs_inserted    integer := 0;
  v_msgs_updated     integer := 0;
  v_msgs_unchanged   integer := 0;
  v_total_msgs       integer := 0;
BEGIN
  PERFORM auth.require_user(p_user_id);
  IF jsonb_typeof(v_convs) = 'object' AND v_convs ? 'conversations' THEN
    v_convs := v_convs -> 'conversations';
  END IF;
  IF v_convs IS NULL OR jsonb_typeof(v_convs) <> 'array' THEN
    RAISE EXCEPTION 'conversations_data must be a JSON array of conversations'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_array_length(v_convs) > 500 THEN
    RAISE EXCEPTION 'at most 500 conversations per sync' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  FOR v_conv IN SELECT e.value FROM jsonb_array_elements(v_convs) AS e LOOP
    IF jsonb_typeof(v_conv) <> 'object' THEN
      RAISE EXCEPTION 'conversation % is not an object', v_ci USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_client_id := chat.json_opt_text(v_conv -> 'id', format('conversation %s id', v_ci));
    IF v_client_id IS NULL OR length(btrim(v_client_id)) = 0 THEN
      RAISE EXCEPTION 'conversation % has no id', v_ci USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_title := coalesce(nullif(btrim(chat.json_opt_text(v_conv -> 'title', format('conversation %s title', v_ci))), ''),
                        'New Chat');
    v_created_at := chat.json_opt_timestamptz(v_conv -> 'created_at', format('conversation %s created_at', v_ci));
    IF v_conv ? 'messages' AND jsonb_typeof(v_conv -> 'messages') <> 'array' THEN
      RAISE EXCEPTION 'conversation % messages must be an array', v_ci USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_total_msgs := v_total_msgs + coalesce(jsonb_array_length(v_conv -> 'messages'), 0);
    IF v_total_msgs > 10000 THEN
      RAISE EXCEPTION 'at most 10000 messages per sync' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    v_session_id := NULL;
    INSERT INTO chat.chat_sessions AS s (user_id, client_id, title, created_at)
    VALUES (p_user_id, v_client_id, v_title, coalesce(v_created_at, now()))
    ON CONFLICT ON CONSTRAINT chat_sessions_user_id_client_id_key DO UPDATE SET title = EXCLUDED.title
      WHERE s.title IS DISTINCT FROM EXCLUDED.title
    RETURNING s.id, (s.xmax = 0) INTO v_session_id, v_inserted;
    IF v_session_id IS NULL THEN
      SELECT s.id INTO STRICT v_session_id FROM chat.chat_sessions s
      WHERE s.user_id = p_user_id AND s.client_id = v_client_id;
    ELSIF v_inserted THEN
      v_sessions_created := v_sessions_created + 1;
    ELSE
      v_sessions_updated := v_sessions_updated + 1;
    END IF;

    v_mi := 0;
    FOR v_msg IN SELECT e.value FROM jsonb_array_elements(coalesce(v_conv -> 'messages', '[]'::jsonb)) AS e LOOP
      IF jsonb_typeof(v_msg) <> 'object' THEN
        RAISE EXCEPTION 'conversation % message % is not an object', v_ci, v_mi
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      v_msg_client := chat.json_opt_text(v_msg -> 'id', format('conversation %s message %s id', v_ci, v_mi));
      v_role := chat.json_opt_text(v_msg -> 'role', format('conversation %s message %s role', v_ci, v_mi));
      v_content := chat.json_opt_text(v_msg -> 'content', format('conversation %s message %s content', v_ci, v_mi));
      IF v_msg_client IS NULL OR length(btrim(v_msg_client)) = 0 THEN
        RAISE EXCEPTION 'conversation % message % has no id', v_ci, v_mi USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF v_role IS NULL OR v_role NOT IN ('user', 'assistant', 'system') THEN
        RAISE EXCEPTION 'conversation % message % has an invalid role', v_ci, v_mi
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF v_content IS NULL THEN
        RAISE EXCEPTION 'conversation % message % has no content', v_ci, v_mi
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF v_msg ? 'has_error' AND jsonb_typeof(v_msg -> 'has_error') NOT IN ('boolean', 'null') THEN
        RAISE EXCEPTION 'conversation % message % has_error must be a boolean', v_ci, v_mi
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      v_has_error := coalesce((v_msg ->> 'has_error')::boolean, false);

      INSERT INTO chat.chat_messages AS m (
        session_id, user_id, client_id, role, content, model, input_tokens, output_tokens,
        completion_id, user_message_id, elapsed_ms, has_error, error_message, message_timestamp)
      VALUES (
        v_session_id, p_user_id, v_msg_client, v_role, v_content,
        chat.json_opt_text(v_msg -> 'model', 'model'),
        chat.json_nonneg_int(v_msg -> 'input_tokens', format('conversation %s message %s input_tokens', v_ci, v_mi)),
        chat.json_nonneg_int(v_msg -> 'output_tokens', format('conversation %s message %s output_tokens', v_ci, v_mi)),
        chat.json_opt_text(v_msg -> 'completion_id', 'completion_id'),
        chat.json_opt_text(v_msg -> 'user_message_id', 'user_message_id'),
        CASE WHEN v_msg ? 'elapsed_ms' AND v_msg -> 'elapsed_ms' <> 'null'::jsonb
             THEN chat.json_nonneg_int(v_msg -> 'elapsed_ms', format('conversation %s message %s elapsed_ms', v_ci, v_mi))
        END,
        v_has_error,
        chat.json_opt_text(v_msg -> 'error_message', 'error_message'),
        coalesce(chat.json_opt_timestamptz(v_msg -> 'timestamp', format('conversation %s message %s timestamp', v_ci, v_mi)),
                 now()))
      ON CONFLICT ON CONSTRAINT chat_messages_session_id_client_id_key DO UPDATE SET
        content = EXCLUDED.content,
        model = EXCLUDED.model,
        input_tokens = EXCLUDED.input_tokens,
        output_tokens = EXCLUDED.output_tokens,
        completion_id = EXCLUDED.completion_id,
        user_message_id = EXCLUDED.user_message_id,
        elapsed_ms = EXCLUDED.elapsed_ms,
        has_error = EXCLUDED.has_error,
        error_message = EXCLUDED.error_message,
        -- A replay without a timestamp must not move the message to "now".
        message_timestamp = CASE WHEN v_msg ? 'timestamp' AND v_msg -> 'timestamp' <> 'null'::jsonb
                                 THEN EXCLUDED.message_timestamp ELSE m.message_timestamp END
      WHERE (m.content, m.model, m.input_tokens, m.output_tokens, m.completion_id, m.user_message_id,
             m.elapsed_ms, m.has_error, m.error_message)
            IS DISTINCT FROM
            (EXCLUDED.content, EXCLUDED.model, EXCLUDED.input_tokens, EXCLUDED.output_tokens,
             EXCLUDED.completion_id, EXCLUDED.user_message_id, EXCLUDED.elapsed_ms, EXCLUDED.has_error,
             EXCLUDED.error_message)
         OR (v_msg ? 'timestamp' AND v_msg -> 'timestamp' <> 'null'::jsonb
             AND m.message_timestamp IS DISTINCT FROM EXCLUDED.message_timestamp)
      RETURNING (m.xmax = 0) INTO v_inserted;
      IF NOT FOUND THEN
        v_msgs_unchanged := v_msgs_unchanged + 1;
      ELSIF v_inserted THEN
        v_msgs_inserted := v_msgs_inserted + 1;
      ELSE
        v_msgs_updated := v_msgs_updated + 1;
      END IF;
      v_mi := v_mi + 1;
    END LOOP;
    v_ci := v_ci + 1;
  END LOOP;

  RETURN jsonb_build_object(
    'conversations', v_ci,
    'sessions_created', v_sessions_created,
    'sessions_updated', v_sessions_updated,
    'messages_inserted', v_msgs_inserted,
    'messages_updated', v_msgs_updated,
    'messages_unchanged', v_msgs_unchanged);
END
$$;

-- Adds to the user's usage of today (UTC) and to the lifetime totals in
-- profiles.usage_stats, each in one upsert/update (no lost increments under
-- concurrency). models_used stays a sorted set. Returns today's row.
CREATE FUNCTION chat.track_user_usage(
  p_user_id uuid,
  p_messages_sent integer DEFAULT 0,
  p_messages_received integer DEFAULT 0,
  p_input_tokens integer DEFAULT 0,
  p_output_tokens integer DEFAULT 0,
  p_model_used varchar DEFAULT NULL,
  p_sessions_created integer DEFAULT 0,
  p_active_minutes integer DEFAULT 0
) RETURNS chat.user_usage_daily
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_row chat.user_usage_daily%ROWTYPE;
  v_models text[] := CASE WHEN nullif(btrim(p_model_used), '') IS NULL THEN '{}'::text[]
                          ELSE ARRAY[btrim(p_model_used)] END;
BEGIN
  PERFORM auth.require_user(p_user_id);
  IF coalesce(p_messages_sent, -1) < 0 OR coalesce(p_messages_received, -1) < 0
     OR coalesce(p_input_tokens, -1) < 0 OR coalesce(p_output_tokens, -1) < 0
     OR coalesce(p_sessions_created, -1) < 0 OR coalesce(p_active_minutes, -1) < 0 THEN
    RAISE EXCEPTION 'usage amounts must be non-negative' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO chat.user_usage_daily AS u (
    user_id, usage_date, messages_sent, messages_received, input_tokens, output_tokens,
    models_used, sessions_created, active_minutes)
  VALUES (
    p_user_id, (now() AT TIME ZONE 'UTC')::date, p_messages_sent, p_messages_received,
    p_input_tokens, p_output_tokens, v_models, p_sessions_created, p_active_minutes)
  ON CONFLICT ON CONSTRAINT user_usage_daily_user_id_usage_date_key DO UPDATE SET
    messages_sent     = u.messages_sent + EXCLUDED.messages_sent,
    messages_received = u.messages_received + EXCLUDED.messages_received,
    input_tokens      = u.input_tokens + EXCLUDED.input_tokens,
    output_tokens     = u.output_tokens + EXCLUDED.output_tokens,
    models_used       = ARRAY(SELECT DISTINCT x FROM unnest(u.models_used || EXCLUDED.models_used) AS x ORDER BY x),
    sessions_created  = u.sessions_created + EXCLUDED.sessions_created,
    active_minutes    = u.active_minutes + EXCLUDED.active_minutes,
    updated_at        = now()
  RETURNING * INTO v_row;

  UPDATE chat.profiles p SET
    usage_stats = p.usage_stats || jsonb_build_object(
      'messages_sent', coalesce((p.usage_stats ->> 'messages_sent')::bigint, 0) + p_messages_sent,
      'messages_received', coalesce((p.usage_stats ->> 'messages_received')::bigint, 0) + p_messages_received,
      'input_tokens', coalesce((p.usage_stats ->> 'input_tokens')::bigint, 0) + p_input_tokens,
      'output_tokens', coalesce((p.usage_stats ->> 'output_tokens')::bigint, 0) + p_output_tokens,
      'total_tokens', coalesce((p.usage_stats ->> 'total_tokens')::bigint, 0) + p_input_tokens + p_output_tokens,
      'sessions_created', coalesce((p.usage_stats ->> 'sessions_created')::bigint, 0) + p_sessions_created,
      'active_minutes', coalesce((p.usage_stats ->> 'active_minutes')::bigint, 0) + p_active_minutes,
      'last_usage_date', v_row.usage_date),
    last_active = now()
  WHERE p.id = p_user_id;
  RETURN v_row;
END
$$;

-- Active models the user's tier may use (its own tier and every lower one).
-- A model listed for several of those tiers appears once, with the limits
-- of the highest of them.
CREATE FUNCTION chat.get_user_allowed_models(p_user_id uuid)
RETURNS TABLE (model_id varchar, model_name varchar, model_description text, tier varchar,
               daily_limit integer, monthly_limit integer)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_user(p_user_id);
  RETURN QUERY
    SELECT DISTINCT ON (ma.model_id)
      ma.model_id, ma.model_name, ma.model_description, ma.tier, ma.daily_limit, ma.monthly_limit
    FROM chat.profiles p
    JOIN chat.model_access ma
      ON ma.is_active AND chat.tier_rank(ma.tier) <= chat.tier_rank(p.subscription_tier)
    WHERE p.id = p_user_id
    ORDER BY ma.model_id, chat.tier_rank(ma.tier) DESC;
END
$$;

-- Whether the user's tier allows the model.
CREATE FUNCTION chat.can_user_use_model(p_user_id uuid, p_model_to_check varchar)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_user(p_user_id);
  RETURN EXISTS (
    SELECT 1 FROM chat.get_user_allowed_models(p_user_id) am WHERE am.model_id = p_model_to_check);
END
$$;

-- Service only: changes a user's subscription tier and logs tier_updated.
CREATE FUNCTION chat.update_user_tier(p_user_id uuid, p_new_tier varchar) RETURNS chat.profiles
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_old_tier text;
  v_profile  chat.profiles%ROWTYPE;
BEGIN
  PERFORM auth.require_service_role();
  IF p_new_tier IS NULL OR p_new_tier NOT IN ('free', 'pro', 'enterprise') THEN
    RAISE EXCEPTION 'invalid tier %', p_new_tier USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT p.subscription_tier INTO v_old_tier FROM chat.profiles p WHERE p.id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'profile % not found', p_user_id USING ERRCODE = 'no_data_found';
  END IF;
  UPDATE chat.profiles p SET subscription_tier = p_new_tier WHERE p.id = p_user_id
  RETURNING * INTO v_profile;
  IF v_old_tier IS DISTINCT FROM p_new_tier THEN
    INSERT INTO chat.user_activity_log (user_id, action, details)
    VALUES (p_user_id, 'tier_updated', jsonb_build_object('old_tier', v_old_tier, 'new_tier', p_new_tier));
  END IF;
  RETURN v_profile;
END
$$;

-- Deep-merges p_preferences into the named section (ui, session or model) of
-- the user's preferences, logs preferences_updated, returns all preferences.
CREATE FUNCTION chat.update_user_preferences(p_user_id uuid, p_preference_type varchar, p_preferences jsonb)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_result jsonb;
BEGIN
  PERFORM auth.require_user(p_user_id);
  IF p_preference_type IS NULL OR p_preference_type NOT IN ('ui', 'session', 'model') THEN
    RAISE EXCEPTION 'unknown preference type %', p_preference_type USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_preferences IS NULL OR jsonb_typeof(p_preferences) <> 'object' THEN
    RAISE EXCEPTION 'preferences must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(p_preferences::text) > 16384 THEN
    RAISE EXCEPTION 'preferences too large' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  UPDATE chat.profiles p SET
    preferences = p.preferences || jsonb_build_object(p_preference_type,
      chat.jsonb_deep_merge(
        CASE WHEN jsonb_typeof(p.preferences -> p_preference_type) = 'object'
             THEN p.preferences -> p_preference_type ELSE '{}'::jsonb END,
        p_preferences))
  WHERE p.id = p_user_id
  RETURNING p.preferences INTO v_result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'profile % not found', p_user_id USING ERRCODE = 'no_data_found';
  END IF;

  PERFORM chat.write_activity_log(p_user_id, 'preferences_updated', jsonb_build_object(
    'preference_type', p_preference_type,
    'keys', (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb) FROM jsonb_object_keys(p_preferences) AS k)));
  RETURN v_result;
END
$$;

-- Profile, preferences, allowed models and usage (lifetime, today, last 30
-- days) as one JSON document; NULL when the user has no profile.
CREATE FUNCTION chat.get_user_complete_profile(p_user_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_profile chat.profiles%ROWTYPE;
  v_today   date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
  PERFORM auth.require_user(p_user_id);
  SELECT * INTO v_profile FROM chat.profiles p WHERE p.id = p_user_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN jsonb_build_object(
    'id', v_profile.id,
    'email', v_profile.email,
    'full_name', v_profile.full_name,
    'avatar_url', v_profile.avatar_url,
    'subscription_tier', v_profile.subscription_tier,
    'created_at', v_profile.created_at,
    'last_active', v_profile.last_active,
    'preferences', v_profile.preferences,
    'allowed_models', coalesce((
      SELECT jsonb_agg(to_jsonb(am) ORDER BY am.model_id) FROM chat.get_user_allowed_models(p_user_id) am),
      '[]'::jsonb),
    'usage_stats', jsonb_build_object(
      'lifetime', v_profile.usage_stats,
      'today', (
        SELECT jsonb_build_object(
          'messages_sent', coalesce(sum(u.messages_sent), 0),
          'messages_received', coalesce(sum(u.messages_received), 0),
          'total_tokens', coalesce(sum(u.total_tokens), 0),
          'models_used', coalesce((SELECT to_jsonb(u2.models_used) FROM chat.user_usage_daily u2
                                   WHERE u2.user_id = p_user_id AND u2.usage_date = v_today), '[]'::jsonb))
        FROM chat.user_usage_daily u WHERE u.user_id = p_user_id AND u.usage_date = v_today),
      'last_30_days', (
        SELECT jsonb_build_object(
          'messages_sent', coalesce(sum(u.messages_sent), 0),
          'messages_received', coalesce(sum(u.messages_received), 0),
          'total_tokens', coalesce(sum(u.total_tokens), 0),
          'active_days', count(*))
        FROM chat.user_usage_daily u
        WHERE u.user_id = p_user_id AND u.usage_date > v_today - 30)));
END
$$;

-- Service only: deletes activity logs and daily usage older than
-- p_days_to_keep days, and expired cache entries. Never touches profiles,
-- sessions or messages. Returns how many rows went.
CREATE FUNCTION chat.cleanup_old_data(p_days_to_keep integer DEFAULT 90) RETURNS jsonb
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_logs  bigint;
  v_usage bigint;
  v_cache bigint;
BEGIN
  PERFORM auth.require_service_role();
  IF p_days_to_keep IS NULL OR p_days_to_keep < 1 THEN
    RAISE EXCEPTION 'days_to_keep must be positive' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM chat.user_activity_log l WHERE l."timestamp" < now() - make_interval(days => p_days_to_keep);
  GET DIAGNOSTICS v_logs = ROW_COUNT;
  DELETE FROM chat.user_usage_daily u
  WHERE u.usage_date < (now() AT TIME ZONE 'UTC')::date - p_days_to_keep;
  GET DIAGNOSTICS v_usage = ROW_COUNT;
  DELETE FROM chat.system_cache c WHERE c.expires_at IS NOT NULL AND c.expires_at < now();
  GET DIAGNOSTICS v_cache = ROW_COUNT;
  RETURN jsonb_build_object(
    'activity_logs_deleted', v_logs,
    'usage_rows_deleted', v_usage,
    'cache_entries_deleted', v_cache);
END
$$;

-- Everything stored about the user (GDPR export): profile, sessions with
-- their messages, daily usage, activity log. Nothing of anyone else.
CREATE FUNCTION chat.export_user_data(p_user_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_user(p_user_id);
  RETURN jsonb_build_object(
    'user_id', p_user_id,
    'exported_at', now(),
    'profile', (SELECT to_jsonb(p) FROM chat.profiles p WHERE p.id = p_user_id),
    'sessions', coalesce((
      SELECT jsonb_agg(to_jsonb(s) || jsonb_build_object('messages', coalesce((
               SELECT jsonb_agg(to_jsonb(m) ORDER BY m.message_timestamp, m.created_at, m.id)
               FROM chat.chat_messages m WHERE m.session_id = s.id AND m.user_id = p_user_id), '[]'::jsonb))
             ORDER BY s.created_at, s.id)
      FROM chat.chat_sessions s WHERE s.user_id = p_user_id), '[]'::jsonb),
    'usage_daily', coalesce((
      SELECT jsonb_agg(to_jsonb(u) ORDER BY u.usage_date)
      FROM chat.user_usage_daily u WHERE u.user_id = p_user_id), '[]'::jsonb),
    'activity_log', coalesce((
      SELECT jsonb_agg(to_jsonb(l) ORDER BY l."timestamp", l.id)
      FROM chat.user_activity_log l WHERE l.user_id = p_user_id), '[]'::jsonb));
END
$$;

-- Service only: size, estimated rows, scans and vacuum/analyze times of every
-- chat table, and index usage, as JSON.
CREATE FUNCTION chat.analyze_database_health() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  PERFORM auth.require_service_role();
  RETURN jsonb_build_object(
    'generated_at', now(),
    'database_size_bytes', pg_catalog.pg_database_size(pg_catalog.current_database()),
    'tables', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
          'table_name', t.relname,
          'estimated_live_rows', t.n_live_tup,
          'dead_rows', t.n_dead_tup,
          'total_size_bytes', pg_catalog.pg_total_relation_size(t.relid),
          'seq_scans', t.seq_scan,
          'index_scans', coalesce(t.idx_scan, 0),
          'last_vacuum', greatest(t.last_vacuum, t.last_autovacuum),
          'last_analyze', greatest(t.last_analyze, t.last_autoanalyze))
        ORDER BY t.relname)
      FROM pg_catalog.pg_stat_user_tables t WHERE t.schemaname = 'chat'), '[]'::jsonb),
    'indexes', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
          'index_name', i.indexrelname,
          'table_name', i.relname,
          'scans', i.idx_scan,
          'size_bytes', pg_catalog.pg_relation_size(i.indexrelid))
        ORDER BY i.relname, i.indexrelname)
      FROM pg_catalog.pg_stat_user_indexes i WHERE i.schemaname = 'chat'), '[]'::jsonb));
END
$$;

-- ---------------------------------------------------------------------------
-- View
-- ---------------------------------------------------------------------------

-- Per user: sessions and messages stored now, and usage of today and of the
-- last 30 days (UTC, today included). Each figure comes from its own
-- subquery so joining sessions and usage rows cannot multiply the sums.
-- security_invoker: a viewer sees only the rows RLS lets them see (their own).
CREATE VIEW chat.api_user_summary WITH (security_invoker = true) AS
SELECT
  p.id AS user_id,
  p.email,
  p.full_name,
  p.subscription_tier,
  p.created_at,
  p.last_active,
  coalesce(s.total_sessions, 0)::bigint AS total_sessions,
  coalesce(s.active_sessions, 0)::bigint AS active_sessions,
  coalesce(s.total_messages, 0)::bigint AS total_messages,
  coalesce(s.total_session_tokens, 0)::bigint AS total_session_tokens,
  s.last_message_at,
  coalesce(u.messages_today, 0)::bigint AS messages_today,
  coalesce(u.tokens_today, 0)::bigint AS tokens_today,
  coalesce(u.messages_last_30_days, 0)::bigint AS messages_last_30_days,
  coalesce(u.tokens_last_30_days, 0)::bigint AS tokens_last_30_days
FROM chat.profiles p
LEFT JOIN LATERAL (
  SELECT
    count(*) AS total_sessions,
    count(*) FILTER (WHERE cs.is_active) AS active_sessions,
    sum(cs.message_count) AS total_messages,
    sum(cs.total_tokens) AS total_session_tokens,
    max(cs.last_message_timestamp) AS last_message_at
  FROM chat.chat_sessions cs WHERE cs.user_id = p.id
) s ON true
LEFT JOIN LATERAL (
  SELECT
    sum(ud.messages_sent + ud.messages_received) FILTER (WHERE ud.usage_date = (now() AT TIME ZONE 'UTC')::date) AS messages_today,
    sum(ud.total_tokens) FILTER (WHERE ud.usage_date = (now() AT TIME ZONE 'UTC')::date) AS tokens_today,
    sum(ud.messages_sent + ud.messages_received) AS messages_last_30_days,
    sum(ud.total_tokens) AS tokens_last_30_days
  FROM chat.user_usage_daily ud
  WHERE ud.user_id = p.id AND ud.usage_date > (now() AT TIME ZONE 'UTC')::date - 30
) u ON true;

-- ---------------------------------------------------------------------------
-- Backfill: users that existed before this migration get their profile.
-- ---------------------------------------------------------------------------
INSERT INTO chat.profiles (id, email, full_name, avatar_url)
SELECT u.id, u.email,
       coalesce(u.raw_user_meta_data ->> 'full_name', u.raw_user_meta_data ->> 'name'),
       coalesce(u.raw_user_meta_data ->> 'avatar_url', u.raw_user_meta_data ->> 'picture')
FROM auth.users u
ON CONFLICT ON CONSTRAINT profiles_pkey DO NOTHING;

-- ---------------------------------------------------------------------------
-- Row level security
-- ---------------------------------------------------------------------------
ALTER TABLE chat.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat.user_activity_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat.chat_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat.chat_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat.user_usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat.model_access ENABLE ROW LEVEL SECURITY;
-- Service-only tables: RLS on with no policy, so only BYPASSRLS roles see rows.
ALTER TABLE chat.system_cache ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat.system_stats ENABLE ROW LEVEL SECURITY;

-- Profiles are created by the auth trigger and removed with the auth user:
-- users read and edit their own row only.
CREATE POLICY profiles_select_own ON chat.profiles FOR SELECT TO authenticated
  USING (id = auth.uid());
CREATE POLICY profiles_update_own ON chat.profiles FOR UPDATE TO authenticated
  USING (id = auth.uid()) WITH CHECK (id = auth.uid());

-- Written only through log_user_activity / the system functions.
CREATE POLICY user_activity_log_select_own ON chat.user_activity_log FOR SELECT TO authenticated
  USING (user_id = auth.uid());

CREATE POLICY chat_sessions_select_own ON chat.chat_sessions FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY chat_sessions_insert_own ON chat.chat_sessions FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid());
CREATE POLICY chat_sessions_update_own ON chat.chat_sessions FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY chat_sessions_delete_own ON chat.chat_sessions FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- A message goes only under a session of the viewer's own.
CREATE POLICY chat_messages_select_own ON chat.chat_messages FOR SELECT TO authenticated
  USING (user_id = auth.uid());
CREATE POLICY chat_messages_insert_own ON chat.chat_messages FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid() AND EXISTS (
    SELECT 1 FROM chat.chat_sessions s WHERE s.id = session_id AND s.user_id = auth.uid()));
CREATE POLICY chat_messages_update_own ON chat.chat_messages FOR UPDATE TO authenticated
  USING (user_id = auth.uid())
  WITH CHECK (user_id = auth.uid() AND EXISTS (
    SELECT 1 FROM chat.chat_sessions s WHERE s.id = session_id AND s.user_id = auth.uid()));
CREATE POLICY chat_messages_delete_own ON chat.chat_messages FOR DELETE TO authenticated
  USING (user_id = auth.uid());

-- Written only through track_user_usage.
CREATE POLICY user_usage_daily_select_own ON chat.user_usage_daily FOR SELECT TO authenticated
  USING (user_id = auth.uid());

-- The model catalogue is public (a pricing page shows it before sign-in);
-- inactive entries are visible to the service role only.
CREATE POLICY model_access_select_active ON chat.model_access FOR SELECT TO anon, authenticated
  USING (is_active);

-- ---------------------------------------------------------------------------
-- Grants
-- ---------------------------------------------------------------------------
GRANT SELECT ON chat.profiles TO authenticated;
GRANT UPDATE (full_name, avatar_url, preferences) ON chat.profiles TO authenticated;
GRANT SELECT ON chat.user_activity_log TO authenticated;
GRANT SELECT, DELETE ON chat.chat_sessions TO authenticated;
GRANT INSERT (user_id, client_id, title, is_active, created_at) ON chat.chat_sessions TO authenticated;
GRANT UPDATE (title, is_active) ON chat.chat_sessions TO authenticated;
GRANT SELECT, DELETE ON chat.chat_messages TO authenticated;
GRANT INSERT (session_id, user_id, client_id, role, content, model, input_tokens, output_tokens,
  completion_id, user_message_id, elapsed_ms, has_error, error_message, message_timestamp)
  ON chat.chat_messages TO authenticated;
GRANT UPDATE (content, model, input_tokens, output_tokens, completion_id, user_message_id,
  elapsed_ms, has_error, error_message, message_timestamp)
  ON chat.chat_messages TO authenticated;
GRANT SELECT ON chat.user_usage_daily TO authenticated;
GRANT SELECT ON chat.model_access TO anon, authenticated;
GRANT SELECT ON chat.api_user_summary TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON chat.profiles, chat.user_activity_log, chat.chat_sessions,
  chat.chat_messages, chat.user_usage_daily, chat.model_access, chat.system_cache, chat.system_stats
  TO service_role;
GRANT SELECT ON chat.api_user_summary TO service_role;

GRANT EXECUTE ON FUNCTION chat.tier_rank(text), chat.jsonb_deep_merge(jsonb, jsonb)
  TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION
  chat.log_user_activity(uuid, varchar, jsonb, text, inet, text),
  chat.sync_profile_from_auth(uuid),
  chat.get_user_recent_sessions(uuid, integer),
  chat.get_session_with_messages(text, uuid),
  chat.json_nonneg_int(jsonb, text),
  chat.json_opt_text(jsonb, text),
  chat.json_opt_timestamptz(jsonb, text),
  chat.sync_user_conversations(uuid, jsonb),
  chat.track_user_usage(uuid, integer, integer, integer, integer, varchar, integer, integer),
  chat.get_user_allowed_models(uuid),
  chat.can_user_use_model(uuid, varchar),
  chat.update_user_preferences(uuid, varchar, jsonb),
  chat.get_user_complete_profile(uuid),
  chat.export_user_data(uuid)
  TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION
  chat.update_user_tier(uuid, varchar),
  chat.cleanup_old_data(integer),
  chat.analyze_database_health()
  TO service_role;
