-- Drop the prompt lab schema and everything in it. pg_trgm stays: other
-- schemas may use it, and dropping an extension is not this domain's call.
DROP SCHEMA IF EXISTS prompt_lab CASCADE;
