-- Live events (DESIGN.md "Live events"): AFTER ROW triggers that announce every
-- committed change of the tables behind live subscriptions with
-- pg_notify('gateway_live', payload). NOTIFY is delivered at commit only (never
-- for a rolled-back change), in commit order; each gateway process LISTENs and
-- fans events out per viewer, reading rows under that viewer's claims.
--
-- Payload: a JSON object with exactly these keys, ids only, never row
-- contents (NOTIFY's limit is 8000 bytes; this stays under 300):
--   {"table": "<schema>.<table>", "op": "INSERT" | "UPDATE" | "DELETE",
--    "id": "<uuid>", "user_id": "<uuid>" | null, "session_id": "<uuid>" | null,
--    "workspace_id": "<uuid>" | null, "ts": "YYYY-MM-DDTHH:MI:SS.ffffffZ"}
-- DELETE reports OLD's values, INSERT and UPDATE NEW's.
--
-- ts is the row's feed-ordering timestamp, in UTC with microseconds. For an
-- INSERT into a feed table it is exactly the column the catch-up queries
-- order by (created_at; analytics.alert_history: triggered_at), so a (ts, id)
-- cursor taken from an event matches the row read back. For every UPDATE and
-- DELETE, and for state rows (counters, rollups, session headers other than
-- lift's), it is clock_timestamp(). docs/database.md lists every table.
--
-- The function is SECURITY INVOKER: its one lookup (the parent's owner or
-- session) runs under the writer's RLS, so a parent the writer cannot see
-- yields NULL. The parent of a cascading DELETE is already gone, which also
-- yields NULL. A failing lookup yields NULL too, with a WARNING: this trigger
-- must never abort the user's write.

CREATE SCHEMA live;
-- No USAGE for any API role: triggers call their function by OID, and nobody
-- calls it directly.

CREATE FUNCTION live.notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r            record;
  v_table      text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  v_id         uuid;
  v_user_id    uuid;
  v_session_id uuid;
  v_workspace  uuid;
  -- The row's ordering timestamp; NULL means clock_timestamp().
  v_ts         timestamptz;
  v_ts_text    text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    r := OLD;
  ELSE
    r := NEW;
  END IF;

  CASE v_table
    -- lift: sessions are the session_created events of lift.recent_activity
    -- (event_time = created_at); the children are its revision_created,
    -- draft_created and hole_resolved events (event_time = their created_at).
    WHEN 'lift.sessions' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      v_session_id := r.id;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.created_at;
      END IF;
    WHEN 'lift.session_revisions', 'lift.session_drafts', 'lift.hole_resolutions' THEN
      v_id := r.id;
      v_session_id := r.session_id;
      BEGIN
        SELECT s.user_id INTO v_user_id FROM lift.sessions AS s WHERE s.id = r.session_id;
      EXCEPTION WHEN OTHERS THEN
        v_user_id := NULL;
        RAISE WARNING 'live.notify: owner lookup for % failed: % (%)', v_table, SQLERRM, SQLSTATE;
      END;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.created_at;
      END IF;

    -- builder: every child carries its session owner's user_id (composite
    -- foreign keys keep them equal); a response reaches its session through
    -- its prompt.
    WHEN 'builder.sessions' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      v_session_id := r.id;
    WHEN 'builder.prompts', 'builder.steps' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      v_session_id := r.session_id;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.created_at;
      END IF;
    WHEN 'builder.responses' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      BEGIN
        SELECT p.session_id INTO v_session_id FROM builder.prompts AS p WHERE p.id = r.prompt_id;
      EXCEPTION WHEN OTHERS THEN
        v_session_id := NULL;
        RAISE WARNING 'live.notify: session lookup for % failed: % (%)', v_table, SQLERRM, SQLSTATE;
      END;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.created_at;
      END IF;
    WHEN 'builder.analytics' THEN
      v_id := r.id;
      v_user_id := r.user_id;

    -- chat: a message's user_id is its session's (composite foreign key). The
    -- feed orders messages by created_at, not by the client's message_timestamp.
    WHEN 'chat.chat_sessions' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      v_session_id := r.id;
    WHEN 'chat.chat_messages' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      v_session_id := r.session_id;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.created_at;
      END IF;

    -- prompt_lab: events are addressed to the template's author, with the
    -- template as the "session". A like has no id of its own (its key is
    -- (user_id, template_id)): its id is the liking user's id, so
    -- (session_id, id) is the row's key and (ts, id) its cursor among the
    -- template's likes.
    WHEN 'prompt_lab.prompt_templates' THEN
      v_id := r.id;
      v_user_id := r.user_id;
      v_session_id := r.id;
    WHEN 'prompt_lab.template_likes' THEN
      v_id := r.user_id;
      v_session_id := r.template_id;
      BEGIN
        SELECT t.user_id INTO v_user_id FROM prompt_lab.prompt_templates AS t WHERE t.id = r.template_id;
      EXCEPTION WHEN OTHERS THEN
        v_user_id := NULL;
        RAISE WARNING 'live.notify: author lookup for % failed: % (%)', v_table, SQLERRM, SQLSTATE;
      END;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.created_at;
      END IF;

    -- analytics: workspace-scoped (NULL workspace: the platform-wide rows).
    WHEN 'analytics.alert_history' THEN
      v_id := r.id;
      v_workspace := r.workspace_id;
      IF TG_OP = 'INSERT' THEN
        v_ts := r.triggered_at;
      END IF;
    WHEN 'analytics.daily_metrics', 'analytics.hourly_metrics' THEN
      v_id := r.id;
      v_workspace := r.workspace_id;

    ELSE
      RAISE WARNING 'live.notify: no payload rule for %', v_table;
      RETURN NULL;
  END CASE;

  -- NULL for a NULL or infinite timestamp: fall back to the clock.
  v_ts_text := to_char(v_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
  IF v_ts_text IS NULL THEN
    v_ts_text := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
  END IF;

  PERFORM pg_notify('gateway_live', json_build_object(
    'table', v_table,
    'op', TG_OP,
    'id', v_id,
    'user_id', v_user_id,
    'session_id', v_session_id,
    'workspace_id', v_workspace,
    'ts', v_ts_text)::text);
  RETURN NULL;
END
$$;

-- zz_: AFTER triggers of a table fire in name order, so these run after the
-- table's own counter / numbering triggers (and see their effects).
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON lift.sessions
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON lift.session_revisions
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON lift.session_drafts
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON lift.hole_resolutions
  FOR EACH ROW EXECUTE FUNCTION live.notify();

CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON builder.sessions
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON builder.prompts
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON builder.responses
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON builder.steps
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON builder.analytics
  FOR EACH ROW EXECUTE FUNCTION live.notify();

CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON chat.chat_sessions
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON chat.chat_messages
  FOR EACH ROW EXECUTE FUNCTION live.notify();

CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON prompt_lab.prompt_templates
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON prompt_lab.template_likes
  FOR EACH ROW EXECUTE FUNCTION live.notify();

CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON analytics.alert_history
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON analytics.daily_metrics
  FOR EACH ROW EXECUTE FUNCTION live.notify();
CREATE TRIGGER zz_live_notify AFTER INSERT OR UPDATE OR DELETE ON analytics.hourly_metrics
  FOR EACH ROW EXECUTE FUNCTION live.notify();

-- Trigger functions are never called directly (triggers do not check EXECUTE).
REVOKE ALL ON FUNCTION live.notify() FROM PUBLIC;

-- Feed order inside one transaction: a chat exchange stores the user's
-- message and the assistant's answer in one transaction, and now() would give
-- both the same created_at, leaving their order to their random ids. The
-- statement clock keeps rows of one transaction in insertion order (the
-- (created_at, id) cursor stays a total order).
ALTER TABLE chat.chat_messages ALTER COLUMN created_at SET DEFAULT clock_timestamp();
