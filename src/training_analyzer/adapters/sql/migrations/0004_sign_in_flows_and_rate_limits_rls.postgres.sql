-- 0004 (PostgreSQL only): privileges and row-level security for the tables of 0003.
-- Their rows belong to no user, so the policy admits the system scope only: a unit of work
-- acting for a user sees and writes none of them, even with a query that forgot its purpose.

GRANT SELECT, INSERT, UPDATE, DELETE ON oidc_flows, rate_limit_buckets TO training_analyzer_app;

CREATE FUNCTION app_in_system_scope() RETURNS BOOLEAN
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(current_setting('app.scope', true), '') LIKE 'system:%'
$$;

ALTER TABLE oidc_flows ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_flows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON oidc_flows
    USING (app_in_system_scope()) WITH CHECK (app_in_system_scope());

ALTER TABLE rate_limit_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_limit_buckets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON rate_limit_buckets
    USING (app_in_system_scope()) WITH CHECK (app_in_system_scope());
