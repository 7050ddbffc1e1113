"""The tables of the schema as data: columns with their value kinds, keys, dependency order.

`copy-data` moves rows between dialects with it (a SQLite time is an integer, a PostgreSQL one
a timestamptz, so each column's kind says how to translate), and the contract suite checks it
against the migrated database, so a table or column added by a later migration without an
entry here fails a test instead of being silently left behind by a copy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    """How a column's values are represented in Python."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIME = "time"
    DATE = "date"
    BYTES = "bytes"


@dataclass(frozen=True, slots=True)
class Table:
    """One table: its columns (name → kind) and primary-key columns."""

    name: str
    columns: tuple[tuple[str, Kind], ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in declaration order."""
        return tuple(name for name, _ in self.columns)


T, N, F, B, TM, D, BY = Kind.TEXT, Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.TIME, Kind.DATE, Kind.BYTES

# In dependency order: a table comes after every table it references.
TABLES: tuple[Table, ...] = (
    Table(
        "users",
        (
            ("id", T),
            ("email", T),
            ("display_name", T),
            ("role", T),
            ("password_hash", T),
            ("email_verified", B),
            ("timezone", T),
            ("created_at", TM),
            ("updated_at", TM),
            ("disabled_at", TM),
        ),
        ("id",),
    ),
    Table(
        "refresh_sessions",
        (
            ("user_id", T),
            ("id", T),
            ("family_id", T),
            ("token_hash", T),
            ("created_at", TM),
            ("expires_at", TM),
            ("revoked_at", TM),
            ("replaced_by", T),
            ("user_agent", T),
            ("ip", T),
        ),
        ("user_id", "id"),
    ),
    Table(
        "linked_identities",
        (
            ("user_id", T),
            ("id", T),
            ("provider", T),
            ("subject", T),
            ("email", T),
            ("created_at", TM),
        ),
        ("user_id", "id"),
    ),
    Table("athlete_profiles", (("user_id", T), ("birth_year", N)), ("user_id",)),
    Table(
        "athlete_thresholds",
        (
            ("user_id", T),
            ("effective_from", D),
            ("ftp_w", F),
            ("lthr_bpm", F),
            ("max_hr_bpm", F),
            ("rest_hr_bpm", F),
            ("threshold_pace_s_per_km", F),
            ("swim_css_s_per_100m", F),
            ("sex", T),
            ("weight_kg", F),
        ),
        ("user_id", "effective_from"),
    ),
    Table(
        "activities",
        (
            ("user_id", T),
            ("id", T),
            ("sport", T),
            ("name", T),
            ("start_time", TM),
            ("utc_offset_s", N),
            ("source", T),
            ("source_id", T),
            ("device", T),
            ("notes", T),
            ("rpe", N),
            ("duration_s", F),
            ("moving_time_s", F),
            ("distance_m", F),
            ("elevation_gain_m", F),
            ("avg_hr_bpm", F),
            ("max_hr_bpm", F),
            ("avg_power_w", F),
            ("max_power_w", F),
            ("avg_speed_m_s", F),
            ("max_speed_m_s", F),
            ("avg_cadence_rpm", F),
            ("energy_kcal", F),
            ("laps", T),
            ("metrics", T),
            ("created_at", TM),
            ("updated_at", TM),
        ),
        ("user_id", "id"),
    ),
    Table(
        "activity_streams",
        (("user_id", T), ("activity_id", T), ("data", BY)),
        ("user_id", "activity_id"),
    ),
    Table(
        "activity_links",
        (
            ("user_id", T),
            ("activity_id", T),
            ("duplicate_of", T),
            ("multisport_group", T),
            ("multisport_index", N),
        ),
        ("user_id", "activity_id"),
    ),
    Table(
        "activity_bests",
        (
            ("user_id", T),
            ("activity_id", T),
            ("day", D),
            ("sport", T),
            ("power", T),
            ("efforts", T),
        ),
        ("user_id", "activity_id"),
    ),
    Table(
        "daily_loads",
        (
            ("user_id", T),
            ("day", D),
            ("load", F),
            ("activity_count", N),
            ("duration_s", F),
            ("distance_m", F),
            ("ctl", F),
            ("atl", F),
            ("estimated", B),
        ),
        ("user_id", "day"),
    ),
    Table(
        "subscriptions",
        (
            ("user_id", T),
            ("tier", T),
            ("status", T),
            ("event_at", TM),
            ("updated_at", TM),
            ("provider_customer_id", T),
            ("provider_subscription_id", T),
            ("current_period_end", TM),
            ("cancel_at_period_end", B),
        ),
        ("user_id",),
    ),
    Table(
        "usage_counters",
        (("user_id", T), ("window_key", T), ("feature", T), ("used", N)),
        ("user_id", "window_key", "feature"),
    ),
    Table(
        "payment_events",
        (
            ("id", T),
            ("type", T),
            ("received_at", TM),
            ("user_id", T),
            ("processed_at", TM),
            ("amount_cents", N),
            ("currency", T),
        ),
        ("id",),
    ),
    Table(
        "audit_log",
        (
            ("id", T),
            ("user_id", T),
            ("action", T),
            ("at", TM),
            ("ip", T),
            ("details", T),
        ),
        ("id",),
    ),
    Table(
        "plans",
        (
            ("id", T),
            ("name", T),
            ("rank", N),
            ("currency", T),
            ("monthly_price_cents", N),
            ("yearly_price_cents", N),
            ("entitlements", T),
            ("updated_at", TM),
        ),
        ("id",),
    ),
    Table(
        "billing_customers",
        (("user_id", T), ("customer_id", T), ("created_at", TM)),
        ("user_id",),
    ),
    Table(
        "billing_subscriptions",
        (
            ("user_id", T),
            ("subscription_id", T),
            ("customer_id", T),
            ("status", T),
            ("tier", T),
            ("period", T),
            ("ended_at", TM),
            ("last_event_at", TM),
            ("state", T),
            ("version", N),
            ("updated_at", TM),
        ),
        ("user_id", "subscription_id"),
    ),
)

# Short-lived rows of the system scope (migration 0003): started sign-ins and rate-limit
# windows. They belong to no user and expire within minutes, so copy-data does not move them
# (a copy would only carry expired state); listed so tests can check them against the schema.
TRANSIENT_TABLES: tuple[Table, ...] = (
    Table(
        "oidc_flows",
        (
            ("state_hash", T),
            ("provider", T),
            ("code_verifier", T),
            ("nonce", T),
            ("redirect_uri", T),
            ("return_to", T),
            ("created_at", TM),
            ("expires_at", TM),
        ),
        ("state_hash",),
    ),
    Table("rate_limit_buckets", (("key", T), ("hits", N), ("reset_at", TM)), ("key",)),
)

# Tables that copy-data does not move (each database keeps its own).
NOT_COPIED: frozenset[str] = frozenset({"schema_migrations", *(t.name for t in TRANSIENT_TABLES)})


def table(name: str) -> Table:
    """The registered table called `name` (KeyError if none)."""
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(name)
