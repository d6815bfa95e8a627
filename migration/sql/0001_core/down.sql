-- Reverses 0001_core. Roles are cluster-wide and may serve other databases in
-- the same cluster, so they stay.
DROP TABLE IF EXISTS public.agent_runs, public.agents, public.workspace_members,
  public.workspaces, public.users CASCADE;
DROP FUNCTION IF EXISTS public.shares_workspace_with(uuid), public.has_workspace_role(uuid, text[]),
  public.is_workspace_member(uuid), public.add_workspace_owner(), public.sync_user_from_auth(),
  public.set_updated_at() CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
