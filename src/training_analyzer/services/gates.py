"""The feature gate: which tier a user has, what its plan allows, and one atomic use at a time.

Every gated route makes one call, `consume(user_id=..., feature=...)`, which in one unit of
work reads the user's timezone and subscriptions, derives the tier (`effective_access`, grace
period included), reads the tier's limits from the `plans` table (so an administrator's change
applies on the next request), and for a windowed limit takes one use with the storage's
guarded upsert, which stays exact under any concurrency. It returns the decision; `require`
raises the 402 error instead, and `use` also gives the use back if the guarded work fails.

Counting rules:

- Per-day and per-month limits count in the user's local calendar window
  (`core.quotas.feature_window`); the counter key is the window key, so a new window starts
  at zero without any reset job.
- Unlimited windowed features are still counted (against a cap no one reaches), so usage and
  admin figures see them; on/off features (data export, ...) are counted per local day for
  the same reason, but never limited by the count.
- A concurrent limit (active AI plans) counts items that exist, which only their owner knows:
  the caller passes `in_use`.
- History is a span, not a use: `history_start` says from which instant activities and
  analytics are shown. Nothing is deleted, so an upgrade shows everything again at once.

Plans are seeded from `core.tiers.plan_table()` on first use; a tier whose row is missing falls
back to the tier table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

import msgspec

from training_analyzer.core.billing import Access, PriceCatalog
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.quotas import (
    Allowed,
    Decision,
    Denied,
    Period,
    UsageWindow,
    day_start,
    feature_window,
    quota_error,
    usage_window,
)
from training_analyzer.core.tiers import (
    Capped,
    Feature,
    Included,
    Limit,
    Measure,
    NotIncluded,
    Plan,
    Tier,
    Unlimited,
    admits,
    measure_of,
    plan_for,
    plan_table,
)
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import Storage, UnitOfWork
from training_analyzer.services.billing import effective_access

# Uncapped uses are counted against this (INTEGER's maximum): a guard no one reaches.
METERING_CAP = 2_147_483_647


class GateDecision(msgspec.Struct, frozen=True, kw_only=True):
    """The gate's answer: the core decision plus what is needed to give the use back.

    `window_key` is the counter the use was taken from (None when nothing was counted).
    """

    decision: Decision
    tier: Tier
    window_key: str | None
    counted: bool

    @property
    def allowed(self) -> bool:
        """Whether the use may go ahead."""
        return isinstance(self.decision, Allowed)


class HistoryWindow(msgspec.Struct, frozen=True, kw_only=True):
    """What a capped history shows: the last `days` local days, from `first_day` (local) at
    `start` (UTC); older activities and analytics are hidden, never deleted."""

    days: int
    first_day: date
    start: datetime


class UsageLine(msgspec.Struct, frozen=True, kw_only=True):
    """One feature in `GET /me/usage`: its limit, what is used, when it resets.

    `used` is None where the gate does not count (concurrent items and history days);
    `visible_from` is set for history only.
    """

    feature: Feature
    measure: Measure
    limit: Limit
    used: int | None
    window: str | None
    resets_at: datetime | None
    visible_from: datetime | None = None


class UsageReport(msgspec.Struct, frozen=True, kw_only=True):
    """Every limit of the user's plan with its usage."""

    plan: Tier
    timezone: str
    features: tuple[UsageLine, ...]


def plan_in(plans: Sequence[Plan], tier: Tier) -> Plan:
    """The stored plan of `tier`, or the tier table's if it has no row."""
    for plan in plans:
        if plan.tier is tier:
            return plan
    return plan_for(tier)


def upgrade_in(plans: Sequence[Plan], *, tier: Tier, feature: Feature, needed: int) -> Tier | None:
    """The cheapest plan ranked above `tier` whose limit admits `needed` uses, or None."""
    current = plan_in(plans, tier).rank
    complete = {p.tier: p for p in plan_table()} | {p.tier: p for p in plans}
    for plan in sorted(complete.values(), key=lambda p: p.rank):
        if plan.rank > current and admits(plan.limit(feature), at_least=needed):
            return plan.tier
    return None


def history_start_for(*, limit: Limit, now: datetime, timezone: str) -> datetime | None:
    """The first instant shown under a days-of-history `limit`: the last N local days.

    Today counts as one of them, as in `core.quotas.history_start`; None shows everything.
    """
    if not isinstance(limit, Capped):
        return None
    today = date.fromisoformat(usage_window(period=Period.DAY, now=now, timezone=timezone).key)
    first = today - timedelta(days=limit.maximum - 1)
    return day_start(day=first, timezone=timezone)


def _counting_window(feature: Feature, now: datetime, timezone: str) -> UsageWindow | None:
    """Where a use of `feature` is counted: its limit's window, or the local day (on/off)."""
    match measure_of(feature):
        case Measure.PER_DAY | Measure.PER_MONTH:
            return feature_window(feature=feature, now=now, timezone=timezone)
        case Measure.ACCESS:
            return usage_window(period=Period.DAY, now=now, timezone=timezone)
        case _:
            return None


