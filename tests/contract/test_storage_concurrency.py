"""Concurrent writers agree through the database: quotas, rotations, webhooks.

On SQLite the consumers are spread over several storage instances on one file (as several
server processes would be); on PostgreSQL they run on several pooled connections at once.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import msgspec

from tests.contract import storage_builders as make
from tests.contract.conftest import Backend
from training_analyzer.core.accounts import UsageGrant
from training_analyzer.ports.storage import Storage


async def _storages(backend: Backend, count: int) -> list[Storage]:
    return [backend.storage] + [await backend.open_another() for _ in range(count - 1)]


async def test_fifty_concurrent_consumers_of_a_limit_of_five_get_exactly_five(
    backend: Backend,
) -> None:
    uid = await make.register(backend.storage)
    storages = await _storages(backend, 5)
    server_pids: set[int] = set()

    async def consume(i: int) -> UsageGrant:
        storage = storages[i % len(storages)]
        async with storage.unit_of_work(user_id=uid) as uow:
            connection = getattr(uow, "connection", None)
            if connection is not None:
                server_pids.add(connection.get_server_pid())
            return await uow.usage.consume(
                user_id=uid, feature="ai_workout_analysis", window_key="2024-05", limit=5
            )

    grants = await asyncio.gather(*(consume(i) for i in range(50)))
    assert sum(g.granted for g in grants) == 5
    assert sorted(g.used for g in grants if g.granted) == [1, 2, 3, 4, 5]
    assert all(g.used == 5 for g in grants if not g.granted)
    async with backend.storage.unit_of_work(user_id=uid) as uow:
        assert (
            await uow.usage.get(user_id=uid, feature="ai_workout_analysis", window_key="2024-05")
            == 5
        )
    if backend.name == "postgres":
        # Several server connections took part at once, so the guard did the work.
        assert len(server_pids) > 1


async def test_of_concurrent_rotations_of_one_token_exactly_one_wins(backend: Backend) -> None:
    uid = await make.register(backend.storage)
    token = make.session(uid)
    async with backend.storage.unit_of_work(user_id=uid) as uow:
        await uow.sessions.add(user_id=uid, session=token)
    storages = await _storages(backend, 3)

    async def rotate(i: int) -> bool:
        async with storages[i % len(storages)].unit_of_work(user_id=uid) as uow:
            return await uow.sessions.revoke(
                user_id=uid, session_id=token.id, at=make.T0, replaced_by=f"successor-{i}"
            )

    results = await asyncio.gather(*(rotate(i) for i in range(12)))
    assert sum(results) == 1


async def test_a_webhook_delivered_concurrently_is_recorded_once(backend: Backend) -> None:
    event = make.payment_event(None)
    storages = await _storages(backend, 3)

    async def deliver(i: int) -> bool:
        async with storages[i % len(storages)].system(reason="stripe-webhook") as uow:
            return await uow.payment_events.record(event=event)

    results = await asyncio.gather(*(deliver(i) for i in range(12)))
    assert sum(results) == 1


async def test_concurrent_subscription_events_leave_the_newest(backend: Backend) -> None:
    uid = await make.register(backend.storage)
    base = make.subscription(uid, customer="cus_concurrent")
    offsets = list(range(20))
    random.Random(7).shuffle(offsets)
    versions = [
        msgspec.structs.replace(base, event_at=make.T0 + timedelta(seconds=s)) for s in offsets
    ]
    storages = await _storages(backend, 3)

    async def save(i: int) -> None:
        async with storages[i % len(storages)].unit_of_work(user_id=uid) as uow:
            await uow.subscriptions.save(user_id=uid, subscription=versions[i])

    await asyncio.gather(*(save(i) for i in range(len(versions))))
    async with backend.storage.unit_of_work(user_id=uid) as uow:
        stored = await uow.subscriptions.get(user_id=uid)
    assert stored is not None
    assert stored.event_at == make.T0 + timedelta(seconds=19)
