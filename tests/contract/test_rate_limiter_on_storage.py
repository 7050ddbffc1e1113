"""The login limiter's failures-only rule on every storage (its credit read relies on rollback)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.core.errors import RateLimited
from training_analyzer.ports.storage import Storage
from training_analyzer.services.rate_limits import RateLimit, RateLimiter, RateRule

RULE = RateRule(key="login:account:test", limit=RateLimit(limit=3, window_s=900))


def _limiter(storage: Storage) -> RateLimiter:
    return RateLimiter(storage=storage, clock=FakeClock(datetime(2026, 3, 2, 8, tzinfo=UTC)))


async def test_forgiven_successes_never_use_the_budget(storage: Storage) -> None:
    limiter = _limiter(storage)
    for _ in range(10):  # ten successful logins in one window
        window_end = await limiter.check_failures(action="login", rule=RULE)
        async with storage.system(reason="test") as uow:
            await limiter.forgive(uow=uow, rule=RULE, window_end=window_end)
    for _ in range(3):  # then the budget of failures is still whole
        await limiter.check_failures(action="login", rule=RULE)
    with pytest.raises(RateLimited):
        await limiter.check_failures(action="login", rule=RULE)


async def test_concurrent_failures_are_limited_exactly(storage: Storage) -> None:
    limiter = _limiter(storage)

    async def attempt() -> bool:
        try:
            await limiter.check_failures(action="login", rule=RULE)
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(attempt() for _ in range(12)))
    assert sum(results) == 3
