"""The activity service on fakes: in-memory storage, a fake clock, a fake file reader.

Loads here are exact by construction: a ride at constant power P for t seconds with FTP F
scores t/3600 x (P/F)^2 x 100 TSS (Coggan; NP of a constant stream is the stream itself), and
the PMC follows ARCHITECTURE.md section 7a.
"""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.services.activity_world import NOW, UID, World, ride, tss
from training_analyzer.core.activities import DailyLoad, Source, Sport
from training_analyzer.core.analytics import DayLoad, daily_load_series, fitness_timeline
from training_analyzer.core.athletes import Thresholds
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.parsed import ParsedActivity
from training_analyzer.services.activities import (
    DuplicateMatch,
    ImportStatus,
    PendingActivity,
    complete_streams,
    complete_summary,
    default_name,
    source_id_of,
)


@pytest.fixture
async def world() -> World:
    """A user in UTC with FTP 250 W since 2000."""
    return await World().setup()


# --- import, metrics, dedup ----------------------------------------------------------------


async def test_an_import_scores_with_the_thresholds_of_its_day() -> None:
    w = await World(
        thresholds=[
            Thresholds(effective_from=date(2026, 1, 1), ftp_w=250.0),
            Thresholds(effective_from=date(2026, 2, 1), ftp_w=200.0),
        ]
    ).setup()
    report = await w.service.import_upload(
        user_id=UID,
        data=w.register("jan.fit", ride(datetime(2026, 1, 15, 7, tzinfo=UTC))),
        filename="jan.fit",
    )
    january = report.activities[0].activity.metrics
    february = (
        (
            await w.service.import_upload(
                user_id=UID,
                data=w.register("feb.fit", ride(datetime(2026, 2, 15, 7, tzinfo=UTC))),
                filename="feb.fit",
            )
        )
        .activities[0]
        .activity.metrics
    )
    assert january is not None
    assert february is not None
    assert january.load == pytest.approx(tss(3600, 250, 250.0))
    assert february.load == pytest.approx(tss(3600, 250, 200.0))  # IF 1.25 -> 156.25


