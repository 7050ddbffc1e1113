-- 0001: accounts, athletes, activities, loads, billing, usage and audit.
-- Shared by SQLite and PostgreSQL. Portable types only (see docs/storage.md):
--   TEXT ids (UUIDv7 made in Python); TIMESTAMPTZ is timestamptz on PostgreSQL and integer
--   microseconds since the epoch (UTC) on SQLite; DATE is date / 'YYYY-MM-DD' text;
--   BOOLEAN is boolean / 0-1; DOUBLE PRECISION; BYTEA is bytea / blob; JSON as TEXT.
-- Every user-owned table carries user_id, references users(id) ON DELETE CASCADE, and every
-- index leads with user_id. No defaults that read a clock: the application supplies times.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    email_verified BOOLEAN NOT NULL,
    timezone TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    disabled_at TIMESTAMPTZ
);
-- The admin listing (system scope) pages over every user by creation time.
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE refresh_sessions (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    replaced_by TEXT,
    user_agent TEXT,
    ip TEXT,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX refresh_sessions_family ON refresh_sessions (user_id, family_id);

CREATE TABLE linked_identities (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, provider),
    -- An external account belongs to one user at most; also the login lookup.
    UNIQUE (provider, subject)
);

CREATE TABLE athlete_profiles (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    birth_year INTEGER
);

CREATE TABLE athlete_thresholds (
    user_id TEXT NOT NULL REFERENCES athlete_profiles (user_id) ON DELETE CASCADE,
    effective_from DATE NOT NULL,
    ftp_w DOUBLE PRECISION,
    lthr_bpm DOUBLE PRECISION,
    max_hr_bpm DOUBLE PRECISION,
    rest_hr_bpm DOUBLE PRECISION,
    threshold_pace_s_per_km DOUBLE PRECISION,
    swim_css_s_per_100m DOUBLE PRECISION,
    sex TEXT,
    weight_kg DOUBLE PRECISION,
    PRIMARY KEY (user_id, effective_from)
);

CREATE TABLE activities (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    sport TEXT NOT NULL,
    name TEXT NOT NULL,
    start_time TIMESTAMPTZ NOT NULL,
    utc_offset_s INTEGER NOT NULL,
    source TEXT NOT NULL,
    source_id TEXT,
    device TEXT,
    notes TEXT,
    rpe INTEGER,
    duration_s DOUBLE PRECISION NOT NULL,
    moving_time_s DOUBLE PRECISION,
    distance_m DOUBLE PRECISION,
    elevation_gain_m DOUBLE PRECISION,
    avg_hr_bpm DOUBLE PRECISION,
    max_hr_bpm DOUBLE PRECISION,
    avg_power_w DOUBLE PRECISION,
    max_power_w DOUBLE PRECISION,
    avg_speed_m_s DOUBLE PRECISION,
    max_speed_m_s DOUBLE PRECISION,
    avg_cadence_rpm DOUBLE PRECISION,
    energy_kcal DOUBLE PRECISION,
    laps TEXT NOT NULL,
    metrics TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, id),
    -- A re-import is a Conflict, never a second row (NULL source ids do not collide).
    UNIQUE (user_id, source, source_id)
);
-- Keyset pagination newest first: both engines scan this index backwards from the cursor.
CREATE INDEX activities_user_start ON activities (user_id, start_time, id);
CREATE INDEX activities_user_sport_start ON activities (user_id, sport, start_time, id);

CREATE TABLE activity_streams (
    user_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (user_id, activity_id),
    -- The composite reference keeps streams and their activity in the same tenant.
    FOREIGN KEY (user_id, activity_id) REFERENCES activities (user_id, id) ON DELETE CASCADE
);

CREATE TABLE daily_loads (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    load DOUBLE PRECISION NOT NULL,
    activity_count INTEGER NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    distance_m DOUBLE PRECISION NOT NULL,
    ctl DOUBLE PRECISION,
    atl DOUBLE PRECISION,
    estimated BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE subscriptions (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    status TEXT NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    provider_customer_id TEXT UNIQUE,
    provider_subscription_id TEXT,
    current_period_end TIMESTAMPTZ,
    cancel_at_period_end BOOLEAN NOT NULL
);

CREATE TABLE usage_counters (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    window_key TEXT NOT NULL,
    feature TEXT NOT NULL,
    used INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (user_id, window_key, feature)
);

-- Payment records outlive the account (bookkeeping): the user reference is cleared instead.
CREATE TABLE payment_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    processed_at TIMESTAMPTZ,
    amount_cents BIGINT,
    currency TEXT
);
CREATE INDEX payment_events_user ON payment_events (user_id, received_at);

-- The audit log keeps security events of deleted accounts, detached from the account.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    ip TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_user_at ON audit_log (user_id, at, id);
