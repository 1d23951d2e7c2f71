-- Runs once, when the postgres service initialises an empty data volume
-- (docker-entrypoint-initdb.d), as the superuser of docker-compose.yml.
--
-- Temporal's databases: `temporal` is the container's POSTGRES_DB (it defaults to POSTGRES_USER,
-- `temporal`), and the temporal service (temporalio/auto-setup) creates `temporal_visibility` and
-- both schemas itself.
--
-- Each bounded context gets its own database and its own role, so no context can write another's
-- store; the API reads the three contexts' stores with the same URLs and owns `identity`
-- (accounts and sign-in codes) and `quote` (the fares it quoted), which it migrates itself. The
-- passwords are EXAMPLES for a local stack: change them (and the *_DATABASE_URL values in
-- docker-compose.yml) anywhere else.
--
-- This runs only on an empty volume: on a volume created before `identity` or `quote` was added,
-- create the missing one by hand (its two statements, with psql as the `temporal` superuser) or
-- start over with `docker compose down -v` (which deletes every database).
CREATE ROLE payment LOGIN PASSWORD 'payment';
CREATE DATABASE payment OWNER payment;

CREATE ROLE catcher LOGIN PASSWORD 'catcher';
CREATE DATABASE catcher OWNER catcher;

CREATE ROLE dashboard LOGIN PASSWORD 'dashboard';
CREATE DATABASE dashboard OWNER dashboard;

CREATE ROLE identity LOGIN PASSWORD 'identity';
CREATE DATABASE identity OWNER identity;

CREATE ROLE quote LOGIN PASSWORD 'quote';
CREATE DATABASE quote OWNER quote;
