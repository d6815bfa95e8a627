-- Drops everything 0005_chat created. The schema's CASCADE also drops the
-- on_auth_user_profile_sync trigger on auth.users (it depends on
-- chat.handle_user_profile_sync()). Safe when up.sql never ran.
DROP SCHEMA IF EXISTS chat CASCADE;
