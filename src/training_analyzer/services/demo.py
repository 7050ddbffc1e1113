"""A demo athlete with six months of generated, periodised training (docs/activities.md).

`make run` seeds it on first start (`TA_DEMO_DATA`, default true; never in production) so a
newcomer sees a full fitness chart at once. The training is generated, not recorded, and goes
through the same import path as uploaded files (`ActivityService.import_parsed`: dedup,
metrics with the thresholds of the day, streams, bests, daily loads).

The plan, deterministic for a given seed and end date:

* **Periodisation**: four-week blocks of three build weeks (volume x1.00, x1.08, x1.16) and one
  recovery week (x0.65); each block starts 4 % above the last. The last week holds no
  intervals (a light taper), so the form line ends on the positive side.
* **A week**: Monday rest; Tuesday run intervals (5 x 4 min at 105 % of threshold speed);
  Wednesday endurance ride (IF about 0.70); Thursday easy run (summary only: average HR, no
  stream, as an old watch would upload); Friday pool swim (summary with average HR); Saturday
  long ride with two 15-minute tempo blocks; Sunday long run. About 8 % of sessions are
  skipped at random (life happens), and durations vary by +/- 10 %.
* **Streams** at 1 Hz for every ride (power, HR, speed, distance, cadence, altitude) and for
  the interval and long runs (HR, speed, distance, cadence, altitude). Power follows the
  session's target with 8 % noise and short coasting; heart rate follows intensity through a
  30-second lag with cardiac drift of about 5 bpm an hour.
* **Thresholds**: FTP 245 W (raised to 255 W after an FTP test 12 weeks before the end), LTHR
  168, max HR 188, rest HR 48, threshold pace 4:15/km, male, 72 kg.

The demo account is `DEMO_EMAIL` with `DEMO_PASSWORD`, printed by `serve` at start.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import msgspec
import structlog

from training_analyzer.core.accounts import User
from training_analyzer.core.activities import Source, Sport
from training_analyzer.core.athletes import AthleteProfile, Sex, Thresholds
from training_analyzer.core.errors import Conflict, InvalidInput
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.parsed import ParsedActivity, ParsedLap
from training_analyzer.core.quotas import zone as resolve_zone
from training_analyzer.ids import new_id
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.identity import PasswordHasher
from training_analyzer.ports.storage import Storage
from training_analyzer.services.activities import ActivityService, PendingActivity

log = structlog.get_logger(__name__)

DEMO_EMAIL: Final = "demo@example.com"
# A published password on purpose: the account exists only in development databases.
DEMO_PASSWORD: Final = "demo-athlete-2024"  # noqa: S105
DEMO_TIMEZONE: Final = "Europe/Berlin"
DEMO_WEEKS: Final = 26
DEMO_SEED: Final = 20240501

FTP_W: Final = 245.0
FTP_AFTER_TEST_W: Final = 255.0
FTP_TEST_WEEKS_BEFORE_END: Final = 12
LTHR_BPM: Final = 168.0
MAX_HR_BPM: Final = 188.0
REST_HR_BPM: Final = 48.0
THRESHOLD_PACE_S_PER_KM: Final = 255.0
WEIGHT_KG: Final = 72.0

_BUILD_FACTORS: Final = (1.00, 1.08, 1.16, 0.65)
_BLOCK_GROWTH: Final = 1.04
_SKIP_PROBABILITY: Final = 0.08
_HR_LAG_S: Final = 30.0
_DRIFT_BPM_PER_S: Final = 5.0 / 3600


class DemoLogin(msgspec.Struct, frozen=True, kw_only=True):
    """The demo account's credentials and what was seeded."""

    email: str
    password: str
    user_id: str
    created: bool
    activity_count: int = 0


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    """A stretch of a workout at a steady target: fraction of FTP (rides) or threshold speed."""

    duration_s: int
    intensity: float


class PlannedSession(msgspec.Struct, frozen=True, kw_only=True):
    """One generated workout before it is turned into a ParsedActivity."""

    sport: Sport
    name: str
    start: datetime
    segments: tuple[Segment, ...]
    with_streams: bool