class FeatureGate:
    """Checks a user's tier and takes uses of gated features, atomically."""

    def __init__(
        self, *, storage: Storage, clock: Clock, catalog: PriceCatalog, grace_period_s: int
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._catalog = catalog
        self._grace_s = grace_period_s
        self._seeded = False

    async def plans(self) -> list[Plan]:
        """Every plan as stored (seeded from the tier table on first use), cheapest first."""
        await self.ensure_plans()
        async with self._storage.system(reason="read plans") as uow:
            stored = await uow.plans.all()
        return [plan_in(stored, p.tier) for p in plan_table()]

    async def ensure_plans(self) -> None:
        """Seed the `plans` table with the tier table's rows it lacks (once per process)."""
        if self._seeded:
            return
        async with self._storage.system(reason="seed plans") as uow:
            await uow.plans.seed(plans=plan_table(), at=self._clock.now())
        self._seeded = True

    async def tier_in(self, uow: UnitOfWork, *, user_id: str, now: datetime) -> Access:
        """The user's access (tier, reason, until) at `now`, inside the caller's unit of work."""
        subscriptions = await uow.billing.subscriptions(user_id=user_id)
        access, _ = effective_access(
            subscriptions, catalog=self._catalog, now=now, grace_period_s=self._grace_s
        )
        return access

    async def consume(
        self, *, user_id: str, feature: Feature, in_use: int | None = None
    ) -> GateDecision:
        """Check the tier and take one use of `feature` in one atomic step; return the decision.

        `in_use` is required for a concurrent limit (how many items exist now) and refused
        otherwise. Raises InvalidInput for history (a span, see `history_start`) or a bad
        `in_use`; NotFound if the user does not exist.
        """
        feature = Feature(feature)
        measure = measure_of(feature)
        if measure is Measure.DAYS_OF_HISTORY:
            raise InvalidInput("feature", "history is a span of days; use history_start")
        if (measure is Measure.CONCURRENT) != (in_use is not None):
            raise InvalidInput("in_use", "is given for concurrent limits, and only for them")
        await self.ensure_plans()
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tier = (await self.tier_in(uow, user_id=user_id, now=now)).tier
            plans = await uow.plans.all()
            limit = plan_in(plans, tier).limit(feature)
            if in_use is not None:
                return self._concurrent(plans, tier, feature, limit, in_use)
            window = _counting_window(feature, now, user.timezone)
            assert window is not None  # every other measure is counted
            resets_at = window.resets_at if measure is not Measure.ACCESS else None
            match limit:
                case NotIncluded():
                    used = await uow.usage.get(
                        user_id=user_id, feature=feature, window_key=window.key
                    )
                    denied = Denied(
                        feature=feature,
                        limit=limit,
                        used=used,
                        resets_at=None,  # waiting never grants a feature the plan lacks
                        upgrade_to=upgrade_in(plans, tier=tier, feature=feature, needed=1),
                    )
                    return GateDecision(decision=denied, tier=tier, window_key=None, counted=False)
                case Capped(maximum=maximum):
                    grant = await uow.usage.consume(
                        user_id=user_id, feature=feature, window_key=window.key, limit=maximum
                    )
                    if not grant.granted:
                        denied = Denied(
                            feature=feature,
                            limit=limit,
                            used=grant.used,
                            resets_at=resets_at,
                            upgrade_to=upgrade_in(
                                plans, tier=tier, feature=feature, needed=grant.used + 1
                            ),
                        )
                        return GateDecision(
                            decision=denied, tier=tier, window_key=None, counted=False
                        )
                    # Core's `remaining` counts this use too: limit - used before it.
                    allowed = Allowed(
                        feature=feature, remaining=maximum - grant.used + 1, resets_at=resets_at
                    )
                case Unlimited() | Included():
                    await uow.usage.consume(
                        user_id=user_id,
                        feature=feature,
                        window_key=window.key,
                        limit=METERING_CAP,
                    )
                    allowed = Allowed(feature=feature, remaining=Unlimited(), resets_at=resets_at)
        return GateDecision(decision=allowed, tier=tier, window_key=window.key, counted=True)

    @staticmethod
    def _concurrent(
        plans: Sequence[Plan], tier: Tier, feature: Feature, limit: Limit, in_use: int
    ) -> GateDecision:
        if isinstance(in_use, bool) or not isinstance(in_use, int) or in_use < 0:
            raise InvalidInput("in_use", f"must be an integer >= 0, got {in_use!r}")
        decision: Decision
        match limit:
            case Capped(maximum=maximum) if in_use < maximum:
                decision = Allowed(feature=feature, remaining=maximum - in_use, resets_at=None)
            case Unlimited() | Included():
                decision = Allowed(feature=feature, remaining=Unlimited(), resets_at=None)
            case _:
                decision = Denied(
                    feature=feature,
                    limit=limit,
                    used=in_use,
                    resets_at=None,  # an item ending frees a place; no clock does
                    upgrade_to=upgrade_in(plans, tier=tier, feature=feature, needed=in_use + 1),
                )
        return GateDecision(decision=decision, tier=tier, window_key=None, counted=False)

    async def require(
        self, *, user_id: str, feature: Feature, in_use: int | None = None
    ) -> GateDecision:
        """`consume`, raising QuotaExceeded (HTTP 402) when the use is denied."""
        result = await self.consume(user_id=user_id, feature=feature, in_use=in_use)
        if isinstance(result.decision, Denied):
            raise quota_error(result.decision)
        return result

    async def release(self, *, user_id: str, grant: GateDecision) -> None:
        """Give back a use whose work failed (nothing happens for an uncounted decision)."""
        if not grant.counted or grant.window_key is None:
            return
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await uow.usage.release(
                user_id=user_id, feature=grant.decision.feature, window_key=grant.window_key
            )

    @asynccontextmanager
    async def use(
        self, *, user_id: str, feature: Feature, in_use: int | None = None
    ) -> AsyncIterator[GateDecision]:
        """Take one use for the block; raise 402 if denied; give it back if the block fails."""
        grant = await self.require(user_id=user_id, feature=feature, in_use=in_use)
        try:
            yield grant
        except BaseException:
            await self.release(user_id=user_id, grant=grant)
            raise

    async def history_start_in(
        self, uow: UnitOfWork, *, user_id: str, timezone: str, now: datetime
    ) -> datetime | None:
        """From which instant the user's activities and analytics are shown (None: all).

        For the activities and analytics services, inside their own unit of work.
        """
        tier = (await self.tier_in(uow, user_id=user_id, now=now)).tier
        plans = await uow.plans.all()
        limit = plan_in(plans, tier).limit(Feature.HISTORY_DAYS)
        return history_start_for(limit=limit, now=now, timezone=timezone)

    async def history_start(self, *, user_id: str) -> datetime | None:
        """From which instant the user's activities and analytics are shown (None: all)."""
        await self.ensure_plans()
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            return await self.history_start_in(
                uow, user_id=user_id, timezone=user.timezone, now=now
            )

    async def history_window(self, *, user_id: str) -> HistoryWindow | None:
        """The user's visible history window now, or None when the plan shows everything."""
        await self.ensure_plans()
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tier = (await self.tier_in(uow, user_id=user_id, now=now)).tier
            limit = plan_in(await uow.plans.all(), tier).limit(Feature.HISTORY_DAYS)
        start = history_start_for(limit=limit, now=now, timezone=user.timezone)
        if start is None or not isinstance(limit, Capped):
            return None
        first_day = date.fromisoformat(
            usage_window(period=Period.DAY, now=start, timezone=user.timezone).key
        )
        return HistoryWindow(days=limit.maximum, first_day=first_day, start=start)

    async def require_visible(self, *, user_id: str, activity_id: str) -> None:
        """Raise NotFound when the activity is older than the user's visible history.

        Hidden looks exactly like absent: an upgrade shows it again, nothing was deleted.
        """
        window = await self.history_window(user_id=user_id)
        if window is None:
            return
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            activity = await uow.activities.get(user_id=user_id, activity_id=activity_id)
        if activity is not None and activity.start_time < window.start:
            raise NotFound("no such activity", activity_id=activity_id)

    async def usage(self, *, user_id: str) -> UsageReport:
        """Each limit of the user's plan, what is used in its current window, when it resets."""
        await self.ensure_plans()
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tier = (await self.tier_in(uow, user_id=user_id, now=now)).tier
            plan = plan_in(await uow.plans.all(), tier)
            lines: list[UsageLine] = []
            for entitlement in plan.entitlements:
                feature = entitlement.feature
                window = _counting_window(feature, now, user.timezone)
                used = None
                if window is not None:
                    used = await uow.usage.get(
                        user_id=user_id, feature=feature, window_key=window.key
                    )
                visible_from = None
                if entitlement.measure is Measure.DAYS_OF_HISTORY:
                    visible_from = history_start_for(
                        limit=entitlement.limit, now=now, timezone=user.timezone
                    )
                windowed = entitlement.measure in {Measure.PER_DAY, Measure.PER_MONTH}
                lines.append(
                    UsageLine(
                        feature=feature,
                        measure=entitlement.measure,
                        limit=entitlement.limit,
                        used=used,
                        window=None if window is None else window.key,
                        resets_at=window.resets_at if window is not None and windowed else None,
                        visible_from=visible_from,
                    )
                )
        return UsageReport(plan=tier, timezone=user.timezone, features=tuple(lines))
