"""Rate limits on unauthenticated entry points (login, register, Google sign-in), shared by
every instance through the database.

Each rule is a fixed window per key: the first attempt opens a window of `window_s` seconds
and every attempt in it counts, refused ones included (so hammering does not help). An attempt
is refused when any of its keys has counted more than its limit in the current window; the
answer says when the latest of those windows ends (`Retry-After`).

A failures-only rule (`check_failures`) counts each attempt at once, so a burst of attempts in
flight cannot slip past it, and an attempt that succeeds is then `forgive`n: a credit counted
under a key of the same window, subtracted from the count. So only failures use the budget.
Keys name what they count
(`login:ip:203.0.113.9`, `login:account:<sha256 of the email>`): an account key holds a digest,
never the address.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime

import msgspec
import structlog

from training_analyzer.core.accounts import RateLimitHit
from training_analyzer.core.errors import InvalidInput, RateLimited
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage, SystemUnitOfWork

log = structlog.get_logger(__name__)


class RateLimit(msgspec.Struct, frozen=True, kw_only=True):
    """At most `limit` attempts per `window_s` seconds."""

    limit: int
    window_s: int

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or self.limit < 1:
            raise InvalidInput("limit", f"must be an integer >= 1, got {self.limit!r}")
        if isinstance(self.window_s, bool) or self.window_s < 1:
            raise InvalidInput("window_s", f"must be an integer >= 1, got {self.window_s!r}")


class RateRule(msgspec.Struct, frozen=True, kw_only=True):
    """One counter an attempt is checked against."""

    key: str
    limit: RateLimit


def account_key(action: str, email: str) -> str:
    """The counter key of an account (a normalised email) for `action`, as a digest."""
    return f"{action}:account:{hashlib.sha256(email.encode('utf-8')).hexdigest()}"


def ip_key(action: str, ip: str | None) -> str:
    """The counter key of a client address for `action` ("unknown" when the address is not)."""
    return f"{action}:ip:{ip or 'unknown'}"


def _kind(key: str) -> str:
    """What a key counts ("ip", "account") for logs and the problem body; never the value."""
    parts = key.split(":")
    return parts[1] if len(parts) > 2 else "key"


class RateLimiter:
    """Counts attempts in the database and refuses those over a limit."""

    def __init__(self, *, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def check(self, *, action: str, rules: Sequence[RateRule]) -> None:
        """Count one attempt against every rule; raise RateLimited if any is over its limit.

        All counters move in one transaction. RateLimited carries `retry_after_s`, the whole
        seconds until the latest exceeded window ends (at least 1).
        """
        if not rules:
            return
        now = self._clock.now()
        exceeded = []
        async with self._storage.system(reason=f"rate-limit:{action}") as uow:
            for rule in rules:
                hit = await uow.rate_limits.hit(key=rule.key, window_s=rule.limit.window_s, now=now)
                if hit.count > rule.limit.limit:
                    exceeded.append(hit)
        _refuse(action=action, exceeded=exceeded, now=now)

    async def check_failures(self, *, action: str, rule: RateRule) -> datetime:
        """Count one attempt as failed until forgiven; raise RateLimited if over the limit.

        Returns the end of the rule's current window, which `forgive` needs. The attempt is
        counted in its own committed transaction (concurrent attempts get distinct counts);
        the credits are read by a hit that is rolled back, as the port has no plain read.
        """
        now = self._clock.now()
        async with self._storage.system(reason=f"rate-limit:{action}") as uow:
            hit = await uow.rate_limits.hit(key=rule.key, window_s=rule.limit.window_s, now=now)
        async with self._storage.system(reason=f"rate-limit:{action}") as uow:
            credits = await uow.rate_limits.hit(
                key=_credit_key(rule.key, hit.reset_at), window_s=rule.limit.window_s, now=now
            )
            await uow.rollback()
        forgiven = credits.count - 1  # the rolled-back hit itself is not a credit
        if hit.count - forgiven > rule.limit.limit:
            _refuse(action=action, exceeded=[hit], now=now)
        return hit.reset_at

    async def forgive(self, *, uow: SystemUnitOfWork, rule: RateRule, window_end: datetime) -> None:
        """Take back an attempt `check_failures` counted (it succeeded), in the caller's tx."""
        await uow.rate_limits.hit(
            key=_credit_key(rule.key, window_end),
            window_s=rule.limit.window_s,
            now=self._clock.now(),
        )


def _credit_key(key: str, window_end: datetime) -> str:
    """The key counting the forgiven attempts of `key`'s window ending at `window_end`."""
    return f"{key}:forgiven:{window_end.timestamp():.0f}"


def _refuse(*, action: str, exceeded: Sequence[RateLimitHit], now: datetime) -> None:
    """Raise RateLimited for the exceeded counters (if any), retrying after the latest ends."""
    if exceeded:
        reset_at = max(hit.reset_at for hit in exceeded)
        retry_after_s = max(1, math.ceil((reset_at - now).total_seconds()))
        kinds = sorted({_kind(hit.key) for hit in exceeded})
        log.warning("rate_limit.refused", action=action, by=",".join(kinds))
        raise RateLimited(
            "too many attempts; try again later",
            retry_after_s=retry_after_s,
            limited_by=",".join(kinds),
        )
