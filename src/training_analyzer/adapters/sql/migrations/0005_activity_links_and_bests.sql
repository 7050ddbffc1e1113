-- 0005: how activities relate (duplicates, multi-sport legs) and the bests of each activity.
-- Shared by SQLite and PostgreSQL (types as in 0001). Both tables are user-owned: user_id
-- first in every key, rows deleted with their activity (and so with their user).

-- One row per activity that has a link. `duplicate_of` names the canonical activity of the
-- same workout recorded by another source (only canonical activities count toward load);
-- `multisport_group`/`multisport_index` tie the legs of one multi-sport file together.
-- A NULL duplicate_of is not checked by its foreign key (MATCH SIMPLE on both engines).
CREATE TABLE activity_links (
    user_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    duplicate_of TEXT,
    multisport_group TEXT,
    multisport_index INTEGER,
    PRIMARY KEY (user_id, activity_id),
    FOREIGN KEY (user_id, activity_id) REFERENCES activities (user_id, id) ON DELETE CASCADE,
    -- The service re-links duplicates before deleting a canonical activity; the cascade only
    -- keeps the table consistent if something else deletes it.
    FOREIGN KEY (user_id, duplicate_of) REFERENCES activities (user_id, id) ON DELETE CASCADE,
    CHECK (duplicate_of IS NULL OR duplicate_of <> activity_id),
    CHECK ((multisport_group IS NULL) = (multisport_index IS NULL))
);
CREATE INDEX activity_links_duplicate_of ON activity_links (user_id, duplicate_of);
CREATE INDEX activity_links_group ON activity_links (user_id, multisport_group);

-- Mean-maximal power (rides) and fastest standard distances (runs) of each activity,
-- computed at import so records and race predictions never decode streams. `day` is the
-- activity's local day in the user's timezone at import; power and efforts are JSON.
CREATE TABLE activity_bests (
    user_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    day DATE NOT NULL,
    sport TEXT NOT NULL,
    power TEXT NOT NULL,
    efforts TEXT NOT NULL,
    PRIMARY KEY (user_id, activity_id),
    FOREIGN KEY (user_id, activity_id) REFERENCES activities (user_id, id) ON DELETE CASCADE
);
CREATE INDEX activity_bests_user_day ON activity_bests (user_id, day);
