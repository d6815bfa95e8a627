-- Drops everything 0002_builder created; all of it lives in the `builder`
-- schema. Safe on a database where up.sql never ran.
DROP SCHEMA IF EXISTS builder CASCADE;
