"""Import throughput and fitness-timeline latency, end to end on a SQLite file.

Run from the repository root: `.venv/bin/python bench/import.py [--files N] [--requests N]`.

1. **Import**: N distinct 1-hour 1 Hz rides with HR, power, cadence, speed, GPS and altitude
   (FIT files made with Garmin's official encoder, tests/unit/files/fitgen.py), each imported
   through `ActivityService.import_upload` (sniff, decode, dedup lookup, metrics, bests,
   streams blob, links, daily-load recompute, commit) as one upload each, then the same through
   `POST /activities` in-process (multipart, auth, JSON answer). Prints files per second and
   per-file p50/p95, and where the time goes (decode, metrics and bests, blob packing).
   Target (issue "Activities and analytics"): at least 10 files per second.
2. **Timeline**: an athlete with ten years of training (one activity a day, 3,650 days, loaded
   through the import path) asks `GET /analytics/fitness-timeline?days=3650`; prints p50/p95
   over N requests in-process. Target: p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.unit.files.fitgen, the ride generator

from litestar.testing import AsyncTestClient  # noqa: E402

from tests.unit.files import fitgen  # noqa: E402
from training_analyzer.adapters import files  # noqa: E402
from training_analyzer.adapters.memory.clock import FakeClock  # noqa: E402
from training_analyzer.adapters.sql.migrate import migrate  # noqa: E402
from training_analyzer.container import build_container  # noqa: E402
from training_analyzer.core.activities import Source, Sport, pack_streams  # noqa: E402
from training_analyzer.core.analytics import activity_bests, activity_metrics  # noqa: E402
from training_analyzer.core.athletes import Thresholds  # noqa: E402
from training_analyzer.core.metrics.streams import Streams  # noqa: E402
from training_analyzer.core.parsed import ParsedActivity  # noqa: E402
from training_analyzer.entrypoints.http.app import create_app  # noqa: E402
from training_analyzer.logging import configure_logging  # noqa: E402
from training_analyzer.services.activities import PendingActivity  # noqa: E402
from training_analyzer.settings import (  # noqa: E402
    Environment,
    LogFormat,
    LogLevel,
    Secret,
    Settings,
)

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PASSWORD = "benchmark password"
THRESHOLDS = {
    "effective_from": "2010-01-01",
    "ftp_w": 250,
    "lthr_bpm": 168,
    "max_hr_bpm": 188,
    "rest_hr_bpm": 48,
    "threshold_pace_s_per_km": 255,
}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def settings_for(db: Path) -> Settings:
    """Settings of a fresh SQLite file, quiet logs, fixed keys, no demo."""
    return Settings(
        env=Environment.TEST,
        database_url=f"sqlite:///{db}",
        jwt_keys=Secret("bench:" + "k" * 48),
        log_level=LogLevel.WARNING,
        demo_data=False,
        register_limit_per_ip=1_000_000,
    )


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    """Seconds one awaited call takes."""
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


async def bench_import(n: int) -> None:
    """Import N distinct one-hour rides, through the service and through HTTP."""
    print(f"generating {2 * n} one-hour 1 Hz FIT rides with the official encoder ...", flush=True)
    rides = [fitgen.one_hour_ride(start=NOW - timedelta(days=k + 1, hours=2)) for k in range(2 * n)]
    print(f"  {len(rides[0]) / 1000:.0f} kB each")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        await migrate(f"sqlite:///{db}")
        container = build_container(settings_for(db))
        container.override("clock", FakeClock(NOW))
        async with AsyncTestClient(app=create_app(container)) as client:
            tokens = (
                await client.post(
                    "/auth/register", json={"email": "bench@example.com", "password": PASSWORD}
                )
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert (await client.put("/me/thresholds", json=THRESHOLDS, headers=headers)).is_success
            me = (await client.get("/me", headers=headers)).json()
            service = await container.activities()
            service_times = [
                await timed(
                    lambda data=data, k=k: service.import_upload(  # type: ignore[misc]
                        user_id=me["id"], data=data, filename=f"ride-{k}.fit"
                    )
                )
                for k, data in enumerate(rides[:n])
            ]
            http_times = []
            for k, data in enumerate(rides[n:]):
                start = time.perf_counter()
                response = await client.post(
                    "/activities",
                    files={"file": (f"http-{k}.fit", data, "application/octet-stream")},
                    headers=headers,
                )
                http_times.append(time.perf_counter() - start)
                assert response.status_code == 201, response.text
            listed = await client.get("/activities", params={"limit": 200}, headers=headers)
            assert len(listed.json()["items"]) == 2 * n
    parsed = files.parse_fit(data=rides[0])
    activity = parsed.activities[0]
    thresholds = Thresholds(effective_from=date(2010, 1, 1), ftp_w=250, lthr_bpm=168,
                            max_hr_bpm=188, rest_hr_bpm=48)  # fmt: skip
    parts = {
        "decode (parse_fit)": lambda: files.parse_fit(data=rides[0]),
        "metrics (activity_metrics)": lambda: activity_metrics(
            sport=activity.sport,
            summary=activity.summary(),
            streams=activity.streams,
            thresholds=thresholds,
        ),
        "bests (activity_bests)": lambda: activity_bests(
            activity_id="x", sport=activity.sport, day=NOW.date(), streams=activity.streams
        ),
        "streams blob (pack_streams)": lambda: pack_streams(activity.streams),
    }
    print(f"\n{'import path':<40} {'files/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for label, times in (
        ("service: import_upload, one file each", service_times),
        ("HTTP: POST /activities (in-process)", http_times),
    ):
        rate = len(times) / sum(times)
        p50 = statistics.median(times) * 1000
        p95 = percentile(times, 95) * 1000
        print(f"{label:<40} {rate:>8.1f} {p50:>8.1f} {p95:>8.1f}")
    print(f"\n{'where a file goes (best of 5)':<40} {'ms':>8}")
    for label, action in parts.items():
        best = min(_clock(action) for _ in range(5))
        print(f"{label:<40} {best * 1000:>8.1f}")
    print("target: >= 10 files/s end to end")


def _clock(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ten_years(user_days: int = 3650) -> list[PendingActivity]:
    """One summary-only activity a day for ten years (alternating ride, run, swim)."""
    sports = (Sport.RIDE, Sport.RUN, Sport.RIDE, Sport.SWIM, Sport.RUN, Sport.RIDE, Sport.RUN)
    first = NOW - timedelta(days=user_days)
    out = []
    for k in range(user_days):
        start = first + timedelta(days=k, hours=-1)
        seconds = 1800.0 + (k * 37) % 5400
        out.append(
            PendingActivity(
                file=f"day-{k}",
                parsed=ParsedActivity(
                    sport=sports[k % len(sports)],
                    start_time=start,
                    elapsed_s=seconds,
                    timer_s=seconds,
                    distance_m=seconds * 5.0,
                    avg_hr_bpm=120.0 + (k * 13) % 40,
                    streams=Streams(time_s=[]),
                ),
                source=Source.FILE,
                source_id=f"bench-{k}",
            )
        )
    return out


async def bench_timeline(requests: int) -> None:
    """p50/p95 of the ten-year fitness timeline for an athlete with ten years of data."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "timeline.db"
        await migrate(f"sqlite:///{db}")
        container = build_container(settings_for(db))
        container.override("clock", FakeClock(NOW))
        async with AsyncTestClient(app=create_app(container)) as client:
            tokens = (
                await client.post(
                    "/auth/register", json={"email": "decade@example.com", "password": PASSWORD}
                )
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            await client.put("/me/thresholds", json=THRESHOLDS, headers=headers)
            me = (await client.get("/me", headers=headers)).json()
            service = await container.activities()
            pending = ten_years()
            started = time.perf_counter()
            for first in range(0, len(pending), 365):
                await service.import_parsed(user_id=me["id"], pending=pending[first : first + 365])
            loaded_s = time.perf_counter() - started
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                response = await client.get(
                    "/analytics/fitness-timeline", params={"days": 3650}, headers=headers
                )
                times.append(time.perf_counter() - start)
                assert response.status_code == 200
            days = response.json()["days"]
            assert len(days) == 3650
            assert sum(1 for d in days if d["load"] > 0) >= 3600
    print(
        f"\nten years loaded through import_parsed in yearly batches: {len(pending)} activities "
        f"in {loaded_s:.1f} s"
    )
    print(f"{'GET /analytics/fitness-timeline?days=3650':<44} {'p50 ms':>8} {'p95 ms':>8}")
    p50 = statistics.median(times) * 1000
    p95 = percentile(times, 95) * 1000
    print(f"{f'{requests} requests, in-process':<44} {p50:>8.1f} {p95:>8.1f}")
    print("target: p95 < 50 ms")


def main() -> None:
    """Run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=30, help="rides per import path")
    parser.add_argument("--requests", type=int, default=100, help="timeline requests")
    args = parser.parse_args()
    configure_logging(level=LogLevel.WARNING, fmt=LogFormat.CONSOLE)
    asyncio.run(bench_import(args.files))
    asyncio.run(bench_timeline(args.requests))


if __name__ == "__main__":
    main()