async def test_the_source_id_is_the_sha256_of_the_file(world: World) -> None:
    data = world.register("a.fit", ride(datetime(2026, 2, 1, 7, tzinfo=UTC)))
    report = await world.service.import_upload(user_id=UID, data=data, filename="a.fit")
    activity = report.activities[0].activity
    # FIPS 180-4 test vector: SHA-256("abc").
    assert source_id_of(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert activity.source is Source.FILE
    assert activity.source_id == source_id_of(data)


async def test_the_same_file_again_is_matched_and_nothing_is_stored(world: World) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    data = world.register("a.fit", ride(start))
    world.register("copy.fit", ride(start))
    first = await world.service.import_upload(user_id=UID, data=data, filename="a.fit")
    again = await world.service.import_upload(user_id=UID, data=data, filename="copy.fit")
    (item,) = again.activities
    assert item.status is ImportStatus.DUPLICATE
    assert item.match is DuplicateMatch.SAME_FILE
    assert item.activity.id == first.activities[0].activity.id
    assert item.duplicate_of == first.activities[0].activity.id
    assert await world.count() == 1


@pytest.mark.parametrize(
    ("shift_s", "seconds", "sport", "linked"),
    [
        (120, 3601, Sport.RIDE, True),  # +-2 min is inclusive
        (-120, 3601, Sport.VIRTUAL_RIDE, True),  # same family
        (121, 3601, Sport.RIDE, False),
        (0, 4001, Sport.RIDE, True),  # 3,600 s vs 4,000 s: exactly 10 % of the longer
        (0, 4011, Sport.RIDE, False),  # 3,600 s vs 4,010 s: 10.2 %
        (0, 3601, Sport.RUN, False),  # another family
    ],
)
async def test_the_same_workout_from_another_source_follows_the_rule(
    world: World, shift_s: int, seconds: int, sport: Sport, linked: bool
) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    (canonical,) = await world.upload("garmin.fit", ride(start, seconds=3601))
    other = ride(start + timedelta(seconds=shift_s), seconds=seconds, sport=sport)
    report = await world.service.import_upload(
        user_id=UID, data=world.register("strava.fit", other), filename="strava.fit"
    )
    (item,) = report.activities
    assert await world.count() == 2
    if linked:
        assert item.status is ImportStatus.DUPLICATE
        assert item.match is DuplicateMatch.SAME_WORKOUT
        assert item.duplicate_of == canonical
    else:
        assert item.status is ImportStatus.IMPORTED
        assert item.duplicate_of is None


async def test_only_the_canonical_activity_counts_toward_load(world: World) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    await world.upload("garmin.fit", ride(start, power_w=250))
    await world.upload("strava.fit", ride(start + timedelta(seconds=30), power_w=300))
    assert await world.load_by_day() == {date(2026, 2, 1): pytest.approx(tss(3600, 250))}
    (day,) = [d for d in await world.loads() if d.day == date(2026, 2, 1)]
    assert day.activity_count == 1


async def test_a_third_copy_links_to_the_canonical_activity(world: World) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    (canonical,) = await world.upload("a.fit", ride(start))
    await world.upload("b.fit", ride(start + timedelta(seconds=60)))
    report = await world.service.import_upload(
        user_id=UID,
        data=world.register("c.fit", ride(start + timedelta(seconds=100))),
        filename="c.fit",
    )
    assert report.activities[0].duplicate_of == canonical


async def test_duplicates_within_one_upload_are_linked(world: World) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    world.register("ride.fit", ride(start))
    world.register("ride.gpx", ride(start + timedelta(seconds=5)))
    world.files.zips["export.zip"] = ["ride.fit", "ride.gpx"]
    report = await world.service.import_upload(user_id=UID, data=b"zip", filename="export.zip")
    first, second = report.activities
    assert first.status is ImportStatus.IMPORTED
    assert second.duplicate_of == first.activity.id
    assert report.imported_count == 1
    assert report.duplicate_count == 1


async def test_a_refused_member_refuses_the_whole_upload(world: World) -> None:
    world.register("good.fit", ride(datetime(2026, 2, 1, 7, tzinfo=UTC)))
    world.files.files["bad.fit"] = InvalidInput("file", "the file ends early: it is truncated")
    world.files.zips["export.zip"] = ["good.fit", "bad.fit"]
    with pytest.raises(InvalidInput) as caught:
        await world.service.import_upload(user_id=UID, data=b"zip", filename="export.zip")
    assert caught.value.argument == "file"
    assert caught.value.message == "file: bad.fit: the file ends early: it is truncated"
    assert await world.count() == 0
    assert await world.loads() == []


async def test_a_lenient_import_stores_the_good_files_and_lists_the_refused(
    world: World,
) -> None:
    inputs = []
    for k in range(5):
        name = f"day{k}.fit"
        inputs.append((name, world.register(name, ride(datetime(2026, 2, 1 + k, 7, tzinfo=UTC)))))
    world.files.files["broken.fit"] = InvalidInput("file", "the file is damaged")
    inputs.insert(2, ("broken.fit", b"junk"))
    inputs.append(("empty.fit", b""))
    progress: list[tuple[str, int, int]] = []
    report = await world.service.import_files(
        user_id=UID,
        files=inputs,
        on_progress=lambda n, d, t: progress.append((n, d, t)),
        batch_size=3,
    )
    assert report.imported_count == 5
    assert [(r.file, r.reason) for r in report.refused] == [
        ("broken.fit", "the file is damaged"),
        ("empty.fit", "the file is empty"),
    ]
    assert [p[1] for p in progress] == [1, 2, 3, 4, 5, 6, 7]
    assert {p[2] for p in progress} == {7}
    assert len(await world.load_by_day()) == 5


async def test_a_multisport_file_links_its_legs(world: World) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    swim = ride(start, seconds=600, sport=Sport.SWIM)
    bike = ride(start + timedelta(seconds=700), seconds=1200)
    run = ride(start + timedelta(seconds=2000), seconds=900, sport=Sport.RUN)
    report = await world.service.import_upload(
        user_id=UID, data=world.register("tri.fit", swim, bike, run), filename="tri.fit"
    )
    groups = {a.multisport_group for a in report.activities}
    assert len(groups) == 1
    assert [a.multisport_index for a in report.activities] == [0, 1, 2]
    digest = source_id_of(b"bytes of tri.fit")
    assert [a.activity.source_id for a in report.activities] == [
        f"{digest}#0",
        f"{digest}#1",
        f"{digest}#2",
    ]
    detail = await world.service.get_activity(
        user_id=UID, activity_id=report.activities[1].activity.id
    )
    assert detail.group_members == tuple(a.activity.id for a in report.activities)


async def test_an_unknown_user_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await world.service.import_parsed(
            user_id="nobody",
            pending=[
                PendingActivity(
                    file="x",
                    parsed=ride(datetime(2026, 2, 1, tzinfo=UTC)),
                    source=Source.FILE,
                    source_id="x",
                )
            ],
        )


# --- daily loads -----------------------------------------------------------------------------


async def test_days_are_local_days_of_the_users_timezone() -> None:
    w = await World(timezone="Asia/Tokyo").setup()
    # 20:00 UTC on 1 February is 05:00 on 2 February in Tokyo (UTC+9).
    await w.upload("late.fit", ride(datetime(2026, 2, 1, 20, tzinfo=UTC)))
    assert list(await w.load_by_day()) == [date(2026, 2, 2)]


async def test_loads_are_written_for_every_day_up_to_today(world: World) -> None:
    await world.upload("a.fit", ride(datetime(2026, 2, 20, 7, tzinfo=UTC)))
    rows = await world.loads()
    assert [r.day for r in rows] == [date(2026, 2, 20) + timedelta(days=k) for k in range(11)]
    k_ctl = 1 - math.exp(-1 / 42)
    load = tss(3600, 250)
    # CTL decays by (1 - k) on each rest day after the ride (ARCHITECTURE.md section 7a).
    assert rows[-1].ctl == pytest.approx(load * k_ctl * (1 - k_ctl) ** 10)


async def test_a_later_import_fills_the_days_since_the_last_one(world: World) -> None:
    await world.upload("a.fit", ride(datetime(2026, 2, 20, 7, tzinfo=UTC)))
    world.clock.set(NOW + timedelta(days=20))
    await world.upload("b.fit", ride(datetime(2026, 3, 20, 7, tzinfo=UTC)))
    rows = await world.loads()
    days = [r.day for r in rows]
    assert days == [date(2026, 2, 20) + timedelta(days=k) for k in range(len(days))]
    assert days[-1] == date(2026, 3, 22)
    expected = fitness_timeline(
        daily=daily_load_series(
            loads=[(date(2026, 2, 20), tss(3600, 250)), (date(2026, 3, 20), tss(3600, 250))],
            start=date(2026, 2, 20),
            end=date(2026, 3, 22),
        )
    )
    assert [r.ctl for r in rows] == pytest.approx([p.ctl for p in expected])
    assert [r.atl for r in rows] == pytest.approx([p.atl for p in expected])


@settings(max_examples=25, deadline=None)
@given(
    plan=st.lists(st.tuples(st.integers(0, 40), st.integers(100, 330)), min_size=1, max_size=8),
    order=st.randoms(use_true_random=False),
)
def test_any_import_order_gives_the_loads_of_a_full_recompute(
    plan: list[tuple[int, int]], order: random.Random
) -> None:
    first = date(2026, 1, 1)
    rides = [
        ride(
            datetime(2026, 1, 1, 6, tzinfo=UTC) + timedelta(days=d, minutes=5 * k),
            seconds=120,
            power_w=float(p),
        )
        for k, (d, p) in enumerate(plan)
    ]

    async def scenario() -> tuple[list[DailyLoad], list[float], list[float]]:
        w = await World().setup()
        shuffled = list(enumerate(rides))
        order.shuffle(shuffled)
        for k, activity in shuffled:
            await w.upload(f"{k}.fit", activity)
        rows = await w.loads()
        loads: dict[date, float] = {}
        for d, p in plan:
            day = first + timedelta(days=d)
            loads[day] = loads.get(day, 0.0) + tss(120, p)
        daily = daily_load_series(loads=loads.items(), start=rows[0].day, end=rows[-1].day)
        reference = fitness_timeline(daily=daily)
        return rows, [p.ctl for p in reference], [p.atl for p in reference]

    rows, ctl, atl = asyncio.run(scenario())
    assert rows[0].day == first + timedelta(days=min(d for d, _ in plan))
    assert rows[-1].day == date(2026, 3, 2)
    assert [r.ctl for r in rows] == pytest.approx(ctl)
    assert [r.atl for r in rows] == pytest.approx(atl)


# --- read and delete -----------------------------------------------------------------------


async def test_listing_filters_by_local_days_inclusive() -> None:
    w = await World(timezone="America/New_York").setup()
    # 03:00 UTC on 11 February is 22:00 on 10 February in New York.
    (late,) = await w.upload("a.fit", ride(datetime(2026, 2, 11, 3, tzinfo=UTC)))
    (next_day,) = await w.upload("b.fit", ride(datetime(2026, 2, 11, 18, tzinfo=UTC)))
    page = await w.service.list_activities(
        user_id=UID, day_from=date(2026, 2, 10), day_to=date(2026, 2, 10)
    )
    assert [v.activity.id for v in page.items] == [late]
    page = await w.service.list_activities(user_id=UID, day_from=date(2026, 2, 11))
    assert [v.activity.id for v in page.items] == [next_day]
    with pytest.raises(InvalidInput):
        await w.service.list_activities(
            user_id=UID, day_from=date(2026, 2, 11), day_to=date(2026, 2, 10)
        )


async def test_deleting_a_canonical_activity_promotes_the_earliest_duplicate(
    world: World,
) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    (canonical,) = await world.upload("a.fit", ride(start, power_w=200))
    world.clock.advance(seconds=10)
    (heir,) = await world.upload("b.fit", ride(start + timedelta(seconds=20), power_w=300))
    world.clock.advance(seconds=10)
    (third,) = await world.upload("c.fit", ride(start + timedelta(seconds=40), power_w=250))
    await world.service.delete_activity(user_id=UID, activity_id=canonical)
    page = await world.service.list_activities(user_id=UID)
    links = {v.activity.id: v.duplicate_of for v in page.items}
    assert links == {heir: None, third: heir}
    assert await world.load_by_day() == {date(2026, 2, 1): pytest.approx(tss(3600, 300))}


async def test_deleting_a_duplicate_leaves_the_load_alone(world: World) -> None:
    start = datetime(2026, 2, 1, 7, tzinfo=UTC)
    await world.upload("a.fit", ride(start, power_w=200))
    (duplicate,) = await world.upload("b.fit", ride(start, power_w=300))
    before = await world.loads()
    await world.service.delete_activity(user_id=UID, activity_id=duplicate)
    assert await world.loads() == before
    assert await world.count() == 1


async def test_reading_a_missing_activity_is_not_found(world: World) -> None:
    for call in (
        world.service.get_activity,
        world.service.get_streams,
        world.service.delete_activity,
    ):
        with pytest.raises(NotFound):
            await call(user_id=UID, activity_id="missing")


async def test_streams_come_back_as_imported(world: World) -> None:
    (activity_id,) = await world.upload("a.fit", ride(datetime(2026, 2, 1, tzinfo=UTC), seconds=60))
    streams = await world.service.get_streams(user_id=UID, activity_id=activity_id)
    assert streams.time_s == [float(i) for i in range(60)]
    assert streams.power_w == [250.0] * 60


# --- completing what files leave out ---------------------------------------------------------


def test_speed_is_derived_from_distance_when_missing() -> None:
    streams = Streams(time_s=[0.0, 10.0, 20.0, 30.0], distance_m=[0.0, 25.0, None, 80.0])
    completed = complete_streams(streams)
    # 25 m in 10 s; the step into and out of the missing sample has no speed.
    assert completed.speed_m_s == [2.5, 2.5, None, None]
    with_speed = Streams(time_s=[0.0, 1.0], speed_m_s=[1.0, 1.0], distance_m=[0.0, 1.0])
    assert complete_streams(with_speed) is with_speed


def test_moving_time_ascent_and_speed_fill_the_summary_gaps() -> None:
    n = 100
    streams = Streams(
        time_s=[float(i) for i in range(n)],
        speed_m_s=[0.0 if 40 <= i < 60 else 3.0 for i in range(n)],
        altitude_m=[100.0 + (10.0 if i >= 50 else 0.0) for i in range(n)],
    )
    parsed = ParsedActivity(
        sport=Sport.RUN,
        start_time=NOW,
        elapsed_s=99.0,
        distance_m=240.0,
        streams=streams,
    )
    summary = complete_summary(parsed, streams)
    # 99 intervals, 20 of them closing on a standing sample (speed below 0.5 m/s).
    assert summary.moving_time_s == 79
    # One 10 m step, over the 3 m hysteresis band (GoldenCheetah's default).
    assert summary.elevation_gain_m == 10
    assert summary.avg_speed_m_s == pytest.approx(240 / 79)


@pytest.mark.parametrize(
    ("hour", "sport", "name"),
    [
        (4, Sport.RUN, "Night Run"),
        (7, Sport.RIDE, "Morning Ride"),
        (13, Sport.TRAIL_RUN, "Afternoon Trail Run"),
        (19, Sport.SWIM, "Evening Swim"),
        (23, Sport.WALK, "Night Walk"),
    ],
)
def test_an_untitled_activity_is_named_by_local_time_and_sport(
    hour: int, sport: Sport, name: str
) -> None:
    assert default_name(sport, datetime(2026, 2, 1, hour, 30)) == name


def test_timeline_inputs_are_consecutive_days() -> None:
    with pytest.raises(InvalidInput):
        fitness_timeline(
            daily=[DayLoad(day=date(2026, 1, 1), load=1.0), DayLoad(day=date(2026, 1, 3), load=1.0)]
        )


async def test_a_rebuild_rebuckets_loads_and_bests_in_a_new_timezone() -> None:
    w = await World().setup()
    # 23:30 UTC on 1 February: 1 February in UTC, 2 February in Berlin (UTC+1).
    (activity_id,) = await w.upload("late.fit", ride(datetime(2026, 2, 1, 23, 30, tzinfo=UTC)))
    assert list(await w.load_by_day()) == [date(2026, 2, 1)]
    async with w.storage.unit_of_work(user_id=UID) as uow:
        user = await uow.users.get(user_id=UID)
        assert user is not None
        await uow.users.update(
            user_id=UID, user=msgspec.structs.replace(user, timezone="Europe/Berlin")
        )
    written = await w.service.rebuild_daily_loads(user_id=UID)
    assert list(await w.load_by_day()) == [date(2026, 2, 2)]
    rows = await w.loads()
    assert rows[0].day == date(2026, 2, 2)
    assert written == len(rows) == (date(2026, 3, 2) - date(2026, 2, 2)).days + 1
    async with w.storage.unit_of_work(user_id=UID) as uow:
        bests = await uow.activity_bests.get(user_id=UID, activity_id=activity_id)
    assert bests is not None
    assert bests.day == date(2026, 2, 2)
