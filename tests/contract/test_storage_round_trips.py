"""Every stored entity comes back exactly as written, on every storage adapter."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest

from tests.contract import storage_builders as make
from training_analyzer.core.accounts import IdentityProvider, SubscriptionStatus, UsageCounter
from training_analyzer.core.activities import Source
from training_analyzer.core.errors import NotFound
from training_analyzer.ids import new_id
from training_analyzer.ports.storage import Storage


async def test_a_user_round_trips_and_updates(storage: Storage) -> None:
    account = make.user()
    async with storage.unit_of_work(user_id=account.id) as uow:
        await uow.users.add(user_id=account.id, user=account)
    async with storage.unit_of_work(user_id=account.id) as uow:
        assert await uow.users.get(user_id=account.id) == account
        renamed = msgspec.structs.replace(account, display_name="Ada L.", disabled_at=None)
        await uow.users.update(user_id=account.id, user=renamed)
    async with storage.unit_of_work(user_id=account.id) as uow:
        stored = await uow.users.get(user_id=account.id)
    assert stored == renamed
    assert stored is not None
    assert stored.disabled_at is None


async def test_updating_a_missing_user_is_not_found(storage: Storage) -> None:
    ghost = make.user()
    async with storage.unit_of_work(user_id=ghost.id) as uow:
        with pytest.raises(NotFound):
            await uow.users.update(user_id=ghost.id, user=ghost)


async def test_sessions_round_trip_and_revoke_once(storage: Storage) -> None:
    uid = await make.register(storage)
    first = make.session(uid)
    second = make.session(uid, family_id=first.family_id, at=make.T0 + timedelta(hours=1))
    later = make.T0 + timedelta(hours=2)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.sessions.add(user_id=uid, session=first)
        await uow.sessions.add(user_id=uid, session=second)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.sessions.get(user_id=uid, session_id=first.id) == first
        assert await uow.sessions.list_active(user_id=uid, now=later) == [second, first]
        # Rotation: only the first revoke of a session succeeds.
        assert await uow.sessions.revoke(
            user_id=uid, session_id=first.id, at=later, replaced_by=second.id
        )
        assert not await uow.sessions.revoke(user_id=uid, session_id=first.id, at=later)
    async with storage.unit_of_work(user_id=uid) as uow:
        revoked = await uow.sessions.get(user_id=uid, session_id=first.id)
        assert revoked == msgspec.structs.replace(first, revoked_at=later, replaced_by=second.id)
        assert await uow.sessions.list_active(user_id=uid, now=later) == [second]
        assert await uow.sessions.revoke_family(user_id=uid, family_id=first.family_id, at=later)
        assert await uow.sessions.list_active(user_id=uid, now=later) == []


async def test_sessions_expire_and_revoke_all(storage: Storage) -> None:
    uid = await make.register(storage)
    sessions = [make.session(uid) for _ in range(3)]
    async with storage.unit_of_work(user_id=uid) as uow:
        for s in sessions:
            await uow.sessions.add(user_id=uid, session=s)
        after_expiry = make.T0 + timedelta(days=30)
        assert await uow.sessions.list_active(user_id=uid, now=after_expiry) == []
        assert await uow.sessions.revoke_all(user_id=uid, at=make.T0) == 3
        assert await uow.sessions.revoke_all(user_id=uid, at=make.T0) == 0


async def test_linked_identities_round_trip_and_unlink(storage: Storage) -> None:
    uid = await make.register(storage)
    google = make.identity(uid, provider=IdentityProvider.GOOGLE)
    strava = make.identity(uid, provider=IdentityProvider.STRAVA)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.identities.link(user_id=uid, identity=strava)
        await uow.identities.link(user_id=uid, identity=google)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.identities.all(user_id=uid) == [google, strava]
        assert await uow.identities.unlink(user_id=uid, provider=IdentityProvider.STRAVA)
        assert not await uow.identities.unlink(user_id=uid, provider=IdentityProvider.STRAVA)
        assert await uow.identities.all(user_id=uid) == [google]


async def test_an_athlete_profile_round_trips_with_its_threshold_history(storage: Storage) -> None:
    uid = await make.register(storage)
    profile = make.profile(uid)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.athletes.get(user_id=uid) is None
        await uow.athletes.save(user_id=uid, profile=profile)
    async with storage.unit_of_work(user_id=uid) as uow:
        stored = await uow.athletes.get(user_id=uid)
        assert stored == profile
        shorter = msgspec.structs.replace(profile, thresholds=profile.thresholds[:1])
        await uow.athletes.save(user_id=uid, profile=shorter)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.athletes.get(user_id=uid) == shorter
    assert stored is not None
    # The later record changes FTP only; the rest stays in force from January.
    in_force = stored.thresholds_on(date(2024, 4, 1))
    assert in_force is not None
    assert (in_force.ftp_w, in_force.lthr_bpm) == (262.0, 168.0)


async def test_an_activity_round_trips_with_summary_laps_and_metrics(storage: Storage) -> None:
    uid = await make.register(storage)
    ride = make.activity(uid, source_id="12345")
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=ride)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activities.get(user_id=uid, activity_id=ride.id) == ride
        found = await uow.activities.find_by_source(
            user_id=uid, source=Source.GARMIN, source_id="12345"
        )
        assert found == ride
        renamed = msgspec.structs.replace(ride, name="Evening ride", metrics=None, laps=())
        await uow.activities.update(user_id=uid, activity=renamed)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.activities.get(user_id=uid, activity_id=ride.id) == renamed
        assert await uow.activities.delete(user_id=uid, activity_id=ride.id)
        assert not await uow.activities.delete(user_id=uid, activity_id=ride.id)
        assert await uow.activities.get(user_id=uid, activity_id=ride.id) is None


async def test_activities_between_are_oldest_first_and_half_open(storage: Storage) -> None:
    uid = await make.register(storage)
    starts = [make.T0 + timedelta(hours=h) for h in (3, 0, 2, 1)]
    rides = [make.activity(uid, start=s) for s in starts]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add_many(user_id=uid, activities=rides)
        got = await uow.activities.between(
            user_id=uid, start_from=make.T0, start_to=make.T0 + timedelta(hours=3)
        )
    assert [a.start_time for a in got] == sorted(starts)[:3]


async def test_streams_round_trip_exactly_and_go_with_their_activity(storage: Storage) -> None:
    uid = await make.register(storage)
    ride = make.activity(uid)
    samples = make.streams()
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=ride)
        assert await uow.streams.get(user_id=uid, activity_id=ride.id) is None
        await uow.streams.put(user_id=uid, activity_id=ride.id, streams=samples)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.streams.get(user_id=uid, activity_id=ride.id) == samples
        shorter = make.streams(30)
        await uow.streams.put(user_id=uid, activity_id=ride.id, streams=shorter)
        assert await uow.streams.get(user_id=uid, activity_id=ride.id) == shorter
        await uow.activities.delete(user_id=uid, activity_id=ride.id)
        assert await uow.streams.get(user_id=uid, activity_id=ride.id) is None


async def test_streams_of_a_missing_activity_are_not_found(storage: Storage) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        with pytest.raises(NotFound):
            await uow.streams.put(user_id=uid, activity_id=new_id(), streams=make.streams(5))


async def test_daily_loads_upsert_read_by_range_and_delete_from(storage: Storage) -> None:
    uid = await make.register(storage)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]
    loads = [make.daily_load(uid, d, load=float(i)) for i, d in enumerate(days)]
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.daily_loads.upsert(user_id=uid, loads=list(reversed(loads)))
    async with storage.unit_of_work(user_id=uid) as uow:
        assert (
            await uow.daily_loads.range(user_id=uid, day_from=days[2], day_to=days[5])
            == (loads[2:5])
        )
        changed = msgspec.structs.replace(loads[3], load=99.5, ctl=None, estimated=False)
        await uow.daily_loads.upsert(user_id=uid, loads=[changed])
        assert await uow.daily_loads.range(user_id=uid, day_from=days[3], day_to=days[4]) == [
            changed
        ]
        assert await uow.daily_loads.delete_from(user_id=uid, day_from=days[7]) == 3
        remaining = await uow.daily_loads.range(
            user_id=uid, day_from=days[0], day_to=days[-1] + timedelta(days=1)
        )
    assert [d.day for d in remaining] == days[:7]


async def test_a_subscription_round_trips_and_ignores_older_events(storage: Storage) -> None:
    uid = await make.register(storage)
    current = make.subscription(uid, event_at=make.T0 + timedelta(minutes=5))
    older = msgspec.structs.replace(current, event_at=make.T0, status=SubscriptionStatus.CANCELED)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.subscriptions.get(user_id=uid) is None
        assert await uow.subscriptions.save(user_id=uid, subscription=current)
        # A webhook delivered late must not roll the subscription back.
        assert not await uow.subscriptions.save(user_id=uid, subscription=older)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.subscriptions.get(user_id=uid) == current
        newer = msgspec.structs.replace(current, event_at=make.T0 + timedelta(hours=1))
        assert await uow.subscriptions.save(user_id=uid, subscription=newer)
        assert await uow.subscriptions.get(user_id=uid) == newer


async def test_usage_counters_count_release_and_list(storage: Storage) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        grants = [
            await uow.usage.consume(
                user_id=uid, feature="ai_chat", window_key="2024-05-01", limit=2
            )
            for _ in range(3)
        ]
        assert [(g.granted, g.used) for g in grants] == [(True, 1), (True, 2), (False, 2)]
        assert await uow.usage.release(user_id=uid, feature="ai_chat", window_key="2024-05-01") == 1
        await uow.usage.consume(user_id=uid, feature="ai_analysis", window_key="2024-05", limit=5)
        assert await uow.usage.get(user_id=uid, feature="ai_chat", window_key="2024-05-01") == 1
        assert await uow.usage.get(user_id=uid, feature="ai_chat", window_key="2024-04-30") == 0
        assert await uow.usage.all(user_id=uid) == [
            UsageCounter(user_id=uid, feature="ai_analysis", window_key="2024-05", used=1),
            UsageCounter(user_id=uid, feature="ai_chat", window_key="2024-05-01", used=1),
        ]
        assert await uow.usage.all(user_id=uid, window_key="2024-05") == [
            UsageCounter(user_id=uid, feature="ai_analysis", window_key="2024-05", used=1)
        ]


async def test_release_never_goes_below_zero_and_a_zero_limit_grants_nothing(
    storage: Storage,
) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.usage.release(user_id=uid, feature="f", window_key="w") == 0
        denied = await uow.usage.consume(user_id=uid, feature="f", window_key="w", limit=0)
        assert (denied.granted, denied.used) == (False, 0)
        await uow.usage.consume(user_id=uid, feature="f", window_key="w", limit=1)
        assert await uow.usage.release(user_id=uid, feature="f", window_key="w") == 0
        assert await uow.usage.release(user_id=uid, feature="f", window_key="w") == 0


async def test_the_audit_log_round_trips_newest_first(storage: Storage) -> None:
    uid = await make.register(storage)
    events = [make.audit_event(uid, at=make.T0 + timedelta(minutes=i)) for i in range(5)]
    async with storage.unit_of_work(user_id=uid) as uow:
        for e in events:
            await uow.audit.append(user_id=uid, event=e)
    async with storage.unit_of_work(user_id=uid) as uow:
        first = await uow.audit.page(user_id=uid, limit=3)
        assert first.next_cursor is not None
        rest = await uow.audit.page(user_id=uid, cursor=first.next_cursor, limit=3)
    assert first.items + rest.items == list(reversed(events))
    assert rest.next_cursor is None


async def test_payment_events_are_recorded_once_and_marked_processed(storage: Storage) -> None:
    uid = await make.register(storage)
    event = make.payment_event(uid)
    async with storage.system(reason="stripe-webhook") as uow:
        assert await uow.payment_events.record(event=event)
        assert not await uow.payment_events.record(event=event)
        await uow.payment_events.mark_processed(event_id=event.id, at=make.T0)
    async with storage.system(reason="stripe-webhook") as uow:
        assert await uow.payment_events.get(event_id=event.id) == msgspec.structs.replace(
            event, processed_at=make.T0
        )
        with pytest.raises(NotFound):
            await uow.payment_events.mark_processed(event_id="evt_missing", at=make.T0)


async def test_the_directory_finds_accounts_identities_sessions_and_customers(
    storage: Storage,
) -> None:
    account = make.user(email="mixed.case@example.org")
    link = make.identity(account.id, subject="google-sub-1")
    token = make.session(account.id, token="sha256:abc")
    sub = make.subscription(account.id, customer="cus_123")
    async with storage.unit_of_work(user_id=account.id) as uow:
        await uow.users.add(user_id=account.id, user=account)
        await uow.identities.link(user_id=account.id, identity=link)
        await uow.sessions.add(user_id=account.id, session=token)
        await uow.subscriptions.save(user_id=account.id, subscription=sub)
    async with storage.system(reason="login") as uow:
        assert await uow.directory.find_user_by_email(email=" Mixed.Case@Example.org ") == account
        assert await uow.directory.find_user_by_email(email="nobody@example.org") is None
        assert await uow.directory.find_user_by_email(email="not an email") is None
        found = await uow.directory.find_identity(
            provider=IdentityProvider.GOOGLE, subject="google-sub-1"
        )
        assert found == link
        assert await uow.directory.find_session(token_hash="sha256:abc") == token
        assert await uow.directory.find_subscription(provider_customer_id="cus_123") == sub
        assert await uow.directory.count_users() == 1
        assert await uow.directory.purge_expired_sessions(before=make.T0 + timedelta(days=31)) == 1
        assert await uow.directory.find_session(token_hash="sha256:abc") is None


async def test_the_admin_listing_pages_every_user_newest_first(storage: Storage) -> None:
    accounts = [make.user(at=make.T0 + timedelta(minutes=i)) for i in range(7)]
    for a in accounts:
        async with storage.unit_of_work(user_id=a.id) as uow:
            await uow.users.add(user_id=a.id, user=a)
    seen = []
    cursor = None
    async with storage.system(reason="admin-list-users") as uow:
        while True:
            page = await uow.directory.list_users(cursor=cursor, limit=3)
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert seen == list(reversed(accounts))


async def test_deleting_an_account_cascades_and_keeps_detached_records(storage: Storage) -> None:
    uid = await make.register(storage)
    other = await make.register(storage)
    ride = make.activity(uid)
    event = make.audit_event(uid)
    payment = make.payment_event(uid)
    async with storage.unit_of_work(user_id=uid) as uow:
        await uow.activities.add(user_id=uid, activity=ride)
        await uow.streams.put(user_id=uid, activity_id=ride.id, streams=make.streams(10))
        await uow.sessions.add(user_id=uid, session=make.session(uid))
        await uow.athletes.save(user_id=uid, profile=make.profile(uid))
        await uow.daily_loads.upsert(user_id=uid, loads=[make.daily_load(uid, date(2024, 5, 1))])
        await uow.usage.consume(user_id=uid, feature="f", window_key="w", limit=3)
        await uow.subscriptions.save(user_id=uid, subscription=make.subscription(uid))
        await uow.identities.link(user_id=uid, identity=make.identity(uid))
        await uow.audit.append(user_id=uid, event=event)
    async with storage.system(reason="stripe-webhook") as uow:
        await uow.payment_events.record(event=payment)
    async with storage.unit_of_work(user_id=uid) as uow:
        assert await uow.users.delete(user_id=uid)
        assert not await uow.users.delete(user_id=uid)
    async with storage.system(reason="test-inspect-deleted-account") as uow:
        assert await uow.users.get(user_id=uid) is None
        assert await uow.activities.get(user_id=uid, activity_id=ride.id) is None
        assert await uow.athletes.get(user_id=uid) is None
        assert await uow.subscriptions.get(user_id=uid) is None
        assert await uow.identities.all(user_id=uid) == []
        assert await uow.usage.all(user_id=uid) == []
        assert await uow.directory.count_users() == 1
        kept = await uow.payment_events.get(event_id=payment.id)
        assert kept == msgspec.structs.replace(payment, user_id=None)
        assert await uow.users.get(user_id=other) is not None
