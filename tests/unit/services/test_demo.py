"""The demo generator and seeder: six deterministic, periodised months through the import path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from training_analyzer.adapters import files
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.core.activities import Sport
from training_analyzer.services.activities import ActivityService
from training_analyzer.services.analytics import AnalyticsService
from training_analyzer.services.demo import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_SEED,
    DEMO_TIMEZONE,
    FTP_AFTER_TEST_W,
    DemoSeeder,
    demo_activities,
    demo_thresholds,
    generate_activity,
    plan_sessions,
    session_count,
)

END = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


class FakePasswordHasher:
    """Hashes by prefixing, and records what it hashed."""

    def __init__(self) -> None:
        self.hashed: list[str] = []

    async def hash(self, *, password: str) -> str:
        self.hashed.append(password)
        return "fake$" + password

    async def verify(self, *, password: str, password_hash: str) -> bool:
        return password_hash == "fake$" + password

    def needs_rehash(self, *, password_hash: str) -> bool:
        return False

    async def verify_dummy(self, *, password: str) -> None:
        return None


def test_the_plan_is_deterministic_for_a_seed() -> None:
    first = plan_sessions(end=END)
    assert plan_sessions(end=END) == first
    assert plan_sessions(end=END, seed=DEMO_SEED + 1) != first


def test_the_plan_covers_six_months_of_runs_rides_and_swims() -> None:
    sessions = plan_sessions(end=END)
    tz_days = [s.start.date() for s in sessions]
    assert min(tz_days) >= END.date() - timedelta(weeks=26)
    assert all(s.start <= END for s in sessions)
    counts = session_count(sessions)
    # Six planned sessions a week for 26 weeks, about 8 % skipped, the future ones left out.
    assert 120 <= sum(counts.values()) <= 156
    assert set(counts) == {"run", "ride", "swim"}
    assert counts["swim"] >= 20


def test_recovery_weeks_are_lighter_than_build_weeks() -> None:
    sessions = plan_sessions(end=END)
    first_monday = min(s.start for s in sessions).date()
    first_monday -= timedelta(days=first_monday.weekday())
    planned: dict[int, int] = {}
    for s in sessions:
        week = (s.start.date() - first_monday).days // 7
        planned[week] = planned.get(week, 0) + sum(seg.duration_s for seg in s.segments)
    build_weeks = [planned[w] for w in planned if w % 4 == 2]
    recovery_weeks = [planned[w] for w in planned if w % 4 == 3 and w < 24]
    # A recovery week is planned at 65 % of the first build week (and has no intervals).
    assert max(recovery_weeks) < min(build_weeks)


def test_rides_carry_1hz_power_and_heart_rate_and_swims_a_summary() -> None:
    sessions = plan_sessions(end=END)
    ride = next(s for s in sessions if s.sport is Sport.RIDE)
    swim = next(s for s in sessions if s.sport is Sport.SWIM)
    parsed_ride = generate_activity(ride, seed=1)
    streams = parsed_ride.streams
    assert streams.power_w is not None
    assert streams.hr_bpm is not None
    assert streams.time_s[:3] == [0.0, 1.0, 2.0]
    assert len(streams.time_s) == sum(seg.duration_s for seg in ride.segments)
    assert len(parsed_ride.laps) == len(ride.segments)
    parsed_swim = generate_activity(swim, seed=2)
    assert parsed_swim.streams.time_s == []
    assert parsed_swim.avg_hr_bpm is not None
    assert parsed_swim.distance_m is not None


def test_the_ftp_test_raises_ftp_twelve_weeks_before_the_end() -> None:
    baseline, test = demo_thresholds(end=date(2026, 3, 4))
    assert baseline.effective_from == date(2026, 3, 4) - timedelta(weeks=26)
    assert test.effective_from == date(2026, 3, 4) - timedelta(weeks=12)
    assert test.ftp_w == FTP_AFTER_TEST_W


def test_source_ids_are_unique_so_a_reseed_would_match_every_activity() -> None:
    pending = demo_activities(end=END, weeks=4)
    ids = [p.source_id for p in pending]
    assert len(set(ids)) == len(ids)


@pytest.fixture
def seeder() -> tuple[DemoSeeder, InMemoryStorage, FakeClock, FakePasswordHasher]:
    """A seeder on fakes (the real file decoders are never called: the demo is pre-decoded)."""
    storage = InMemoryStorage()
    clock = FakeClock(END)
    hasher = FakePasswordHasher()
    activities = ActivityService(storage=storage, clock=clock, files=files)
    return (
        DemoSeeder(storage=storage, clock=clock, hasher=hasher, activities=activities),
        storage,
        clock,
        hasher,
    )


async def test_seeding_creates_the_athlete_once_with_a_full_chart(
    seeder: tuple[DemoSeeder, InMemoryStorage, FakeClock, FakePasswordHasher],
) -> None:
    demo, storage, clock, hasher = seeder
    login = await demo.seed(weeks=8)
    assert (login.email, login.password, login.created) == (DEMO_EMAIL, DEMO_PASSWORD, True)
    assert hasher.hashed == [DEMO_PASSWORD]
    again = await demo.seed(weeks=8)
    assert (again.created, again.user_id) == (False, login.user_id)
    assert hasher.hashed == [DEMO_PASSWORD]
    async with storage.unit_of_work(user_id=login.user_id) as uow:
        user = await uow.users.get(user_id=login.user_id)
        assert user is not None
        assert user.timezone == DEMO_TIMEZONE
        page = await uow.activities.page(user_id=login.user_id, limit=200)
    assert len(page.items) == login.activity_count > 30
    timeline = await AnalyticsService(storage=storage, clock=clock).fitness_timeline(
        user_id=login.user_id, days=56
    )
    # Eight weeks of five to six sessions build fitness from zero.
    assert timeline.days[-1].ctl > 20
    assert sum(d.load for d in timeline.days) > 2000
