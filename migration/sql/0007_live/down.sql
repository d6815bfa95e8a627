ALTER TABLE IF EXISTS chat.chat_messages ALTER COLUMN created_at SET DEFAULT now();

-- Reverses 0007_live: the zz_live_notify triggers by name, then the `live`
-- schema and its function (CASCADE would take the triggers along anyway).
-- Safe when up.sql never ran and when the tables are gone already: DROP
-- TRIGGER IF EXISTS skips a missing table or schema.
DROP TRIGGER IF EXISTS zz_live_notify ON lift.sessions;
DROP TRIGGER IF EXISTS zz_live_notify ON lift.session_revisions;
DROP TRIGGER IF EXISTS zz_live_notify ON lift.session_drafts;
DROP TRIGGER IF EXISTS zz_live_notify ON lift.hole_resolutions;
DROP TRIGGER IF EXISTS zz_live_notify ON builder.sessions;
DROP TRIGGER IF EXISTS zz_live_notify ON builder.prompts;
DROP TRIGGER IF EXISTS zz_live_notify ON builder.responses;
DROP TRIGGER IF EXISTS zz_live_notify ON builder.steps;
DROP TRIGGER IF EXISTS zz_live_notify ON builder.analytics;
DROP TRIGGER IF EXISTS zz_live_notify ON chat.chat_sessions;
DROP TRIGGER IF EXISTS zz_live_notify ON chat.chat_messages;
DROP TRIGGER IF EXISTS zz_live_notify ON prompt_lab.prompt_templates;
DROP TRIGGER IF EXISTS zz_live_notify ON prompt_lab.template_likes;
DROP TRIGGER IF EXISTS zz_live_notify ON analytics.alert_history;
DROP TRIGGER IF EXISTS zz_live_notify ON analytics.daily_metrics;
DROP TRIGGER IF EXISTS zz_live_notify ON analytics.hourly_metrics;
DROP SCHEMA IF EXISTS live CASCADE;
