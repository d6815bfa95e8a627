-- Core: roles, the Supabase-compatible `auth` schema, and the `public` tables
-- several domains share (users, workspaces, members, agents, agent runs).

-- Roles are cluster-wide: create them only when missing, and tolerate a
-- concurrent migration of another database in the same cluster.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gateway') THEN
    BEGIN
      CREATE ROLE gateway LOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END
$$;
ALTER ROLE service_role BYPASSRLS;
GRANT anon, authenticated, service_role TO gateway;
-- The gateway's readiness probe reads the migration ledger.
DO $$
BEGIN
  IF to_regclass('public.seaql_migrations') IS NOT NULL THEN
    GRANT SELECT ON public.seaql_migrations TO gateway;
  END IF;
END
$$;
DO $$
BEGIN
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO gateway', current_database());
END
$$;

-- Functions are executable by PUBLIC by default; every grant in this project
-- is explicit instead.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- auth: identity root
-- ---------------------------------------------------------------------------
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

CREATE TABLE auth.users (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email              varchar(255) NOT NULL CONSTRAINT users_email_key UNIQUE,
  raw_user_meta_data jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at    timestamptz
);
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.users TO service_role;

-- The claims of the current request, as the gateway set them with
-- set_config('request.jwt.claims', ..., true). Empty object when unset.
CREATE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- The viewer's user id (`sub`), or NULL for anon / no claims.
CREATE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(auth.jwt() ->> 'sub', '')::uuid
$$;

-- The viewer's role claim (`anon`, `authenticated`, `service_role`), or NULL.
CREATE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT nullif(auth.jwt() ->> 'role', '')
$$;

-- True when the request runs as the service role.
CREATE FUNCTION auth.is_service_role() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(auth.role() = 'service_role', false)
$$;

-- Guard for functions that take a user id: the id must be the viewer's own,
-- unless the caller is the service role. Raises insufficient_privilege.
CREATE FUNCTION auth.require_user(target uuid) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF auth.is_service_role() THEN
    RETURN;
  END IF;
  IF target IS NULL OR auth.uid() IS NULL OR target <> auth.uid() THEN
    RAISE EXCEPTION 'not allowed to act for user %', target
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$$;

-- Guard for maintenance functions: service role only.
CREATE FUNCTION auth.require_service_role() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT auth.is_service_role() AND current_user <> 'service_role' THEN
    RAISE EXCEPTION 'service role required'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$$;

GRANT EXECUTE ON FUNCTION auth.jwt(), auth.uid(), auth.role(), auth.is_service_role(),
  auth.require_user(uuid), auth.require_service_role()
  TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- public: shared core
-- ---------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- Generic BEFORE UPDATE trigger for the core tables.
CREATE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$$;

