DROP TRIGGER IF EXISTS workspace_members_guard_owners ON public.workspace_members;
DROP FUNCTION IF EXISTS public.guard_workspace_owners();
