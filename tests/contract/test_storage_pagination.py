"""Activity listing: keyset pages, newest first, stable under inserts, filtered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract import storage_builders as make
from training_analyzer.core.activities import Activity, Sport, SportFamily
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.pagination import Cursor, encode_cursor
from training_analyzer.ports.storage import Storage


async def _all_pages(storage: Storage, uid: str, limit: int, **filters: object) -> list[Activity]:
    items: list[Activity] = []
    cursor = None
    async with storage.unit_of_work(user_id=uid) as uow:
        while True:
            page = await uow.activities.page(
                user_id=uid,
                cursor=cursor,
                limit=limit,
                **filters,  # type: ignore[arg-type]
            )
            items.extend(page.items)
            if page.next_cursor is None:
                return items
            cursor = page.next_cursor


def _newest_first(activities: list[Activity]) -> list[str]:
    ordered = sorted(activities, key=lambda a: (a.start_time, a.id), reverse=True)
    return [a.id for a in ordered]


async def test_pages_cover_every_activity_once_newest_first(storage: Storage) -> None:
    uid = await make.register(storage)
    # Two activities share each start time so the id must break the tie.
    rides = [make.activity(uid, start=make.T0 + timedelta(hours=i // 2)) for i in range(23)]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add_many(user_id=uid, activities=rides)
    for limit in (1, 5, 23, 200):
        assert [a.id for a in await _all_pages(storage, uid, limit)] == _newest_first(rides)


async def test_the_last_page_has_no_cursor_and_an_empty_listing_is_one_empty_page(
    storage: Storage,
) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        empty = await uow.activities.page(user_id=uid)
        assert (empty.items, empty.next_cursor) == ([], None)
        rides = [make.activity(uid, start=make.T0 + timedelta(days=i)) for i in range(4)]
        await uow.activities.add_many(user_id=uid, activities=rides)
        exact = await uow.activities.page(user_id=uid, limit=4)
    assert len(exact.items) == 4
    assert exact.next_cursor is None


async def test_pagination_is_stable_while_activities_are_inserted(storage: Storage) -> None:
    uid = await make.register(storage)
    original = [make.activity(uid, start=make.T0 + timedelta(hours=i)) for i in range(30)]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add_many(user_id=uid, activities=original)
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        async with storage.unit_of_work(user_id=uid) as uow:
            page = await uow.activities.page(user_id=uid, cursor=cursor, limit=7)
        seen.extend(a.id for a in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        # Between pages: one newer activity (lands on pages already read) and one in the
        # middle of what is still to come.
        async with storage.unit_of_work(user_id=uid) as uow:
            newer = make.activity(uid, start=make.T0 + timedelta(days=10, minutes=inserted))
            older = make.activity(uid, start=make.T0 + timedelta(minutes=30 + inserted))
            await uow.activities.add_many(user_id=uid, activities=[newer, older])
            inserted += 1
    original_ids = set(_newest_first(original))
    assert len(seen) == len(set(seen)), "an activity was listed twice"
    assert original_ids <= set(seen), "an activity present from the start was skipped"
    # The pre-existing activities keep their relative order.
    assert [i for i in seen if i in original_ids] == _newest_first(original)


async def test_filters_by_sport_family_and_start_range(storage: Storage) -> None:
    uid = await make.register(storage)
    sports = [Sport.RIDE, Sport.VIRTUAL_RIDE, Sport.RUN, Sport.TRAIL_RUN, Sport.SWIM]
    acts = [
        make.activity(uid, sport=sports[i % len(sports)], start=make.T0 + timedelta(days=i))
        for i in range(25)
    ]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add_many(user_id=uid, activities=acts)
    rides = await _all_pages(storage, uid, 4, sport=Sport.RIDE)
    assert [a.id for a in rides] == _newest_first([a for a in acts if a.sport is Sport.RIDE])
    runs = await _all_pages(storage, uid, 4, family=SportFamily.RUN)
    assert [a.id for a in runs] == _newest_first(
        [a for a in acts if a.sport in (Sport.RUN, Sport.TRAIL_RUN)]
    )
    start_from, start_to = make.T0 + timedelta(days=5), make.T0 + timedelta(days=15)
    window = await _all_pages(storage, uid, 3, start_from=start_from, start_to=start_to)
    assert [a.id for a in window] == _newest_first(
        [a for a in acts if start_from <= a.start_time < start_to]
    )
    combined = await _all_pages(
        storage, uid, 2, family=SportFamily.RIDE, start_from=start_from, start_to=start_to
    )
    assert [a.id for a in combined] == _newest_first(
        [
            a
            for a in acts
            if a.sport.family is SportFamily.RIDE and start_from <= a.start_time < start_to
        ]
    )


async def test_a_tampered_or_foreign_cursor_is_invalid_input(storage: Storage) -> None:
    uid = await make.register(storage)
    rides = [make.activity(uid, start=make.T0 + timedelta(hours=i)) for i in range(3)]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add_many(user_id=uid, activities=rides)
        page = await uow.activities.page(user_id=uid, limit=1)
        assert page.next_cursor is not None
        flipped = page.next_cursor[:-2] + ("A" if page.next_cursor[-2] != "A" else "B") + "x"
        audit_cursor = encode_cursor(Cursor(at=make.T0, id="x"), kind="audit")
        for bad in (flipped, "not-a-cursor", "", audit_cursor, page.next_cursor[:10]):
            with pytest.raises(InvalidInput) as caught:
                await uow.activities.page(user_id=uid, cursor=bad)
            assert caught.value.argument == "cursor"


async def test_a_page_size_outside_1_to_200_is_invalid_input(storage: Storage) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        for limit in (0, -1, 201):
            with pytest.raises(InvalidInput) as caught:
                await uow.activities.page(user_id=uid, limit=limit)
            assert caught.value.argument == "limit"
