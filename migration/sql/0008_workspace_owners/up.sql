-- Ownership of a workspace is kept by the database, whoever writes:
--   * only an owner grants or revokes the `owner` role, or removes an owner;
--   * a workspace always keeps at least one owner (the last owner can
--     neither leave nor be demoted; deleting the workspace still works).
-- The rules bind signed-in users (`authenticated`). Trusted paths are not
-- held: `service_role`, the SECURITY DEFINER trigger that makes a creator
-- the owner, and the cascades of deleting a workspace or a user (they run
-- as the table owner).
--
-- Refusals carry SQLSTATE `GW403` (the gateway reports it as FORBIDDEN with
-- this message).

CREATE FUNCTION public.guard_workspace_owners() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  ws uuid := COALESCE(NEW.workspace_id, OLD.workspace_id);
  was_owner boolean := TG_OP <> 'INSERT' AND OLD.role = 'owner';
  is_owner boolean := TG_OP <> 'DELETE' AND NEW.role = 'owner';
BEGIN
  IF current_user <> 'authenticated' OR was_owner = is_owner THEN
    RETURN COALESCE(NEW, OLD);
  END IF;
  IF NOT public.has_workspace_role(ws, ARRAY['owner']) THEN
    RAISE EXCEPTION 'only an owner of the workspace grants, revokes or removes ownership'
      USING ERRCODE = 'GW403';
  END IF;
  IF was_owner THEN
    -- Lock the owners first, so two owners demoting each other at the same
    -- time cannot both succeed.
    PERFORM 1 FROM public.workspace_members m
      WHERE m.workspace_id = ws AND m.role = 'owner'
      FOR UPDATE;
    IF NOT EXISTS (
      SELECT 1 FROM public.workspace_members m
      WHERE m.workspace_id = ws AND m.role = 'owner' AND m.user_id <> OLD.user_id
    ) THEN
      RAISE EXCEPTION 'a workspace keeps at least one owner: make another member an owner first'
        USING ERRCODE = 'GW403';
    END IF;
  END IF;
  RETURN COALESCE(NEW, OLD);
END
$$;

CREATE TRIGGER workspace_members_guard_owners
  BEFORE INSERT OR UPDATE OF role OR DELETE ON public.workspace_members
  FOR EACH ROW EXECUTE FUNCTION public.guard_workspace_owners();
