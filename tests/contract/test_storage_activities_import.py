"""Storage added for the import: activity links, per-activity bests, the latest daily load.

Same behaviour on every adapter (memory, SQLite, PostgreSQL): round trips, tenancy, the
cascades when an activity or its canonical activity goes, NotFound for foreign references.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import msgspec
import pytest

from tests.contract import storage_builders as make
from tests.contract.conftest import Backend
from training_analyzer.core.activities import Sport
from training_analyzer.core.analytics import ActivityBests, PowerBest
from training_analyzer.core.errors import Forbidden, InvalidInput, NotFound
from training_analyzer.core.metrics.pace import BestEffort
from training_analyzer.ports.storage import ActivityLink, LoadPoint, Storage


async def _activities(storage: Storage, uid: str, n: int) -> list[str]:
    rides = [make.activity(uid, start=make.T0 + timedelta(hours=k)) for k in range(n)]
    async with storage.unit_of_work(user_id=uid) as uow:
        for ride in rides:
            await uow.activities.add(user_id=uid, activity=ride)
    return [r.id for r in rides]


def _bests(activity_id: str, day: date, sport: Sport = Sport.RUN) -> ActivityBests:
    return ActivityBests(
        activity_id=activity_id,
        day=day,
        sport=sport,
        power=(PowerBest(duration_s=5, power_w=812.5), PowerBest(duration_s=60, power_w=402.25)),
        efforts=(
            BestEffort(name="1 km", distance_m=1000.0, duration_s=201.5, start_s=12.25),
            BestEffort(name="5 km", distance_m=5000.0, duration_s=1105.0, start_s=0.0),
        ),
    )


async def test_links_round_trip_and_are_listed_by_role(storage: Storage) -> None:
    uid = await make.register(storage)
    canonical, dup_a, dup_b, leg = await _activities(storage, uid, 4)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activity_links.put(
            user_id=uid, link=ActivityLink(activity_id=dup_b, duplicate_of=canonical)
        )
        await uow.activity_links.put(
            user_id=uid,
            link=ActivityLink(
                activity_id=dup_a,
                duplicate_of=canonical,
                multisport_group="tri",
                multisport_index=1,
            ),
        )
        await uow.activity_links.put(
            user_id=uid,
            link=ActivityLink(activity_id=leg, multisport_group="tri", multisport_index=0),
        )
    async with storage.unit_of_work(user_id=uid) as uow:
        links = await uow.activity_links.get_many(
            user_id=uid, activity_ids=[canonical, dup_a, dup_b, leg, "missing"]
        )
        assert set(links) == {dup_a, dup_b, leg}
        assert links[dup_a] == ActivityLink(
            activity_id=dup_a, duplicate_of=canonical, multisport_group="tri", multisport_index=1
        )
        duplicates = await uow.activity_links.duplicates_of(user_id=uid, activity_id=canonical)
        assert [d.activity_id for d in duplicates] == sorted([dup_a, dup_b])
        group = await uow.activity_links.group(user_id=uid, multisport_group="tri")
        assert [g.activity_id for g in group] == [leg, dup_a]
        assert await uow.activity_links.duplicate_ids(user_id=uid) == frozenset({dup_a, dup_b})


async def test_putting_a_link_again_replaces_it(storage: Storage) -> None:
    uid = await make.register(storage)
    first, second, third = await _activities(storage, uid, 3)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activity_links.put(
            user_id=uid, link=ActivityLink(activity_id=third, duplicate_of=first)
        )
        await uow.activity_links.put(
            user_id=uid, link=ActivityLink(activity_id=third, duplicate_of=second)
        )
    async with storage.unit_of_work(user_id=uid) as uow:
        links = await uow.activity_links.get_many(user_id=uid, activity_ids=[third])
        assert links[third].duplicate_of == second
        assert await uow.activity_links.duplicates_of(user_id=uid, activity_id=first) == []


async def test_a_link_to_a_missing_or_foreign_activity_is_not_found(storage: Storage) -> None:
    uid = await make.register(storage)
    other = await make.register(storage)
    (mine,) = await _activities(storage, uid, 1)
    (theirs,) = await _activities(storage, other, 1)
    async with storage.unit_of_work(user_id=uid) as uow:
        with pytest.raises(NotFound):
            await uow.activity_links.put(
                user_id=uid, link=ActivityLink(activity_id=mine, duplicate_of=theirs)
            )
        with pytest.raises(NotFound):
            await uow.activity_links.put(
                user_id=uid, link=ActivityLink(activity_id=theirs, duplicate_of=mine)
            )
        # The failed writes left the unit of work usable.
        await uow.activity_links.put(
            user_id=uid,
            link=ActivityLink(activity_id=mine, multisport_group="g", multisport_index=0),
        )
    async with storage.unit_of_work(user_id=other) as uow:
        assert await uow.activity_links.get_many(user_id=other, activity_ids=[mine, theirs]) == {}
        assert await uow.activity_links.duplicate_ids(user_id=other) == frozenset()


def test_a_link_cannot_point_at_itself_or_split_a_group() -> None:
    with pytest.raises(InvalidInput) as caught:
        ActivityLink(activity_id="a", duplicate_of="a")
    assert caught.value.argument == "duplicate_of"
    with pytest.raises(InvalidInput):
        ActivityLink(activity_id="a", multisport_group="g")


async def test_deleting_an_activity_takes_its_link_and_its_duplicates_links(
    storage: Storage,
) -> None:
    uid = await make.register(storage)
    canonical, duplicate, leg = await _activities(storage, uid, 3)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activity_links.put(
            user_id=uid, link=ActivityLink(activity_id=duplicate, duplicate_of=canonical)
        )
        await uow.activity_links.put(
            user_id=uid,
            link=ActivityLink(activity_id=leg, multisport_group="g", multisport_index=0),
        )
        await uow.activity_bests.put(
            user_id=uid, bests=_bests(canonical, date(2024, 5, 1), Sport.RIDE)
        )
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activities.delete(user_id=uid, activity_id=canonical)
        assert await uow.activities.delete(user_id=uid, activity_id=leg)
    async with storage.unit_of_work(user_id=uid) as uow:
        ids = [canonical, duplicate, leg]
        assert await uow.activity_links.get_many(user_id=uid, activity_ids=ids) == {}
        assert await uow.activity_links.duplicate_ids(user_id=uid) == frozenset()
        assert await uow.activity_bests.get(user_id=uid, activity_id=canonical) is None
        assert await uow.activities.get(user_id=uid, activity_id=duplicate) is not None


async def test_bests_round_trip_and_list_by_day(storage: Storage) -> None:
    uid = await make.register(storage)
    a, b, c = await _activities(storage, uid, 3)
    records = [
        _bests(b, date(2024, 5, 3)),
        _bests(a, date(2024, 5, 1), Sport.RIDE),
        _bests(c, date(2024, 5, 3)),
    ]
    async with storage.unit_of_work(user_id=uid) as uow:
        for r in records:
            await uow.activity_bests.put(user_id=uid, bests=r)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activity_bests.get(user_id=uid, activity_id=a) == records[1]
        everything = await uow.activity_bests.all(user_id=uid)
        assert [x.activity_id for x in everything] == [a, *sorted([b, c])]
        recent = await uow.activity_bests.all(user_id=uid, day_from=date(2024, 5, 2))
        assert {x.activity_id for x in recent} == {b, c}
        assert recent[0].efforts[0].pace_s_per_km == pytest.approx(201.5)


async def test_bests_are_replaced_and_refuse_foreign_activities(storage: Storage) -> None:
    uid = await make.register(storage)
    other = await make.register(storage)
    (mine,) = await _activities(storage, uid, 1)
    (theirs,) = await _activities(storage, other, 1)
    empty = ActivityBests(activity_id=mine, day=date(2024, 5, 1), sport=Sport.SWIM)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activity_bests.put(user_id=uid, bests=_bests(mine, date(2024, 5, 1)))
        await uow.activity_bests.put(user_id=uid, bests=empty)
        with pytest.raises(NotFound):
            await uow.activity_bests.put(user_id=uid, bests=_bests(theirs, date(2024, 5, 1)))
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activity_bests.all(user_id=uid) == [empty]
        assert await uow.activity_bests.get(user_id=uid, activity_id=theirs) is None


async def test_repositories_refuse_another_users_id(storage: Storage) -> None:
    uid = await make.register(storage)
    other = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        with pytest.raises(Forbidden):
            await uow.activity_links.duplicate_ids(user_id=other)
        with pytest.raises(Forbidden):
            await uow.activity_bests.all(user_id=other)
        with pytest.raises(Forbidden):
            await uow.daily_loads.latest(user_id=other, before=date(2024, 1, 1))


async def test_latest_daily_load_is_the_closest_day_before(storage: Storage) -> None:
    uid = await make.register(storage)
    other = await make.register(storage)
    days = [date(2024, 5, 1), date(2024, 5, 4), date(2024, 5, 9)]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.daily_loads.upsert(
            user_id=uid, loads=[make.daily_load(uid, d, load=10.0 * k) for k, d in enumerate(days)]
        )
    async with storage.unit_of_work(user_id=other) as uow:
        await uow.daily_loads.upsert(
            user_id=other, loads=[make.daily_load(other, date(2024, 5, 8))]
        )
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.daily_loads.latest(user_id=uid, before=date(2024, 5, 1)) is None
        found = await uow.daily_loads.latest(user_id=uid, before=date(2024, 5, 9))
        assert found == make.daily_load(uid, date(2024, 5, 4), load=10.0)
        last = await uow.daily_loads.latest(user_id=uid, before=date(2030, 1, 1))
        assert last is not None
        assert last.day == date(2024, 5, 9)


async def test_load_points_are_the_days_loads_and_flags_in_a_range(storage: Storage) -> None:
    uid = await make.register(storage)
    rows = [
        make.daily_load(uid, date(2024, 5, 1), load=12.5),
        msgspec.structs.replace(make.daily_load(uid, date(2024, 5, 2), load=0.0), estimated=False),
        make.daily_load(uid, date(2024, 5, 3), load=99.25),
    ]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.daily_loads.upsert(user_id=uid, loads=rows)
    async with storage.unit_of_work(user_id=uid) as uow:
        points = await uow.daily_loads.points(
            user_id=uid, day_from=date(2024, 5, 2), day_to=date(2024, 5, 4)
        )
    assert points == [
        LoadPoint(day=date(2024, 5, 2), load=0.0, estimated=False),
        LoadPoint(day=date(2024, 5, 3), load=99.25, estimated=True),
    ]


async def test_the_load_lock_makes_a_second_unit_of_work_wait(backend: Backend) -> None:
    uid = await make.register(backend.storage)
    other = await backend.open_another()
    order: list[str] = []
    first_has_lock = asyncio.Event()

    async def first() -> None:
        async with backend.storage.unit_of_work(user_id=uid) as uow:
            await uow.daily_loads.lock(user_id=uid)
            order.append("first locked")
            first_has_lock.set()
            await asyncio.sleep(0.2)
            await uow.daily_loads.upsert(
                user_id=uid, loads=[make.daily_load(uid, date(2024, 5, 1))]
            )
            order.append("first done")

    async def second() -> None:
        await first_has_lock.wait()
        async with other.unit_of_work(user_id=uid) as uow:
            await uow.daily_loads.lock(user_id=uid)
            order.append("second locked")
            # Read after the lock: the first unit of work's row is committed and visible.
            rows = await uow.daily_loads.range(
                user_id=uid, day_from=date(2024, 1, 1), day_to=date(2025, 1, 1)
            )
            order.append(f"second sees {len(rows)}")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
    assert order == ["first locked", "first done", "second locked", "second sees 1"]