-- App-level user row (seed 004 `users`), same id as auth.users, kept in sync
-- by a trigger on auth.users.
CREATE TABLE public.users (
  id         uuid PRIMARY KEY REFERENCES auth.users(id) ON DELETE CASCADE,
  email      varchar(255) NOT NULL CONSTRAINT users_email_key UNIQUE,
  full_name  varchar(255),
  avatar_url text,
  created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_users_email ON public.users(email);
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

CREATE FUNCTION public.sync_user_from_auth() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.users (id, email, full_name, avatar_url)
  VALUES (
    NEW.id,
    NEW.email,
    coalesce(NEW.raw_user_meta_data ->> 'full_name', NEW.raw_user_meta_data ->> 'name'),
    NEW.raw_user_meta_data ->> 'avatar_url'
  )
  ON CONFLICT (id) DO UPDATE SET
    email      = EXCLUDED.email,
    full_name  = coalesce(EXCLUDED.full_name, public.users.full_name),
    avatar_url = coalesce(EXCLUDED.avatar_url, public.users.avatar_url)
  WHERE (public.users.email, public.users.full_name, public.users.avatar_url)
        IS DISTINCT FROM
        (EXCLUDED.email, coalesce(EXCLUDED.full_name, public.users.full_name),
         coalesce(EXCLUDED.avatar_url, public.users.avatar_url));
  RETURN NEW;
END
$$;
CREATE TRIGGER on_auth_user_sync_public_users
  AFTER INSERT OR UPDATE ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.sync_user_from_auth();

CREATE TABLE public.workspaces (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       varchar(255) NOT NULL CONSTRAINT workspaces_name_not_blank CHECK (length(btrim(name)) > 0),
  owner_id   uuid REFERENCES public.users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_workspaces_owner ON public.workspaces(owner_id);
-- The API lists workspaces oldest first (keyset on created_at, id).
CREATE INDEX idx_workspaces_created_at ON public.workspaces(created_at, id);
CREATE TRIGGER workspaces_set_updated_at BEFORE UPDATE ON public.workspaces
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

CREATE TABLE public.workspace_members (
  workspace_id uuid NOT NULL REFERENCES public.workspaces(id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES public.users(id) ON DELETE CASCADE,
  role         varchar(20) NOT NULL DEFAULT 'member'
               CONSTRAINT workspace_members_role_check CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  joined_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX idx_workspace_members_user ON public.workspace_members(user_id, workspace_id);

-- The creator of a workspace becomes its owner member.
CREATE FUNCTION public.add_workspace_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.owner_id IS NOT NULL THEN
    INSERT INTO public.workspace_members (workspace_id, user_id, role)
    VALUES (NEW.id, NEW.owner_id, 'owner')
    ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = 'owner';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER workspaces_add_owner AFTER INSERT ON public.workspaces
  FOR EACH ROW EXECUTE FUNCTION public.add_workspace_owner();

-- Membership checks used by RLS policies. SECURITY DEFINER so a policy on
-- workspace_members can consult workspace_members without recursing.
CREATE FUNCTION public.is_workspace_member(ws uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.workspace_members m
    WHERE m.workspace_id = ws AND m.user_id = auth.uid()
  )
$$;

-- True when the viewer is a member of `ws` with one of `roles`.
CREATE FUNCTION public.has_workspace_role(ws uuid, roles text[]) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.workspace_members m
    WHERE m.workspace_id = ws AND m.user_id = auth.uid() AND m.role = ANY (roles)
  )
$$;

-- Users who share at least one workspace with the viewer.
CREATE FUNCTION public.shares_workspace_with(other uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (
    SELECT 1
    FROM public.workspace_members mine
    JOIN public.workspace_members theirs ON theirs.workspace_id = mine.workspace_id
    WHERE mine.user_id = auth.uid() AND theirs.user_id = other
  )
$$;

GRANT EXECUTE ON FUNCTION public.is_workspace_member(uuid), public.has_workspace_role(uuid, text[]),
  public.shares_workspace_with(uuid) TO anon, authenticated, service_role;

CREATE TABLE public.agents (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES public.workspaces(id) ON DELETE CASCADE,
  name         varchar(255) NOT NULL CONSTRAINT agents_name_not_blank CHECK (length(btrim(name)) > 0),
  description  text,
  model        varchar(100),
  is_active    boolean NOT NULL DEFAULT true,
  created_by   uuid REFERENCES public.users(id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT agents_id_workspace_key UNIQUE (id, workspace_id)
);
CREATE INDEX idx_agents_workspace ON public.agents(workspace_id);
-- The API lists agents oldest first (keyset on created_at, id).
CREATE INDEX idx_agents_created_at ON public.agents(created_at, id);
CREATE TRIGGER agents_set_updated_at BEFORE UPDATE ON public.agents
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

CREATE TABLE public.agent_runs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id         uuid NOT NULL,
  workspace_id     uuid NOT NULL REFERENCES public.workspaces(id) ON DELETE CASCADE,
  user_id          uuid REFERENCES public.users(id) ON DELETE SET NULL,
  status           varchar(20) NOT NULL DEFAULT 'pending'
                   CONSTRAINT agent_runs_status_check
                   CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  started_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  runtime_seconds  numeric(10,2) CONSTRAINT agent_runs_runtime_check CHECK (runtime_seconds >= 0),
  credits_consumed numeric(15,2) NOT NULL DEFAULT 0 CONSTRAINT agent_runs_credits_check CHECK (credits_consumed >= 0),
  tokens_used      integer NOT NULL DEFAULT 0 CONSTRAINT agent_runs_tokens_check CHECK (tokens_used >= 0),
  model            varchar(100),
  error_type       varchar(100),
  error_message    text,
  user_rating      numeric(3,2) CONSTRAINT agent_runs_rating_check CHECK (user_rating BETWEEN 0 AND 5),
  feedback         text,
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- A run belongs to the workspace of its agent.
  CONSTRAINT agent_runs_agent_fkey FOREIGN KEY (agent_id, workspace_id)
    REFERENCES public.agents(id, workspace_id) ON DELETE CASCADE
);
CREATE INDEX idx_agent_runs_agent_started ON public.agent_runs(agent_id, started_at DESC);
CREATE INDEX idx_agent_runs_workspace_started ON public.agent_runs(workspace_id, started_at DESC);
CREATE INDEX idx_agent_runs_user ON public.agent_runs(user_id);
CREATE INDEX idx_agent_runs_started_brin ON public.agent_runs USING brin(started_at);

-- RLS ------------------------------------------------------------------------
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.agent_runs ENABLE ROW LEVEL SECURITY;

CREATE POLICY users_select ON public.users FOR SELECT TO authenticated
  USING (id = auth.uid() OR public.shares_workspace_with(id));
CREATE POLICY users_update_own ON public.users FOR UPDATE TO authenticated
  USING (id = auth.uid()) WITH CHECK (id = auth.uid());

-- The owner sees the row even before the AFTER INSERT trigger has made them a
-- member, so `INSERT ... RETURNING` works for the creator.
CREATE POLICY workspaces_select ON public.workspaces FOR SELECT TO authenticated
  USING (owner_id = auth.uid() OR public.is_workspace_member(id));
CREATE POLICY workspaces_insert ON public.workspaces FOR INSERT TO authenticated
  WITH CHECK (owner_id = auth.uid());
CREATE POLICY workspaces_update ON public.workspaces FOR UPDATE TO authenticated
  USING (public.has_workspace_role(id, ARRAY['owner', 'admin']))
  WITH CHECK (public.has_workspace_role(id, ARRAY['owner', 'admin']));
CREATE POLICY workspaces_delete ON public.workspaces FOR DELETE TO authenticated
  USING (public.has_workspace_role(id, ARRAY['owner']));

CREATE POLICY workspace_members_select ON public.workspace_members FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY workspace_members_insert ON public.workspace_members FOR INSERT TO authenticated
  WITH CHECK (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY workspace_members_update ON public.workspace_members FOR UPDATE TO authenticated
  USING (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
  WITH CHECK (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
-- Admins remove members; anyone may leave.
CREATE POLICY workspace_members_delete ON public.workspace_members FOR DELETE TO authenticated
  USING (user_id = auth.uid() OR public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));

CREATE POLICY agents_select ON public.agents FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY agents_insert ON public.agents FOR INSERT TO authenticated
  WITH CHECK (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']));
CREATE POLICY agents_update ON public.agents FOR UPDATE TO authenticated
  USING (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']))
  WITH CHECK (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']));
CREATE POLICY agents_delete ON public.agents FOR DELETE TO authenticated
  USING (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));

CREATE POLICY agent_runs_select ON public.agent_runs FOR SELECT TO authenticated
  USING (public.is_workspace_member(workspace_id));
CREATE POLICY agent_runs_insert ON public.agent_runs FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid() AND public.has_workspace_role(workspace_id, ARRAY['owner', 'admin', 'member']));
CREATE POLICY agent_runs_update ON public.agent_runs FOR UPDATE TO authenticated
  USING (user_id = auth.uid() OR public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
  WITH CHECK (public.is_workspace_member(workspace_id));
CREATE POLICY agent_runs_delete ON public.agent_runs FOR DELETE TO authenticated
  USING (public.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));

-- Grants ---------------------------------------------------------------------
GRANT SELECT ON public.users TO authenticated;
GRANT UPDATE (full_name, avatar_url) ON public.users TO authenticated;
GRANT SELECT, INSERT, DELETE ON public.workspaces TO authenticated;
GRANT UPDATE (name) ON public.workspaces TO authenticated;
GRANT SELECT, INSERT, DELETE ON public.workspace_members TO authenticated;
GRANT UPDATE (role) ON public.workspace_members TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.agents TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.agent_runs TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.users, public.workspaces, public.workspace_members,
  public.agents, public.agent_runs TO service_role;
