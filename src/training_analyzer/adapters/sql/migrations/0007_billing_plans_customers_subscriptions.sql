-- 0007: plans with editable limits, payment customers, provider subscriptions.
-- Shared by SQLite and PostgreSQL (types as in 0001). Money in integer cents.

-- One row per tier, seeded by the application from core.tiers.plan_table() (rows that exist
-- win, so an administrator's changes survive restarts). `entitlements` is the JSON list of
-- (feature, measure, limit) the feature gate reads on every request. Not user-owned.
CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rank INTEGER NOT NULL,
    currency TEXT NOT NULL,
    monthly_price_cents BIGINT NOT NULL CHECK (monthly_price_cents >= 0),
    yearly_price_cents BIGINT NOT NULL CHECK (yearly_price_cents >= 0),
    entitlements TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The user's payment-provider customer: created once at the first checkout and reused, so
-- every webhook's customer maps back to exactly one user.
CREATE TABLE billing_customers (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

-- One row per provider subscription. `state` is core.billing.SubscriptionState as JSON (the
-- subscription, the ordering key of the event it came from, the past-due bookkeeping);
-- the other columns repeat what the admin figures filter on. `version` is bumped by every
-- write, which is compare-and-set on it.
CREATE TABLE billing_subscriptions (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    tier TEXT,
    period TEXT,
    ended_at TIMESTAMPTZ,
    last_event_at TIMESTAMPTZ NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, subscription_id)
);
-- Admin figures (system scope): live subscriptions and those that ended in a month.
CREATE INDEX billing_subscriptions_ended ON billing_subscriptions (ended_at);
