-- Reverts 0004_analytics: everything lives in the analytics schema.
DROP SCHEMA IF EXISTS analytics CASCADE;
