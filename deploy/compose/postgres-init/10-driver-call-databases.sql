-- Runs once, when the postgres service initialises an empty data volume
-- (docker-entrypoint-initdb.d), as the superuser of docker-compose.yml.
--
-- Temporal's databases: `temporal` is the container's POSTGRES_DB (it defaults to POSTGRES_USER,
-- `temporal`), and the temporal service (temporalio/auto-setup) creates `temporal_visibility` and
-- both schemas itself.
--
-- Each bounded context gets its own database and its own role, so no context can write another's
-- store; the API reads all three with the same URLs. The passwords are EXAMPLES for a local
-- stack: change them (and the *_DATABASE_URL values in docker-compose.yml) anywhere else.
CREATE ROLE payment LOGIN PASSWORD 'payment';
CREATE DATABASE payment OWNER payment;

CREATE ROLE catcher LOGIN PASSWORD 'catcher';
CREATE DATABASE catcher OWNER catcher;

CREATE ROLE dashboard LOGIN PASSWORD 'dashboard';
CREATE DATABASE dashboard OWNER dashboard;
