-- lift (seed 001): everything lives in the lift schema.
DROP SCHEMA IF EXISTS lift CASCADE;