def demo_thresholds(*, end: date, weeks: int = DEMO_WEEKS) -> tuple[Thresholds, ...]:
    """The demo athlete's dated thresholds: a baseline and the FTP test 12 weeks before `end`
    (half-way through plans shorter than 24 weeks)."""
    if weeks < 1:
        raise InvalidInput("weeks", f"must be >= 1, got {weeks}")
    first = end - timedelta(weeks=weeks)
    test_day = end - timedelta(weeks=min(FTP_TEST_WEEKS_BEFORE_END, weeks // 2))
    return (
        Thresholds(
            effective_from=first,
            ftp_w=FTP_W,
            lthr_bpm=LTHR_BPM,
            max_hr_bpm=MAX_HR_BPM,
            rest_hr_bpm=REST_HR_BPM,
            threshold_pace_s_per_km=THRESHOLD_PACE_S_PER_KM,
            sex=Sex.MALE,
            weight_kg=WEIGHT_KG,
        ),
        Thresholds(effective_from=test_day, ftp_w=FTP_AFTER_TEST_W),
    )


def plan_sessions(
    *,
    end: datetime,
    timezone: str = DEMO_TIMEZONE,
    weeks: int = DEMO_WEEKS,
    seed: int = DEMO_SEED,
) -> list[PlannedSession]:
    """The sessions of the `weeks` weeks ending on the local day of `end`, oldest first.

    Sessions starting after `end` are left out, so nothing is dated in the future.
    """
    if weeks < 1:
        raise InvalidInput("weeks", f"must be >= 1, got {weeks}")
    tz = resolve_zone(timezone)
    rng = random.Random(seed)
    last_day = end.astimezone(tz).date()
    monday = last_day - timedelta(days=last_day.weekday()) - timedelta(weeks=weeks - 1)
    sessions: list[PlannedSession] = []
    for week in range(weeks):
        block, position = divmod(week, 4)
        volume = _BUILD_FACTORS[position] * _BLOCK_GROWTH**block
        taper = week == weeks - 1
        recovery = position == 3 or taper
        for weekday, planner in _WEEK:
            day = monday + timedelta(weeks=week, days=weekday)
            planned = planner(rng, volume, recovery)
            if planned is None:
                continue
            sport, name, hour, segments, with_streams = planned
            skipped = rng.random() < _SKIP_PROBABILITY
            jitter_min = rng.randint(-20, 20)
            start = datetime.combine(day, time(hour), tzinfo=tz) + timedelta(minutes=jitter_min)
            start_utc = start.astimezone(UTC)
            if skipped or start_utc + timedelta(hours=4) > end:
                continue
            sessions.append(
                PlannedSession(
                    sport=sport,
                    name=name,
                    start=start_utc,
                    segments=segments,
                    with_streams=with_streams,
                )
            )
    return sessions


type _Plan = tuple[Sport, str, int, tuple[Segment, ...], bool] | None


def _minutes(rng: random.Random, base: float, volume: float) -> int:
    """A duration in seconds: `base` minutes scaled by the week's volume, +/- 10 %."""
    return round(base * volume * rng.uniform(0.9, 1.1)) * 60


def _run_intervals(rng: random.Random, volume: float, recovery: bool) -> _Plan:
    if recovery:
        return (
            Sport.RUN,
            "Easy shake-out run",
            18,
            (Segment(duration_s=_minutes(rng, 35, 1), intensity=0.74),),
            True,
        )
    reps: list[Segment] = [Segment(duration_s=15 * 60, intensity=0.75)]
    for _ in range(5):
        reps.append(Segment(duration_s=4 * 60, intensity=1.05))
        reps.append(Segment(duration_s=3 * 60, intensity=0.68))
    reps.append(Segment(duration_s=10 * 60, intensity=0.72))
    return (Sport.RUN, "Track intervals 5 x 4 min", 18, tuple(reps), True)


def _endurance_ride(rng: random.Random, volume: float, recovery: bool) -> _Plan:
    return (
        Sport.RIDE,
        "Endurance ride",
        18,
        (Segment(duration_s=_minutes(rng, 75, volume), intensity=0.66 if recovery else 0.70),),
        True,
    )


def _easy_run(rng: random.Random, volume: float, recovery: bool) -> _Plan:
    return (
        Sport.RUN,
        "Easy run",
        7,
        (Segment(duration_s=_minutes(rng, 45, volume), intensity=0.75),),
        False,
    )


def _swim(rng: random.Random, volume: float, recovery: bool) -> _Plan:
    return (
        Sport.SWIM,
        "Pool swim",
        7,
        (Segment(duration_s=_minutes(rng, 40, min(volume, 1.1)), intensity=0.8),),
        False,
    )


def _long_ride(rng: random.Random, volume: float, recovery: bool) -> _Plan:
    total = _minutes(rng, 150, volume)
    if recovery:
        return (Sport.RIDE, "Steady ride", 9, (Segment(duration_s=total, intensity=0.68),), True)
    tempo = 15 * 60
    easy = max(20 * 60, (total - 2 * tempo) // 3)
    segments = (
        Segment(duration_s=easy, intensity=0.68),
        Segment(duration_s=tempo, intensity=0.85),
        Segment(duration_s=easy, intensity=0.70),
        Segment(duration_s=tempo, intensity=0.86),
        Segment(duration_s=easy, intensity=0.66),
    )
    return (Sport.RIDE, "Long ride with tempo", 9, segments, True)


def _long_run(rng: random.Random, volume: float, recovery: bool) -> _Plan:
    return (
        Sport.RUN,
        "Long run",
        9,
        (Segment(duration_s=_minutes(rng, 80, volume), intensity=0.76),),
        True,
    )


_WEEK: Final = (
    (1, _run_intervals),
    (2, _endurance_ride),
    (3, _easy_run),
    (4, _swim),
    (5, _long_ride),
    (6, _long_run),
)


def generate_activity(session: PlannedSession, *, seed: int) -> ParsedActivity:
    """A decoded activity for a planned session: 1 Hz streams, laps per segment, totals."""
    rng = random.Random(seed)
    if session.sport is Sport.SWIM:
        return _summary_only(session, rng, speed_m_s=1.05, avg_hr=132.0)
    if not session.with_streams:
        pace_speed = 1000.0 / THRESHOLD_PACE_S_PER_KM * session.segments[0].intensity
        return _summary_only(session, rng, speed_m_s=pace_speed, avg_hr=141.0)
    ride = session.sport.family.value == "ride"
    time_s: list[float] = []
    hr: list[float | None] = []
    power: list[float | None] = []
    speed: list[float | None] = []
    distance: list[float | None] = []
    cadence: list[float | None] = []
    altitude: list[float | None] = []
    laps: list[ParsedLap] = []
    heart = REST_HR_BPM + 20.0
    covered = 0.0
    t = 0
    threshold_speed = 1000.0 / THRESHOLD_PACE_S_PER_KM
    for segment in session.segments:
        lap_start = t
        lap_distance = covered
        for _ in range(segment.duration_s):
            if ride:
                coasting = rng.random() < 0.02
                watts = (
                    0.0 if coasting else max(0.0, FTP_W * segment.intensity * rng.gauss(1, 0.08))
                )
                v = 2.0 + 0.03 * FTP_W * segment.intensity + rng.gauss(0, 0.3)
                power.append(round(watts))
                cadence.append(0.0 if coasting else round(rng.gauss(88, 3)))
                effort = segment.intensity / 0.9
            else:
                v = threshold_speed * segment.intensity * rng.gauss(1, 0.03)
                cadence.append(round(rng.gauss(86, 2)))
                effort = segment.intensity
            v = max(0.0, v)
            target = REST_HR_BPM + (LTHR_BPM - REST_HR_BPM) * min(1.12, effort)
            heart += (target - heart) / _HR_LAG_S
            hr.append(round(min(MAX_HR_BPM, heart + _DRIFT_BPM_PER_S * t + rng.gauss(0, 1))))
            covered += v
            time_s.append(float(t))
            speed.append(round(v, 3))
            distance.append(round(covered, 2))
            altitude.append(round(120 + 35 * math.sin(t / 900) + 10 * math.sin(t / 170), 1))
            t += 1
        seg_hr = [h for h in hr[lap_start:] if h is not None]
        seg_power = [p for p in power[lap_start:] if p is not None]
        laps.append(
            ParsedLap(
                start_time=session.start + timedelta(seconds=lap_start),
                elapsed_s=float(segment.duration_s),
                timer_s=float(segment.duration_s),
                distance_m=covered - lap_distance,
                avg_hr_bpm=sum(seg_hr) / len(seg_hr),
                max_hr_bpm=max(seg_hr),
                avg_power_w=sum(seg_power) / len(seg_power) if seg_power else None,
                avg_speed_m_s=(covered - lap_distance) / segment.duration_s,
            )
        )
    streams = Streams(
        time_s=time_s,
        hr_bpm=hr,
        power_w=power if ride else None,
        speed_m_s=speed,
        distance_m=distance,
        altitude_m=altitude,
        cadence_rpm=cadence,
    )
    present_hr = [h for h in hr if h is not None]
    present_power = [p for p in power if p is not None]
    return ParsedActivity(
        sport=session.sport,
        name=session.name,
        start_time=session.start,
        utc_offset_s=_offset(session.start),
        elapsed_s=float(t - 1),
        timer_s=float(t - 1),
        distance_m=covered,
        avg_hr_bpm=sum(present_hr) / len(present_hr),
        max_hr_bpm=max(present_hr),
        avg_power_w=sum(present_power) / len(present_power) if present_power else None,
        max_power_w=max(present_power) if present_power else None,
        avg_speed_m_s=covered / max(1, t - 1),
        avg_cadence_rpm=sum(c for c in cadence if c) / max(1, sum(1 for c in cadence if c)),
        max_speed_m_s=max(v for v in speed if v is not None),
        device_name="Training Analyzer demo generator",
        laps=laps,
        streams=streams,
    )


def _summary_only(
    session: PlannedSession, rng: random.Random, *, speed_m_s: float, avg_hr: float
) -> ParsedActivity:
    duration = float(sum(s.duration_s for s in session.segments))
    distance = round(duration * speed_m_s * rng.uniform(0.97, 1.03), 1)
    return ParsedActivity(
        sport=session.sport,
        name=session.name,
        start_time=session.start,
        utc_offset_s=_offset(session.start),
        elapsed_s=duration,
        timer_s=duration,
        distance_m=distance,
        avg_hr_bpm=round(avg_hr + rng.gauss(0, 3), 1),
        avg_speed_m_s=distance / duration,
        device_name="Training Analyzer demo generator",
        laps=[
            ParsedLap(
                start_time=session.start,
                elapsed_s=duration,
                timer_s=duration,
                distance_m=distance,
            )
        ],
        streams=Streams(time_s=[]),
    )


def _offset(instant: datetime) -> int:
    delta = instant.astimezone(resolve_zone(DEMO_TIMEZONE)).utcoffset()
    return 0 if delta is None else int(delta.total_seconds())


def demo_activities(
    *, end: datetime, weeks: int = DEMO_WEEKS, seed: int = DEMO_SEED
) -> list[PendingActivity]:
    """Every generated activity of the demo plan, ready for `ActivityService.import_parsed`."""
    sessions = plan_sessions(end=end, weeks=weeks, seed=seed)
    return [
        PendingActivity(
            file=f"demo-{k:03d}",
            parsed=generate_activity(s, seed=seed * 1000 + k),
            source=Source.FILE,
            source_id=f"demo:{seed}:{s.start.isoformat()}",
        )
        for k, s in enumerate(sessions)
    ]


class DemoSeeder:
    """Creates the demo account with its thresholds and training, once."""

    def __init__(
        self,
        *,
        storage: Storage,
        clock: Clock,
        hasher: PasswordHasher,
        activities: ActivityService,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hasher = hasher
        self._activities = activities

    async def seed(self, *, weeks: int = DEMO_WEEKS, seed: int = DEMO_SEED) -> DemoLogin:
        """Create the demo athlete unless its email is taken; return the login either way."""
        async with self._storage.system(reason="demo: find the demo account") as uow:
            existing = await uow.directory.find_user_by_email(email=DEMO_EMAIL)
        if existing is not None:
            return DemoLogin(
                email=DEMO_EMAIL, password=DEMO_PASSWORD, user_id=existing.id, created=False
            )
        now = self._clock.now()
        user_id = new_id()
        user = User(
            id=user_id,
            email=DEMO_EMAIL,
            display_name="Demo Athlete",
            created_at=now,
            updated_at=now,
            password_hash=await self._hasher.hash(password=DEMO_PASSWORD),
            email_verified=True,
            timezone=DEMO_TIMEZONE,
        )
        end_day = now.astimezone(resolve_zone(DEMO_TIMEZONE)).date()
        try:
            async with self._storage.unit_of_work(user_id=user_id) as uow:
                await uow.users.add(user_id=user_id, user=user)
                await uow.athletes.save(
                    user_id=user_id,
                    profile=AthleteProfile(
                        user_id=user_id,
                        birth_year=1988,
                        thresholds=demo_thresholds(end=end_day, weeks=weeks),
                    ),
                )
        except Conflict:
            # Another instance seeded it between our lookup and our insert.
            return await self.seed(weeks=weeks, seed=seed)
        pending = demo_activities(end=now, weeks=weeks, seed=seed)
        report = await self._activities.import_parsed(user_id=user_id, pending=pending)
        log.info("demo.seeded", user_id=user_id, activities=len(report.activities))
        return DemoLogin(
            email=DEMO_EMAIL,
            password=DEMO_PASSWORD,
            user_id=user_id,
            created=True,
            activity_count=len(report.activities),
        )


def session_count(sessions: Sequence[PlannedSession]) -> dict[str, int]:
    """How many sessions of each sport a plan holds (for docs and tests)."""
    counts: dict[str, int] = {}
    for s in sessions:
        counts[s.sport.value] = counts.get(s.sport.value, 0) + 1
    return counts
