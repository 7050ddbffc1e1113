"""Fakes and builders shared by the activity, athlete and analytics service tests.

`World` is the activity service on in-memory storage, a fake clock and `FakeFileReader`, with
one user whose timezone and thresholds a test chooses. `ride` builds decoded activities at
constant power, so their load is exact: t/3600 x (P/FTP)^2 x 100 TSS (Coggan).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.storage import InMemoryStorage
from training_analyzer.core.accounts import User
from training_analyzer.core.activities import DailyLoad, Sport
from training_analyzer.core.athletes import AthleteProfile, Thresholds
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.parsed import ParsedActivity, ParsedFile
from training_analyzer.services.activities import ActivityService

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
UID = "user-1"
FTP = 250.0


class FakeFileReader:
    """Decodes nothing: returns the ParsedFile (or raises the error) registered per file name.

    A name ending in .zip expands to the members registered for it. Records every call.
    """

    def __init__(self) -> None:
        self.files: dict[str, ParsedFile | InvalidInput] = {}
        self.zips: dict[str, list[str]] = {}
        self.parsed: list[str] = []

    def expand_upload(
        self, *, data: bytes, filename: str, max_bytes: int
    ) -> list[tuple[str, bytes]]:
        if filename in self.zips:
            return [(name, name.encode()) for name in self.zips[filename]]
        if not data:
            raise InvalidInput("file", "the file is empty")
        return [(filename, data)]

    def parse_activity_file(
        self, *, data: bytes, filename: str, max_bytes: int, now: datetime
    ) -> ParsedFile:
        self.parsed.append(filename)
        found = self.files[filename]
        if isinstance(found, InvalidInput):
            raise found
        return found


def ride(
    start: datetime,
    *,
    seconds: int = 3600,
    power_w: float = 250.0,
    sport: Sport = Sport.RIDE,
    hr_bpm: float | None = 140.0,
) -> ParsedActivity:
    """A 1 Hz activity at constant power (None for non-rides) and heart rate."""
    n = seconds
    streams = Streams(
        time_s=[float(i) for i in range(n)],
        power_w=[power_w] * n if sport.family.value == "ride" else None,
        hr_bpm=None if hr_bpm is None else [hr_bpm] * n,
        speed_m_s=[8.0] * n,
        distance_m=[8.0 * i for i in range(n)],
    )
    return ParsedActivity(
        sport=sport,
        start_time=start,
        elapsed_s=float(n - 1),
        timer_s=float(n - 1),
        distance_m=8.0 * (n - 1),
        avg_power_w=power_w if streams.power_w else None,
        avg_hr_bpm=hr_bpm,
        streams=streams,
    )


def tss(seconds: int, power_w: float, ftp: float = FTP) -> float:
    """Coggan TSS of a constant-power ride of `seconds` 1 Hz samples."""
    return seconds / 3600 * (power_w / ftp) ** 2 * 100


class World:
    """The service under test, its fakes, and a user in `timezone` with an FTP."""

    def __init__(self, *, timezone: str = "UTC", thresholds: Sequence[Thresholds] = ()) -> None:
        self.storage = InMemoryStorage()
        self.clock = FakeClock(NOW)
        self.files = FakeFileReader()
        self.service = ActivityService(storage=self.storage, clock=self.clock, files=self.files)
        self.timezone = timezone
        self.thresholds = tuple(thresholds) or (
            Thresholds(effective_from=date(2000, 1, 1), ftp_w=FTP),
        )

    async def setup(self) -> World:
        async with self.storage.unit_of_work(user_id=UID) as uow:
            await uow.users.add(
                user_id=UID,
                user=User(
                    id=UID,
                    email="rider@example.com",
                    display_name="Rider",
                    created_at=NOW,
                    updated_at=NOW,
                    timezone=self.timezone,
                ),
            )
            await uow.athletes.save(
                user_id=UID, profile=AthleteProfile(user_id=UID, thresholds=self.thresholds)
            )
        return self

    def register(self, name: str, *activities: ParsedActivity) -> bytes:
        """Make `name` decode to `activities`; return bytes unique to it."""
        self.files.files[name] = ParsedFile(activities=list(activities), format="fit")
        return f"bytes of {name}".encode()

    async def upload(self, name: str, *activities: ParsedActivity) -> list[str]:
        """Upload a file holding `activities`; return the ids in the report."""
        report = await self.service.import_upload(
            user_id=UID, data=self.register(name, *activities), filename=name
        )
        return [a.activity.id for a in report.activities]

    async def loads(self) -> list[DailyLoad]:
        async with self.storage.unit_of_work(user_id=UID) as uow:
            return await uow.daily_loads.range(
                user_id=UID, day_from=date(2000, 1, 1), day_to=date(2100, 1, 1)
            )

    async def load_by_day(self) -> dict[date, float]:
        return {d.day: d.load for d in await self.loads() if d.load > 0}

    async def count(self) -> int:
        async with self.storage.unit_of_work(user_id=UID) as uow:
            return len((await uow.activities.page(user_id=UID, limit=200)).items)
