"""Builders of stored entities with every field set, for the storage contract suite."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from training_analyzer.core.accounts import (
    AuditEvent,
    IdentityProvider,
    LinkedIdentity,
    PaymentEvent,
    RefreshSession,
    Role,
    Subscription,
    SubscriptionStatus,
    User,
)
from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    DailyLoad,
    Lap,
    LoadMethod,
    Source,
    Sport,
    Summary,
)
from training_analyzer.core.analytics import ActivityBests
from training_analyzer.core.athletes import AthleteProfile, Sex, Thresholds
from training_analyzer.core.billing import (
    BillingPeriod,
    SubscriptionChanged,
    SubscriptionEventKind,
    apply_subscription_event,
)
from training_analyzer.core.billing import SubscriptionStatus as BillingStatus
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.tiers import Tier
from training_analyzer.ids import new_id
from training_analyzer.ports.billing_storage import BillingSubscription
from training_analyzer.ports.storage import ActivityLink, Storage

# Microseconds on purpose: every adapter must keep full datetime precision.
T0 = datetime(2024, 5, 1, 6, 30, 15, 123456, tzinfo=UTC)


def user(*, user_id: str | None = None, email: str | None = None, at: datetime = T0) -> User:
    """An account with every optional field set."""
    uid = user_id or new_id()
    return User(
        id=uid,
        email=email or f"{uid}@example.org",
        display_name="Ada Runner",
        created_at=at,
        updated_at=at + timedelta(seconds=1),
        role=Role.ADMIN,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        email_verified=True,
        timezone="Europe/Berlin",
        disabled_at=at + timedelta(days=3),
    )


def session(
    user_id: str, *, family_id: str | None = None, at: datetime = T0, token: str | None = None
) -> RefreshSession:
    """An active refresh-token session."""
    return RefreshSession(
        id=new_id(),
        user_id=user_id,
        family_id=family_id or new_id(),
        token_hash=token or f"sha256:{new_id()}",
        created_at=at,
        expires_at=at + timedelta(days=30),
        user_agent="Mozilla/5.0",
        ip="203.0.113.7",
    )


def identity(
    user_id: str, *, provider: IdentityProvider = IdentityProvider.GOOGLE, subject: str = ""
) -> LinkedIdentity:
    """A linked external account."""
    return LinkedIdentity(
        id=new_id(),
        user_id=user_id,
        provider=provider,
        subject=subject or f"sub-{new_id()}",
        created_at=T0,
        email="ada@example.org",
    )


def profile(user_id: str) -> AthleteProfile:
    """A profile with two dated threshold records."""
    return AthleteProfile(
        user_id=user_id,
        birth_year=1985,
        thresholds=(
            Thresholds(
                effective_from=date(2024, 1, 1),
                ftp_w=250.5,
                lthr_bpm=168.0,
                max_hr_bpm=190.0,
                rest_hr_bpm=48.0,
                threshold_pace_s_per_km=255.0,
                swim_css_s_per_100m=95.5,
                sex=Sex.FEMALE,
                weight_kg=61.2,
            ),
            Thresholds(effective_from=date(2024, 3, 15), ftp_w=262.0),
        ),
    )


def activity(
    user_id: str,
    *,
    start: datetime = T0,
    sport: Sport = Sport.RIDE,
    source: Source = Source.GARMIN,
    source_id: str | None = None,
    duration_s: float = 3600.0,
    name: str = "Morning ride",
) -> Activity:
    """An activity with every optional field set (laps and metrics included)."""
    return Activity(
        id=new_id(),
        user_id=user_id,
        sport=sport,
        name=name,
        start_time=start,
        utc_offset_s=7200,
        source=source,
        source_id=source_id,
        device="Edge 840",
        notes="felt strong",
        rpe=6,
        summary=Summary(
            duration_s=duration_s,
            moving_time_s=duration_s - 120.0,
            distance_m=30123.4,
            elevation_gain_m=412.0,
            avg_hr_bpm=142.5,
            max_hr_bpm=176.0,
            avg_power_w=201.25,
            max_power_w=812.0,
            avg_speed_m_s=8.37,
            max_speed_m_s=16.2,
            avg_cadence_rpm=88.0,
            energy_kcal=756.0,
        ),
        laps=(
            Lap(start_offset_s=0.0, duration_s=1800.0, distance_m=15000.0, avg_hr_bpm=138.0),
            Lap(
                start_offset_s=1800.0,
                duration_s=duration_s - 1800.0,
                distance_m=15123.4,
                avg_hr_bpm=147.0,
                avg_power_w=215.0,
                avg_speed_m_s=8.4,
            ),
        ),
        metrics=ActivityMetrics(
            load=78.4,
            load_method=LoadMethod.POWER_TSS,
            trimp=96.1,
            intensity_factor=0.81,
            normalized_power_w=214.0,
            hr_zone_s=(300.0, 1500.0, 1200.0, 600.0, 0.0),
            power_zone_s=(200.0, 1000.0, 1600.0, 700.0, 100.0, 0.0, 0.0),
        ),
        created_at=T0,
        updated_at=T0,
    )


def streams(n: int = 600) -> Streams:
    """Ten minutes of 1 Hz samples with a dropout in each channel."""
    return Streams(
        time_s=[float(i) for i in range(n)],
        hr_bpm=[None if i == 10 else 120.0 + (i % 40) for i in range(n)],
        power_w=[None if i == 20 else 180.0 + (i % 60) * 1.5 for i in range(n)],
        speed_m_s=[8.0 + (i % 7) * 0.1 for i in range(n)],
        distance_m=[i * 8.2 for i in range(n)],
        altitude_m=[100.0 + (i % 100) * 0.25 for i in range(n)],
        cadence_rpm=[88.0 for _ in range(n)],
        lat_deg=[52.52 + i * 1e-5 for i in range(n)],
        lon_deg=[13.405 + i * 1e-5 for i in range(n)],
    )


def daily_load(user_id: str, day: date, load: float = 55.5) -> DailyLoad:
    """One day's load with PMC values."""
    return DailyLoad(
        user_id=user_id,
        day=day,
        load=load,
        activity_count=2,
        duration_s=5400.0,
        distance_m=42000.0,
        ctl=61.25,
        atl=72.5,
        estimated=True,
    )


