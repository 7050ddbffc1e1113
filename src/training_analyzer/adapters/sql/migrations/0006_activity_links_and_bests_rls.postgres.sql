-- 0006 (PostgreSQL only): privileges and row-level security for the tables of 0005, keyed on
-- the owning user like every user-owned table (0002).

GRANT SELECT, INSERT, UPDATE, DELETE ON activity_links, activity_bests TO training_analyzer_app;

ALTER TABLE activity_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON activity_links
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));

ALTER TABLE activity_bests ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_bests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON activity_bests
    USING (app_may_access(user_id)) WITH CHECK (app_may_access(user_id));
