-- 0008 (PostgreSQL only): privileges and row-level security for the tables of 0007.
-- Customers and subscriptions are user-owned (keyed on the owning user, as in 0002); webhooks
-- reach them in the system scope. Every scope reads plans; only the system scope (seeding, an
-- administrator's change) writes them.

GRANT SELECT, INSERT, UPDATE, DELETE ON plans, billing_customers, billing_subscriptions
TO training_analyzer_app;

ALTER TABLE billing_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON billing_customers
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE billing_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON billing_subscriptions
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE plans FORCE ROW LEVEL SECURITY;
-- Every scope reads (USING true); only the system scope inserts or updates (WITH CHECK) ...
CREATE POLICY tenant ON plans USING (true) WITH CHECK (app_in_system_scope());
-- ... or deletes, which WITH CHECK does not cover.
CREATE POLICY system_deletes ON plans AS RESTRICTIVE FOR DELETE USING (app_in_system_scope());
