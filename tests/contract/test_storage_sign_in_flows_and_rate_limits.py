"""Started sign-ins, shared rate-limit counters and the admin audit listing, on every adapter.

These rows belong to no user: the repositories work in the system scope only. Sign-in flows
are single use (a replayed or forged state finds nothing); rate-limit hits are one atomic upsert
that several instances share.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta

import asyncpg
import pytest

from tests.contract import storage_builders as make
from tests.contract.conftest import Backend
from training_analyzer.adapters.sql.schema import TRANSIENT_TABLES
from training_analyzer.core.accounts import IdentityProvider, OidcFlow
from training_analyzer.core.errors import Conflict, Forbidden, InvalidInput
from training_analyzer.ids import new_id
from training_analyzer.ports.storage import Storage

T0 = make.T0
TTL = timedelta(minutes=10)


@pytest.fixture(autouse=True)
async def _clean_transient_tables(backend: Backend) -> None:
    """The PostgreSQL schema lives for the session; start each test without old rows."""
    if backend.name == "postgres" and backend.url is not None:
        conn = await asyncpg.connect(backend.url)
        try:
            await conn.execute(f"TRUNCATE {', '.join(t.name for t in TRANSIENT_TABLES)}")
        finally:
            await conn.close()


def _flow(*, state: str | None = None, at: datetime = T0, ttl: timedelta = TTL) -> OidcFlow:
    raw_state = state or new_id()
    return OidcFlow(
        state_hash=hashlib.sha256(raw_state.encode()).hexdigest(),
        provider=IdentityProvider.GOOGLE,
        code_verifier="v" * 43,
        nonce="nonce-" + new_id(),
        redirect_uri="https://api.example.com/auth/google/callback",
        return_to="https://app.example.com/welcome",
        created_at=at,
        expires_at=at + ttl,
    )


# ---------------------------------------------------------------------------------------------
# sign-in flows


async def test_a_flow_comes_back_whole_once_then_never_again(storage: Storage) -> None:
    flow = _flow()
    async with storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=flow)
    async with storage.system(reason="test-sign-in") as uow:
        taken = await uow.oidc_flows.take(state_hash=flow.state_hash, now=T0 + timedelta(seconds=5))
    assert taken == flow
    async with storage.system(reason="test-sign-in") as uow:
        replay = await uow.oidc_flows.take(state_hash=flow.state_hash, now=T0)
    assert replay is None


async def test_a_flow_without_return_target_round_trips(storage: Storage) -> None:
    flow = _flow()
    bare = OidcFlow(**{**{f: getattr(flow, f) for f in flow.__struct_fields__}, "return_to": None})
    async with storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=bare)
        assert await uow.oidc_flows.take(state_hash=bare.state_hash, now=T0) == bare


async def test_an_unknown_state_finds_nothing(storage: Storage) -> None:
    async with storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=_flow())
        tampered = hashlib.sha256(b"not-the-state").hexdigest()
        assert await uow.oidc_flows.take(state_hash=tampered, now=T0) is None


async def test_an_expired_flow_gives_none_and_is_removed(storage: Storage) -> None:
    flow = _flow()
    async with storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=flow)
    async with storage.system(reason="test-sign-in") as uow:
        # The expiry instant itself is already too late: a flow is live while now < expires_at.
        assert await uow.oidc_flows.take(state_hash=flow.state_hash, now=flow.expires_at) is None
    async with storage.system(reason="test-sign-in") as uow:
        # Removed by the failed take: storing the same state again does not conflict.
        await uow.oidc_flows.put(flow=flow)


async def test_storing_a_state_twice_is_a_conflict(storage: Storage) -> None:
    flow = _flow()
    async with storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=flow)
        with pytest.raises(Conflict):
            await uow.oidc_flows.put(flow=flow)
        # The failed write left the unit of work usable.
        assert await uow.oidc_flows.take(state_hash=flow.state_hash, now=T0) == flow


async def test_purge_removes_only_flows_no_longer_live(storage: Storage) -> None:
    old = _flow(at=T0 - timedelta(hours=1))
    fresh = _flow(at=T0)
    async with storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=old)
        await uow.oidc_flows.put(flow=fresh)
        assert await uow.oidc_flows.purge_expired(now=T0) == 1
        assert await uow.oidc_flows.take(state_hash=fresh.state_hash, now=T0) == fresh
        assert await uow.oidc_flows.take(state_hash=old.state_hash, now=T0) is None


async def test_of_concurrent_takes_of_one_flow_exactly_one_wins(backend: Backend) -> None:
    flow = _flow()
    async with backend.storage.system(reason="test-sign-in") as uow:
        await uow.oidc_flows.put(flow=flow)
    storages = [backend.storage] + [await backend.open_another() for _ in range(3)]

    async def take(storage: Storage) -> OidcFlow | None:
        async with storage.system(reason="test-sign-in") as uow:
            return await uow.oidc_flows.take(state_hash=flow.state_hash, now=T0)

    results = await asyncio.gather(*(take(storages[i % 4]) for i in range(12)))
    assert [r for r in results if r is not None] == [flow]


async def test_flows_and_counters_refuse_a_user_scope(storage: Storage) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        system_only = uow  # a user unit of work exposes them only to refuse
        with pytest.raises(Forbidden):
            await system_only.oidc_flows.put(flow=_flow())  # type: ignore[attr-defined]
        with pytest.raises(Forbidden):
            await system_only.rate_limits.hit(key="k", window_s=60, now=T0)  # type: ignore[attr-defined]
        with pytest.raises(Forbidden):
            await system_only.directory.audit_page()  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# rate limits


async def test_hits_count_up_within_a_window_that_starts_at_the_first_hit(
    storage: Storage,
) -> None:
    key = "login:ip:203.0.113.9"
    async with storage.system(reason="test-rate-limit") as uow:
        first = await uow.rate_limits.hit(key=key, window_s=60, now=T0)
        second = await uow.rate_limits.hit(key=key, window_s=60, now=T0 + timedelta(seconds=30))
        third = await uow.rate_limits.hit(key=key, window_s=60, now=T0 + timedelta(seconds=59))
    assert [first.count, second.count, third.count] == [1, 2, 3]
    # The window is fixed at the first hit: later hits do not push its end.
    assert first.reset_at == second.reset_at == third.reset_at == T0 + timedelta(seconds=60)
    assert third.key == key


async def test_a_hit_after_the_window_ended_opens_a_new_window(storage: Storage) -> None:
    key = "login:account:" + "a" * 64
    async with storage.system(reason="test-rate-limit") as uow:
        for _ in range(4):
            await uow.rate_limits.hit(key=key, window_s=60, now=T0)
        later = T0 + timedelta(seconds=60)  # exactly at reset_at: the old window is over
        fresh = await uow.rate_limits.hit(key=key, window_s=120, now=later)
    assert fresh.count == 1
    assert fresh.reset_at == later + timedelta(seconds=120)


async def test_keys_count_independently(storage: Storage) -> None:
    async with storage.system(reason="test-rate-limit") as uow:
        await uow.rate_limits.hit(key="register:ip:a", window_s=60, now=T0)
        await uow.rate_limits.hit(key="register:ip:a", window_s=60, now=T0)
        other = await uow.rate_limits.hit(key="register:ip:b", window_s=60, now=T0)
    assert other.count == 1


async def test_purge_removes_only_ended_windows(storage: Storage) -> None:
    async with storage.system(reason="test-rate-limit") as uow:
        await uow.rate_limits.hit(key="old", window_s=10, now=T0)
        await uow.rate_limits.hit(key="live", window_s=100, now=T0)
        assert await uow.rate_limits.purge_expired(now=T0 + timedelta(seconds=10)) == 1
        assert (await uow.rate_limits.hit(key="live", window_s=100, now=T0)).count == 2
        assert (await uow.rate_limits.hit(key="old", window_s=10, now=T0)).count == 1


@pytest.mark.parametrize(("key", "window_s"), [("", 60), ("  ", 60), ("k", 0), ("k", -5)])
async def test_an_empty_key_or_a_window_under_a_second_is_refused(
    storage: Storage, key: str, window_s: int
) -> None:
    async with storage.system(reason="test-rate-limit") as uow:
        with pytest.raises(InvalidInput) as info:
            await uow.rate_limits.hit(key=key, window_s=window_s, now=T0)
    assert info.value.argument == ("key" if not key.strip() else "window_s")


async def test_concurrent_hits_from_several_instances_count_each_exactly_once(
    backend: Backend,
) -> None:
    storages = [backend.storage] + [await backend.open_another() for _ in range(4)]

    async def hit(i: int) -> int:
        async with storages[i % len(storages)].system(reason="test-rate-limit") as uow:
            return (await uow.rate_limits.hit(key="shared", window_s=600, now=T0)).count

    counts = await asyncio.gather(*(hit(i) for i in range(40)))
    assert sorted(counts) == list(range(1, 41))


# ---------------------------------------------------------------------------------------------
# the whole audit log (admin listing)


async def test_the_whole_audit_log_pages_newest_first_across_users(storage: Storage) -> None:
    alice = await make.register(storage)
    bob = await make.register(storage)
    events = [
        make.audit_event(alice, at=T0),
        make.audit_event(bob, at=T0 + timedelta(seconds=1)),
        make.audit_event(None, at=T0 + timedelta(seconds=2)),
        make.audit_event(alice, at=T0 + timedelta(seconds=3)),
        make.audit_event(bob, at=T0 + timedelta(seconds=3)),  # same instant: ties by id
    ]
    async with storage.system(reason="test-audit") as uow:
        for event in events:
            await uow.audit.append(user_id=event.user_id, event=event)
    seen = []
    cursor = None
    pages = 0
    while True:
        async with storage.system(reason="test-audit") as uow:
            page = await uow.directory.audit_page(cursor=cursor, limit=2)
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = sorted(events, key=lambda e: (e.at, e.id), reverse=True)
    assert seen == expected
    assert pages == 3


async def test_a_user_listing_cursor_is_refused_by_the_whole_listing(storage: Storage) -> None:
    uid = await make.register(storage)
    async with storage.unit_of_work(user_id=uid) as uow:
        for second in range(3):
            event = make.audit_event(uid, at=T0 + timedelta(seconds=second))
            await uow.audit.append(user_id=uid, event=event)
        cursor = (await uow.audit.page(user_id=uid, limit=1)).next_cursor
    assert cursor is not None
    async with storage.system(reason="test-audit") as uow:
        with pytest.raises(InvalidInput):
            await uow.directory.audit_page(cursor=cursor)
