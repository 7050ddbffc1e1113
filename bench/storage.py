"""Storage benchmark: bulk insert rate and read latencies on SQLite and PostgreSQL.

Seeds USERS x ACTIVITIES activities (default 1,000 x 1,000) plus a year of daily loads per
user through the storage port, then times, one request at a time and each in its own unit of
work (transaction included, as a request would run it):

- the first page of a user's activities (20 per page);
- a page 500 pages deep (2 per page, so with 1,000 activities it exists for every user; the
  keyset cursor is built from the seeded rows, exactly what walking 499 pages would return);
- the deepest page at 20 per page (page 50);
- one user's daily loads for a year (365 rows).

PostgreSQL runs as the non-superuser application role, so row-level security is in force. The
SQLite file lives in a temporary directory; the PostgreSQL schema is created for the run and
dropped at the end. Usage:

    python bench/storage.py [--users N] [--activities-per-user N] [--dialects sqlite,postgres]
                            [--postgres-dsn DSN] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from training_analyzer.adapters.sql.migrate import migrate
from training_analyzer.adapters.sql.postgres import APP_ROLE, PostgresStorage
from training_analyzer.adapters.sql.sqlite import SqliteStorage
from training_analyzer.core.accounts import User
from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    DailyLoad,
    Lap,
    LoadMethod,
    Source,
    Sport,
    Summary,
)
from training_analyzer.core.pagination import Cursor, encode_cursor
from training_analyzer.ids import new_id
from training_analyzer.ports.storage import Storage

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
EPOCH = datetime(2022, 1, 1, 6, 0, tzinfo=UTC)
SPORTS = (Sport.RUN, Sport.RIDE, Sport.RIDE, Sport.VIRTUAL_RIDE, Sport.SWIM, Sport.TRAIL_RUN)
USERS_PER_TRANSACTION = 10


@dataclass
class Figures:
    """What one dialect measured."""

    dialect: str
    activities: int
    daily_loads: int
    insert_s: float
    loads_insert_s: float
    latencies_ms: dict[str, list[float]]
    size_mb: float


def _activity(rng: random.Random, user_id: str, index: int, now: datetime) -> Activity:
    duration = rng.uniform(1800, 10_800)
    start = EPOCH + timedelta(days=index, minutes=rng.randint(0, 600), seconds=rng.random())
    sport = SPORTS[index % len(SPORTS)]
    return Activity(
        id=new_id(),
        user_id=user_id,
        sport=sport,
        name=f"{sport.value.replace('_', ' ')} {index}",
        start_time=start,
        utc_offset_s=3600,
        source=Source.GARMIN,
        source_id=str(10_000_000 + index),
        device="Forerunner 965",
        summary=Summary(
            duration_s=duration,
            moving_time_s=duration * 0.95,
            distance_m=duration * rng.uniform(2.5, 9.0),
            elevation_gain_m=rng.uniform(0, 900),
            avg_hr_bpm=rng.uniform(120, 160),
            max_hr_bpm=rng.uniform(165, 190),
            avg_power_w=rng.uniform(150, 260) if sport.family.value == "ride" else None,
            avg_speed_m_s=rng.uniform(2.5, 9.0),
            energy_kcal=duration / 4,
        ),
        laps=(
            Lap(start_offset_s=0.0, duration_s=duration / 2, distance_m=5000.0),
            Lap(start_offset_s=duration / 2, duration_s=duration / 2, distance_m=5000.0),
        ),
        metrics=ActivityMetrics(load=rng.uniform(20, 200), load_method=LoadMethod.HR_TSS),
        created_at=now,
        updated_at=now,
    )


async def _seed(
    storage: Storage, users: int, per_user: int, load_days: int
) -> tuple[list[str], float, float, int]:
    """Create users, activities and daily loads; return ids and the insert times."""
    rng = random.Random(2024)
    now = datetime.now(UTC)
    user_ids = [new_id() for _ in range(users)]
    async with storage.system(reason="bench-seed") as uow:
        for uid in user_ids:
            await uow.users.add(
                user_id=uid,
                user=User(
                    id=uid,
                    email=f"{uid}@bench.example.org",
                    display_name="bench",
                    created_at=now,
                    updated_at=now,
                ),
            )
    insert_s = 0.0
    for i in range(0, users, USERS_PER_TRANSACTION):
        group = user_ids[i : i + USERS_PER_TRANSACTION]
        batches = [[_activity(rng, uid, n, now) for n in range(per_user)] for uid in group]
        started = time.perf_counter()
        async with storage.system(reason="bench-seed") as uow:
            for uid, batch in zip(group, batches, strict=True):
                await uow.activities.add_many(user_id=uid, activities=batch)
        insert_s += time.perf_counter() - started
        done = min(i + USERS_PER_TRANSACTION, users)
        print(f"\r  activities: {done * per_user:>10,} rows", end="", file=sys.stderr)
    print(file=sys.stderr)
    loads_s = 0.0
    first_day = date(2024, 1, 1)
    for i in range(0, users, USERS_PER_TRANSACTION):
        group = user_ids[i : i + USERS_PER_TRANSACTION]
        rows = [
            [
                DailyLoad(
                    user_id=uid,
                    day=first_day + timedelta(days=d),
                    load=rng.uniform(0, 150),
                    activity_count=1,
                    duration_s=3600.0,
                    distance_m=10_000.0,
                    ctl=rng.uniform(40, 80),
                    atl=rng.uniform(40, 100),
                )
                for d in range(load_days)
            ]
            for uid in group
        ]
        started = time.perf_counter()
        async with storage.system(reason="bench-seed") as uow:
            for uid, loads in zip(group, rows, strict=True):
                await uow.daily_loads.upsert(user_id=uid, loads=loads)
        loads_s += time.perf_counter() - started
    return user_ids, insert_s, loads_s, users * load_days


async def _cursors(storage: Storage, user_id: str, positions: list[int]) -> list[str | None]:
    """The cursors a client holds after reading each number of rows, newest first."""
    async with storage.system(reason="bench-cursor") as uow:
        everything = await uow.activities.between(
            user_id=user_id,
            start_from=EPOCH - timedelta(days=1),
            start_to=EPOCH + timedelta(days=100_000),
        )
    newest_first = sorted(everything, key=lambda a: (a.start_time, a.id), reverse=True)
    cursors: list[str | None] = []
    for rows_before in positions:
        if rows_before <= 0 or rows_before > len(newest_first):
            cursors.append(None)
            continue
        last = newest_first[rows_before - 1]
        cursors.append(encode_cursor(Cursor(at=last.start_time, id=last.id), kind="activities"))
    return cursors


async def _time(samples: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    for i in range(min(50, samples)):  # warm-up: caches, prepared statements
        await call(i)
    out = []
    for i in range(samples):
        started = time.perf_counter_ns()
        await call(i)
        out.append((time.perf_counter_ns() - started) / 1e6)
    return out


async def _measure(
    storage: Storage, user_ids: list[str], per_user: int, samples: int, load_days: int
) -> dict[str, list[float]]:
    rng = random.Random(7)
    sample_users = [rng.choice(user_ids) for _ in range(samples)]
    deep_500: dict[str, str | None] = {}
    deep_50: dict[str, str | None] = {}
    for uid in set(sample_users):
        deep_500[uid], deep_50[uid] = await _cursors(
            storage, uid, [min(499 * 2, per_user - 2), min(49 * 20, max(per_user - 20, 0))]
        )

    async def page(uid: str, cursor: str | None, limit: int) -> int:
        async with storage.unit_of_work(user_id=uid) as uow:
            result = await uow.activities.page(user_id=uid, cursor=cursor, limit=limit)
        assert len(result.items) == limit, "benchmark page came back short"
        return len(result.items)

    async def year(uid: str) -> int:
        async with storage.unit_of_work(user_id=uid) as uow:
            rows = await uow.daily_loads.range(
                user_id=uid, day_from=date(2024, 1, 1), day_to=date(2025, 1, 1)
            )
        assert len(rows) == min(load_days, 366), "benchmark year came back short"
        return len(rows)

    n = len(sample_users)
    return {
        "first page (20/page)": await _time(samples, lambda i: page(sample_users[i % n], None, 20)),
        "page 500 deep (2/page)": await _time(
            samples, lambda i: page(sample_users[i % n], deep_500[sample_users[i % n]], 2)
        ),
        "page 50 deep (20/page)": await _time(
            samples, lambda i: page(sample_users[i % n], deep_50[sample_users[i % n]], 20)
        ),
        "daily loads, 1 year": await _time(samples, lambda i: year(sample_users[i % n])),
    }


def _with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir()) / 1e6


async def run_sqlite(args: argparse.Namespace) -> Figures:
    """Seed and measure SQLite in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-") as folder:
        path = Path(folder) / "bench.db"
        await migrate(f"sqlite:///{path}")
        storage = await SqliteStorage.open(path=str(path))
        try:
            figures = await _run(storage, "sqlite", args)
        finally:
            await storage.close()
        size = await asyncio.to_thread(_folder_mb, Path(folder))
    figures.size_mb = size
    return figures


