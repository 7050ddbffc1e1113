-- 0002 (PostgreSQL only): row-level security, the second wall behind the query filters.
--
-- The application works as the role training_analyzer_app: not a superuser, no BYPASSRLS,
-- data privileges only (no DDL). Every unit of work sets two transaction-local settings:
--   app.user_id  the acting user ('' in the system scope)
--   app.scope    'user', or 'system:<reason>' for a named cross-user operation
-- A row is visible and writable when it belongs to app.user_id, or in the system scope.
-- FORCE makes the policies bind the table owner too, so only superusers and BYPASSRLS roles
-- (migrations, operators) see past them.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'training_analyzer_app') THEN
        CREATE ROLE training_analyzer_app NOLOGIN;
    END IF;
EXCEPTION
    -- Another instance created it between the check and the CREATE.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO training_analyzer_app', current_schema());
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    users, refresh_sessions, linked_identities, athlete_profiles, athlete_thresholds,
    activities, activity_streams, daily_loads, subscriptions, usage_counters,
    payment_events, audit_log
TO training_analyzer_app;
GRANT SELECT ON schema_migrations TO training_analyzer_app;

CREATE FUNCTION app_may_access(owner TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT owner = current_setting('app.user_id', true)
        OR coalesce(current_setting('app.scope', true), '') LIKE 'system:%'
$$;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON users USING (app_may_access(id)) WITH CHECK (app_may_access(id));

ALTER TABLE refresh_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON refresh_sessions
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE linked_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE linked_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON linked_identities
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE athlete_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE athlete_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON athlete_profiles
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE athlete_thresholds ENABLE ROW LEVEL SECURITY;
ALTER TABLE athlete_thresholds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON athlete_thresholds
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE activities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON activities
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE activity_streams ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_streams FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON activity_streams
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE daily_loads ENABLE ROW LEVEL SECURITY;
ALTER TABLE daily_loads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON daily_loads
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON subscriptions
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE usage_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_counters
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

-- Rows without a user (webhooks for unknown customers, failed logins for unknown emails)
-- are visible in the system scope only: NULL never equals the acting user.
ALTER TABLE payment_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON payment_events
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_log
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));
