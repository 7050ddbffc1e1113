-- 0003: started external sign-ins, shared rate-limit counters, the admin audit listing.
-- Shared by SQLite and PostgreSQL (types as in 0001). Neither new table holds user-owned rows:
-- both are reached only in the system scope, and both hold short-lived rows that the
-- accounts service purges once they expire, so copy-data leaves them behind.

-- One row per started sign-in, keyed by the SHA-256 of its state; taken (deleted) by the
-- callback, so each state works once.
CREATE TABLE oidc_flows (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    return_to TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);

-- One fixed window per key ("login:ip:203.0.113.9", "login:account:<sha256>"); one atomic
-- upsert counts a hit, so every instance sees the same count.
CREATE TABLE rate_limit_buckets (
    key TEXT PRIMARY KEY,
    hits INTEGER NOT NULL CHECK (hits >= 1),
    reset_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_limit_buckets_reset ON rate_limit_buckets (reset_at);

-- Administrators page over every user's events newest first.
CREATE INDEX audit_log_at ON audit_log (at, id);