async def run_postgres(args: argparse.Namespace) -> Figures:
    """Seed and measure PostgreSQL in a schema created and dropped for the run."""
    schema = f"ta_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.postgres_dsn, timeout=5)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        dsn = _with_search_path(args.postgres_dsn, schema)
        await migrate(dsn)
        storage = await PostgresStorage.open(dsn=dsn, app_role=APP_ROLE)
        try:
            figures = await _run(storage, "postgres", args, admin=admin, schema=schema)
        finally:
            await storage.close()
        size = await admin.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 "
            "AND c.relkind = 'r'",
            schema,
        )
        figures.size_mb = int(size or 0) / 1e6
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
    return figures


async def _run(
    storage: Storage,
    dialect: str,
    args: argparse.Namespace,
    *,
    admin: asyncpg.Connection[asyncpg.Record] | None = None,
    schema: str = "",
) -> Figures:
    print(
        f"{dialect}: seeding {args.users:,} users x {args.activities_per_user:,}", file=sys.stderr
    )
    user_ids, insert_s, loads_s, loads = await _seed(
        storage, args.users, args.activities_per_user, args.load_days
    )
    if admin is not None:
        # What autovacuum would do shortly after a bulk load; without statistics the planner
        # guesses row counts.
        await admin.execute(f'ANALYZE "{schema}".activities, "{schema}".daily_loads')
    print(f"{dialect}: measuring {args.samples} requests per figure", file=sys.stderr)
    latencies = await _measure(
        storage, user_ids, args.activities_per_user, args.samples, args.load_days
    )
    return Figures(
        dialect=dialect,
        activities=args.users * args.activities_per_user,
        daily_loads=loads,
        insert_s=insert_s,
        loads_insert_s=loads_s,
        latencies_ms=latencies,
        size_mb=0.0,
    )


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _print(results: list[Figures]) -> None:
    print()
    print(f"{'dialect':<10} {'figure':<26} {'value':>22}")
    print("-" * 60)
    for f in results:
        rate = f.activities / f.insert_s if f.insert_s else 0.0
        loads_rate = f.daily_loads / f.loads_insert_s if f.loads_insert_s else 0.0
        print(f"{f.dialect:<10} {'activities inserted':<26} {f.activities:>22,}")
        print(f"{f.dialect:<10} {'bulk insert, activities':<26} {rate:>15,.0f} rows/s")
        print(f"{f.dialect:<10} {'bulk insert, daily loads':<26} {loads_rate:>15,.0f} rows/s")
        print(f"{f.dialect:<10} {'database size':<26} {f.size_mb:>19,.0f} MB")
        for name, values in f.latencies_ms.items():
            p50, p95 = _percentile(values, 50), _percentile(values, 95)
            print(f"{f.dialect:<10} {name:<26} {f'p50 {p50:.2f} / p95 {p95:.2f} ms':>22}")
        print("-" * 60)


def main() -> None:
    """Parse flags, run the selected dialects, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--activities-per-user", type=int, default=1000)
    parser.add_argument("--load-days", type=int, default=365)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--dialects", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get("TEST_POSTGRES_DSN", DEFAULT_DSN),
        help="a role that may create a schema (default: $TEST_POSTGRES_DSN or the local server)",
    )
    args = parser.parse_args()
    if args.activities_per_user < 1000:
        print(
            "note: fewer than 1,000 activities per user: deep pages are clamped to the last one",
            file=sys.stderr,
        )
    results = []
    for dialect in args.dialects.split(","):
        runner = {"sqlite": run_sqlite, "postgres": run_postgres}[dialect.strip()]
        try:
            results.append(asyncio.run(runner(args)))
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            # An unreachable server should not hide the other dialect's figures.
            print(f"{dialect}: skipped, database unreachable: {exc}", file=sys.stderr)
    _print(results)


if __name__ == "__main__":
    main()
