-- The PostgreSQL login role the Remit app connects as: it owns nothing, so it cannot disable
-- the append-only triggers, and it may only read and append to the audit trail.
-- Run as the owner of the tables (the role that ran `remit db upgrade`), in the trial database:
--   psql -v app_role=remit_app -v app_password="'…'" -f docs/sql/app_role.sql trial
-- (leave out app_password for a role without a password). `remit db app-role` does the same.
\set ON_ERROR_STOP on
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role') AS create_role \gset
\if :create_role
CREATE ROLE :"app_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
\endif
\if :{?app_password}
ALTER ROLE :"app_role" PASSWORD :app_password;
\endif
BEGIN;
GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM :"app_role";
-- the append-only tables: read and append, never change (the triggers refuse it too)
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event, identity_access_log, alert_delivery
    FROM :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";
COMMIT;