def subscription(
    user_id: str, *, event_at: datetime = T0, tier: Tier = Tier.PRO, customer: str | None = None
) -> Subscription:
    """A paid subscription."""
    return Subscription(
        user_id=user_id,
        tier=tier,
        status=SubscriptionStatus.ACTIVE,
        event_at=event_at,
        updated_at=event_at + timedelta(seconds=2),
        provider_customer_id=customer or f"cus_{new_id()[-12:]}",
        provider_subscription_id=f"sub_{new_id()[-12:]}",
        current_period_end=event_at + timedelta(days=30),
        cancel_at_period_end=True,
    )


def payment_event(user_id: str | None, *, event_id: str | None = None) -> PaymentEvent:
    """A webhook event."""
    return PaymentEvent(
        id=event_id or f"evt_{new_id()}",
        type="invoice.paid",
        received_at=T0,
        user_id=user_id,
        amount_cents=1299,
        currency="usd",
    )


def audit_event(user_id: str | None, *, at: datetime = T0) -> AuditEvent:
    """A security event."""
    return AuditEvent(
        id=new_id(),
        action="auth.login_failed",
        at=at,
        user_id=user_id,
        ip="198.51.100.4",
        details={"reason": "bad_password"},
    )


def billing_subscription(user_id: str, *, at: datetime = T0) -> BillingSubscription:
    """An active Pro subscription of `user_id` as the billing service stores it."""
    event = SubscriptionChanged(
        event_id=f"evt_{new_id()}",
        created=at,
        kind=SubscriptionEventKind.CREATED,
        subscription_id=f"sub_{new_id()}",
        customer_id=f"cus_{user_id}",
        status=BillingStatus.ACTIVE,
        price_id="price_pro_month",
        current_period_end=at + timedelta(days=30),
        cancel_at_period_end=False,
        user_id=user_id,
    )
    return BillingSubscription(
        user_id=user_id,
        state=apply_subscription_event(state=None, event=event),
        tier=Tier.PRO,
        period=BillingPeriod.MONTH,
        updated_at=at,
    )


async def add_billing(storage: Storage, user_id: str) -> None:
    """Store a payment customer and a subscription for `user_id`."""
    async with storage.unit_of_work(user_id=user_id) as uow:
        await uow.billing.add_customer(user_id=user_id, customer_id=f"cus_{user_id}", at=T0)
        saved = await uow.billing.save_subscription(
            user_id=user_id, subscription=billing_subscription(user_id), expected_version=0
        )
        assert saved, "the billing subscription was not stored"


async def fill_every_table(storage: Storage, user_id: str) -> None:
    """One row of every user-owned kind for `user_id` (erasure and RLS tests walk them all).

    A new user-owned table gets its row here, once, and both suites cover it.
    """
    ride = activity(user_id)
    async with storage.unit_of_work(user_id=user_id) as uow:
        await uow.activities.add(user_id=user_id, activity=ride)
        await uow.streams.put(user_id=user_id, activity_id=ride.id, streams=streams(30))
        await uow.activity_links.put(
            user_id=user_id,
            link=ActivityLink(activity_id=ride.id, multisport_group="g", multisport_index=0),
        )
        await uow.activity_bests.put(
            user_id=user_id,
            bests=ActivityBests(activity_id=ride.id, day=date(2024, 5, 1), sport=ride.sport),
        )
        await uow.sessions.add(user_id=user_id, session=session(user_id))
        await uow.identities.link(user_id=user_id, identity=identity(user_id))
        await uow.athletes.save(user_id=user_id, profile=profile(user_id))
        await uow.daily_loads.upsert(user_id=user_id, loads=[daily_load(user_id, date(2024, 5, 1))])
        await uow.subscriptions.save(user_id=user_id, subscription=subscription(user_id))
        await uow.usage.consume(user_id=user_id, feature="f", window_key="w", limit=5)
        await uow.audit.append(user_id=user_id, event=audit_event(user_id))
    async with storage.system(reason="test-fill") as uow:
        await uow.payment_events.record(event=payment_event(user_id))
    await add_billing(storage, user_id)


async def register(storage: Storage, *, email: str | None = None) -> str:
    """Create an account in its own unit of work; returns its id."""
    account = user(email=email)
    async with storage.unit_of_work(user_id=account.id) as uow:
        await uow.users.add(user_id=account.id, user=account)
    return account.id
