"""Units of work are all or nothing; duplicates are a Conflict, never a second row."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from tests.contract import storage_builders as make
from training_analyzer.core.activities import Source
from training_analyzer.core.errors import Conflict, NotFound
from training_analyzer.ports.storage import Storage


class BoomError(Exception):
    """Raised inside a unit of work to abort it."""


async def test_an_exception_inside_a_unit_of_work_leaves_nothing_behind(storage: Storage) -> None:
    account = make.user()
    ride = make.activity(account.id)

    async def sign_up_then_fail() -> None:
        async with storage.unit_of_work(user_id=account.id) as uow:
            await uow.users.add(user_id=account.id, user=account)
            await uow.activities.add(user_id=account.id, activity=ride)
            await uow.streams.put(user_id=account.id, activity_id=ride.id, streams=make.streams(5))
            await uow.usage.consume(user_id=account.id, feature="f", window_key="w", limit=3)
            raise BoomError

    with pytest.raises(BoomError):
        await sign_up_then_fail()
    async with storage.system(reason="test-inspect") as uow:
        assert await uow.directory.count_users() == 0
        assert await uow.users.get(user_id=account.id) is None
        assert await uow.activities.get(user_id=account.id, activity_id=ride.id) is None
        assert await uow.usage.get(user_id=account.id, feature="f", window_key="w") == 0


async def test_an_exception_keeps_earlier_committed_work(storage: Storage) -> None:
    uid = await make.register(storage)
    kept = make.activity(uid, start=make.T0)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=kept)

    async def delete_then_fail() -> None:
        async with storage.unit_of_work(user_id=uid) as uow:
            await uow.activities.delete(user_id=uid, activity_id=kept.id)
            raise BoomError

    with pytest.raises(BoomError):
        await delete_then_fail()
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activities.get(user_id=uid, activity_id=kept.id) == kept


async def test_rollback_discards_and_commit_publishes_early(storage: Storage) -> None:
    uid = await make.register(storage)
    dropped = make.activity(uid, start=make.T0)
    committed = make.activity(uid, start=make.T0 + timedelta(hours=1))
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=dropped)
        await uow.rollback()
        # The unit of work has ended; using it again is a programming error.
        with pytest.raises(RuntimeError):
            await uow.activities.get(user_id=uid, activity_id=dropped.id)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=committed)
        await uow.commit()
        with pytest.raises(RuntimeError):
            await uow.commit()
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activities.get(user_id=uid, activity_id=dropped.id) is None
        assert await uow.activities.get(user_id=uid, activity_id=committed.id) == committed


async def test_the_same_source_activity_is_a_conflict_not_two_rows(storage: Storage) -> None:
    uid = await make.register(storage)
    original = make.activity(uid, source=Source.STRAVA, source_id="987654321")
    again = make.activity(
        uid, source=Source.STRAVA, source_id="987654321", start=make.T0 + timedelta(days=1)
    )
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=original)
    async with storage.unit_of_work(user_id=uid) as uow:
        with pytest.raises(Conflict):
            await uow.activities.add(user_id=uid, activity=again)
        with pytest.raises(Conflict):
            await uow.activities.add(user_id=uid, activity=original)
    async with storage.unit_of_work(user_id=uid) as uow:
        page = await uow.activities.page(user_id=uid)
    assert [a.id for a in page.items] == [original.id]


async def test_the_same_source_id_of_another_user_or_source_is_no_conflict(
    storage: Storage,
) -> None:
    first = await make.register(storage)
    second = await make.register(storage)
    async with storage.unit_of_work(user_id=first) as uow:
        await uow.activities.add(
            user_id=first, activity=make.activity(first, source=Source.STRAVA, source_id="1")
        )
        await uow.activities.add(
            user_id=first, activity=make.activity(first, source=Source.GARMIN, source_id="1")
        )
        # Files without a source id never collide.
        await uow.activities.add(user_id=first, activity=make.activity(first, source=Source.FILE))
        await uow.activities.add(user_id=first, activity=make.activity(first, source=Source.FILE))
    async with storage.unit_of_work(user_id=second) as uow:
        await uow.activities.add(
            user_id=second, activity=make.activity(second, source=Source.STRAVA, source_id="1")
        )
    async with storage.unit_of_work(user_id=first) as uow:
        assert len((await uow.activities.page(user_id=first)).items) == 4


async def test_a_bulk_insert_with_one_duplicate_stores_none_of_it(storage: Storage) -> None:
    uid = await make.register(storage)
    existing = make.activity(uid, source_id="dup")
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=existing)
    batch = [
        make.activity(uid, source_id=f"new-{i}", start=make.T0 + timedelta(hours=i + 1))
        for i in range(5)
    ]
    batch.insert(3, make.activity(uid, source_id="dup", start=make.T0 + timedelta(days=2)))
    async with storage.unit_of_work(user_id=uid) as uow:
        with pytest.raises(Conflict):
            await uow.activities.add_many(user_id=uid, activities=batch)
        # A failed write leaves the unit of work usable: nothing of the batch is there.
        assert [a.id for a in (await uow.activities.page(user_id=uid)).items] == [existing.id]
        later = make.activity(uid, source_id="later", start=make.T0 + timedelta(days=3))
        await uow.activities.add(user_id=uid, activity=later)
    async with storage.unit_of_work(user_id=uid) as uow:
        ids = [a.id for a in (await uow.activities.page(user_id=uid)).items]
    assert ids == [later.id, existing.id]


async def test_a_failed_write_keeps_the_earlier_writes_of_the_unit_of_work(
    storage: Storage,
) -> None:
    uid = await make.register(storage)
    first = make.activity(uid, source_id="a")
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=first)
        with pytest.raises(NotFound):
            await uow.streams.put(user_id=uid, activity_id="missing", streams=make.streams(3))
        with pytest.raises(Conflict):
            await uow.activities.add(user_id=uid, activity=first)
        renamed = msgspec.structs.replace(first, name="renamed")
        await uow.activities.update(user_id=uid, activity=renamed)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activities.get(user_id=uid, activity_id=first.id) == renamed


async def test_writes_for_an_unknown_account_are_not_found(storage: Storage) -> None:
    ghost = make.user().id
    async with storage.unit_of_work(user_id=ghost) as uow:
        with pytest.raises(NotFound):
            await uow.activities.add(user_id=ghost, activity=make.activity(ghost))
        with pytest.raises(NotFound):
            await uow.usage.consume(user_id=ghost, feature="f", window_key="w", limit=1)
        with pytest.raises(NotFound):
            await uow.athletes.save(user_id=ghost, profile=make.profile(ghost))
        with pytest.raises(NotFound):
            await uow.subscriptions.save(user_id=ghost, subscription=make.subscription(ghost))
