"""Another user's rows are invisible to every read, update and delete, on every adapter."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest

from tests.contract import storage_builders as make
from training_analyzer.core.accounts import IdentityProvider
from training_analyzer.core.activities import Source
from training_analyzer.core.errors import Conflict, Forbidden, NotFound
from training_analyzer.ports.storage import Storage


async def _populate(storage: Storage, uid: str) -> dict[str, str]:
    """Give `uid` one row of every kind; return the ids a thief would guess."""
    ride = make.activity(uid, source_id="victim-ride")
    sess = make.session(uid)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=ride)
        await uow.streams.put(user_id=uid, activity_id=ride.id, streams=make.streams(20))
        await uow.sessions.add(user_id=uid, session=sess)
        await uow.identities.link(user_id=uid, identity=make.identity(uid))
        await uow.athletes.save(user_id=uid, profile=make.profile(uid))
        await uow.daily_loads.upsert(user_id=uid, loads=[make.daily_load(uid, date(2024, 5, 1))])
        await uow.subscriptions.save(user_id=uid, subscription=make.subscription(uid))
        await uow.usage.consume(user_id=uid, feature="f", window_key="w", limit=5)
        await uow.audit.append(user_id=uid, event=make.audit_event(uid))
    return {"activity": ride.id, "session": sess.id, "family": sess.family_id}


async def test_reads_never_return_another_users_rows(storage: Storage) -> None:
    victim = await make.register(storage)
    thief = await make.register(storage)
    ids = await _populate(storage, victim)
    async with storage.unit_of_work(user_id=thief) as uow:
        assert await uow.activities.get(user_id=thief, activity_id=ids["activity"]) is None
        assert (
            await uow.activities.find_by_source(
                user_id=thief, source=Source.GARMIN, source_id="victim-ride"
            )
            is None
        )
        assert (await uow.activities.page(user_id=thief)).items == []
        far = make.T0 + timedelta(days=365)
        assert (
            await uow.activities.between(
                user_id=thief, start_from=make.T0 - timedelta(days=1), start_to=far
            )
            == []
        )
        assert await uow.streams.get(user_id=thief, activity_id=ids["activity"]) is None
        assert await uow.sessions.get(user_id=thief, session_id=ids["session"]) is None
        assert await uow.sessions.list_active(user_id=thief, now=make.T0) == []
        assert await uow.identities.all(user_id=thief) == []
        assert await uow.athletes.get(user_id=thief) is None
        loads = await uow.daily_loads.range(
            user_id=thief, day_from=date(2024, 1, 1), day_to=date(2025, 1, 1)
        )
        assert loads == []
        assert await uow.subscriptions.get(user_id=thief) is None
        assert await uow.usage.get(user_id=thief, feature="f", window_key="w") == 0
        assert await uow.usage.all(user_id=thief) == []
        assert (await uow.audit.page(user_id=thief)).items == []


async def test_updates_and_deletes_never_touch_another_users_rows(storage: Storage) -> None:
    victim = await make.register(storage)
    thief = await make.register(storage)
    ids = await _populate(storage, victim)
    async with storage.unit_of_work(user_id=victim) as uow:
        before = await uow.activities.get(user_id=victim, activity_id=ids["activity"])
    assert before is not None
    stolen = msgspec.structs.replace(before, user_id=thief, name="mine now")
    async with storage.unit_of_work(user_id=thief) as uow:
        with pytest.raises(NotFound):
            await uow.activities.update(user_id=thief, activity=stolen)
        assert not await uow.activities.delete(user_id=thief, activity_id=ids["activity"])
        assert not await uow.streams.delete(user_id=thief, activity_id=ids["activity"])
        with pytest.raises(NotFound):
            await uow.streams.put(
                user_id=thief, activity_id=ids["activity"], streams=make.streams(3)
            )
        assert not await uow.sessions.revoke(user_id=thief, session_id=ids["session"], at=make.T0)
        assert (
            await uow.sessions.revoke_family(user_id=thief, family_id=ids["family"], at=make.T0)
            == 0
        )
        assert await uow.sessions.revoke_all(user_id=thief, at=make.T0) == 0
        assert not await uow.identities.unlink(user_id=thief, provider=IdentityProvider.GOOGLE)
        assert await uow.daily_loads.delete_from(user_id=thief, day_from=date(2000, 1, 1)) == 0
        assert await uow.usage.release(user_id=thief, feature="f", window_key="w") == 0
        # The thief's own counter is separate from the victim's.
        grant = await uow.usage.consume(user_id=thief, feature="f", window_key="w", limit=5)
        assert grant.used == 1
    async with storage.unit_of_work(user_id=victim) as uow:
        assert await uow.activities.get(user_id=victim, activity_id=ids["activity"]) == before
        assert await uow.streams.get(user_id=victim, activity_id=ids["activity"]) is not None
        session = await uow.sessions.get(user_id=victim, session_id=ids["session"])
        assert session is not None
        assert session.revoked_at is None
        assert len(await uow.identities.all(user_id=victim)) == 1
        loads = await uow.daily_loads.range(
            user_id=victim, day_from=date(2024, 1, 1), day_to=date(2025, 1, 1)
        )
        assert len(loads) == 1
        assert await uow.usage.get(user_id=victim, feature="f", window_key="w") == 1


async def test_acting_for_another_user_is_forbidden(storage: Storage) -> None:
    victim = await make.register(storage)
    thief = await make.register(storage)
    async with storage.unit_of_work(user_id=thief) as uow:
        with pytest.raises(Forbidden):
            await uow.users.get(user_id=victim)
        with pytest.raises(Forbidden):
            await uow.activities.page(user_id=victim)
        with pytest.raises(Forbidden):
            await uow.users.delete(user_id=victim)
        with pytest.raises(Forbidden):
            await uow.usage.consume(user_id=victim, feature="f", window_key="w", limit=1)
        # Writing a row that names another owner is refused even under one's own id.
        with pytest.raises(Forbidden):
            await uow.activities.add(user_id=thief, activity=make.activity(victim))
        with pytest.raises(Forbidden):
            await uow.audit.append(user_id=None, event=make.audit_event(None))
    async with storage.unit_of_work(user_id=victim) as uow:
        assert await uow.users.get(user_id=victim) is not None


async def test_cross_user_lookups_need_the_system_scope(storage: Storage) -> None:
    uid = await make.register(storage, email="someone@example.org")
    async with storage.unit_of_work(user_id=uid) as uow:
        directory = uow.directory  # type: ignore[attr-defined]
        with pytest.raises(Forbidden):
            await directory.find_user_by_email(email="someone@example.org")
        with pytest.raises(Forbidden):
            await directory.list_users()
        with pytest.raises(Forbidden):
            await uow.payment_events.record(event=make.payment_event(uid))  # type: ignore[attr-defined]
    async with storage.system(reason="login") as system:
        found = await system.directory.find_user_by_email(email="someone@example.org")
        assert found is not None
        assert found.id == uid


async def test_the_system_scope_needs_a_reason(storage: Storage) -> None:
    with pytest.raises(Forbidden):
        async with storage.system(reason="  "):
            pass


async def test_an_email_or_external_account_belongs_to_one_user(storage: Storage) -> None:
    first = await make.register(storage, email="taken@example.org")
    second = await make.register(storage)
    link = make.identity(first, subject="strava-42", provider=IdentityProvider.STRAVA)
    async with storage.unit_of_work(user_id=first) as uow:
        await uow.identities.link(user_id=first, identity=link)
    async with storage.unit_of_work(user_id=second) as uow:
        with pytest.raises(Conflict):
            await uow.identities.link(
                user_id=second,
                identity=make.identity(
                    second, subject="strava-42", provider=IdentityProvider.STRAVA
                ),
            )
    account = make.user(email="taken@example.org")
    async with storage.unit_of_work(user_id=account.id) as uow:
        with pytest.raises(Conflict):
            await uow.users.add(user_id=account.id, user=account)
    async with storage.unit_of_work(user_id=second) as uow:
        me = await uow.users.get(user_id=second)
        assert me is not None
        with pytest.raises(Conflict):
            await uow.users.update(
                user_id=second, user=msgspec.structs.replace(me, email="taken@example.org")
            )
