"""Activities: import files, recognise duplicates, score, store, and keep daily loads current.

The import flow (ARCHITECTURE.md section 5, docs/activities.md):

1. **Unpack and decode** every uploaded file through the `ActivityFileReader` port (zip and gzip
   limits, format checks, future timestamps). Nothing is stored until every file of a strict
   upload has decoded.
2. **Dedup.** A file's `source_id` is the SHA-256 of its bytes (with `#<n>` for the n-th session
   of a multi-sport file): the same file again is matched to the stored activity and nothing is
   stored. Otherwise the same workout from another source (start within 2 min, same sport
   family, duration within 10 %, `core.activities.is_duplicate`) is stored but *linked* to the
   canonical activity; only canonical activities count toward load, volume and records.
3. **Metrics** with the athlete's thresholds in force on the activity's local day
   (`core.analytics.activity_metrics`, ARCHITECTURE.md section 7a), and the activity's bests
   (mean-maximal power, fastest distances) so records never decode streams again.
4. **Store** the activity, its streams blob, its bests and its links in one unit of work.
5. **Recompute** the daily loads and the CTL/ATL/TSB series from the earliest changed local day
   (in the user's timezone) to today, seeded with the stored CTL/ATL of the day before.

Deleting a canonical activity promotes its earliest imported duplicate (docs/decisions/0030).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import msgspec
import structlog

from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    DailyLoad,
    Source,
    Sport,
    SportFamily,
    Summary,
    dedup_window,
    find_duplicate,
)
from training_analyzer.core.analytics import (
    ActivityBests,
    DayLoad,
    activity_bests,
    activity_metrics,
    activity_time_s,
    fitness_timeline,
)
from training_analyzer.core.athletes import AthleteProfile, Thresholds
from training_analyzer.core.errors import InvalidInput, NotFound
from training_analyzer.core.metrics import zones
from training_analyzer.core.metrics.streams import Streams, elevation_gain_loss, moving_time_s
from training_analyzer.core.metrics.zones import ZoneSet
from training_analyzer.core.pagination import Page
from training_analyzer.core.parsed import ParsedActivity
from training_analyzer.core.quotas import zone as resolve_zone
from training_analyzer.ids import new_id
from training_analyzer.ports.activity_files import ActivityFileReader
from training_analyzer.ports.clock import Clock
from training_analyzer.ports.storage import ActivityLink, Storage, UnitOfWork

log = structlog.get_logger(__name__)

# 25 MiB: a four-hour FIT ride with every channel is about 1 MB, a GPX of the same about 10 MB;
# a Strava bulk-export zip of a season fits, a runaway upload does not.
DEFAULT_MAX_UPLOAD_BYTES: Final = 25 * 1024 * 1024
# Inputs per unit of work in a lenient (CLI) import: big enough to share one load recompute,
# small enough that an interrupted import keeps most of its work.
DEFAULT_BATCH_SIZE: Final = 50
# Stored instants reach at most this far; "every activity from day D on" ends here.
END_OF_TIME: Final = datetime(9999, 1, 1, tzinfo=UTC)
_BEGINNING_OF_TIME: Final = datetime(1, 1, 2, tzinfo=UTC)


class ImportStatus(enum.StrEnum):
    """What happened to one activity of an upload."""

    IMPORTED = "imported"
    DUPLICATE = "duplicate"


class DuplicateMatch(enum.StrEnum):
    """Why an activity was recognised as a duplicate."""

    # The same file (same SHA-256) was imported before: nothing new was stored.
    SAME_FILE = "same_file"
    # Another record of the same workout exists: stored, linked, not counted.
    SAME_WORKOUT = "same_workout"


class ImportedActivity(msgspec.Struct, frozen=True, kw_only=True):
    """One activity of an upload: created, or matched as a duplicate, with the stored record.

    For `same_file` the activity is the one stored earlier; for `same_workout` it is the new
    record, linked to `duplicate_of` (the canonical activity that counts).
    """

    file: str
    status: ImportStatus
    activity: Activity
    match: DuplicateMatch | None = None
    duplicate_of: str | None = None
    multisport_group: str | None = None
    multisport_index: int | None = None


class RefusedFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file that was not imported, and why (a message meant for the user)."""

    file: str
    reason: str


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of an import: each activity created or matched, each file refused."""

    activities: tuple[ImportedActivity, ...] = ()
    refused: tuple[RefusedFile, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def imported_count(self) -> int:
        """Activities created as canonical activities."""
        return sum(1 for a in self.activities if a.status is ImportStatus.IMPORTED)

    @property
    def duplicate_count(self) -> int:
        """Activities recognised as duplicates (stored and linked, or already there)."""
        return sum(1 for a in self.activities if a.status is ImportStatus.DUPLICATE)


class PendingActivity(msgspec.Struct, frozen=True, kw_only=True):
    """A decoded activity waiting to be stored: where it came from and its source id."""

    file: str
    parsed: ParsedActivity
    source: Source
    source_id: str
    multisport_group: str | None = None
    multisport_index: int | None = None


class ActivityView(msgspec.Struct, frozen=True, kw_only=True):
    """An activity with its links (what a listing shows)."""

    activity: Activity
    duplicate_of: str | None = None
    multisport_group: str | None = None
    multisport_index: int | None = None


class ActivityDetail(msgspec.Struct, frozen=True, kw_only=True):
    """An activity with its links, its bests, the other activities of its multi-sport group,
    and its duplicates."""

    view: ActivityView
    bests: ActivityBests | None
    duplicates: tuple[str, ...] = ()
    group_members: tuple[str, ...] = ()
    # The zones the stored seconds per zone refer to (thresholds of the activity's day).
    hr_zones: ZoneSet | None = None
    power_zones: ZoneSet | None = None


type ProgressCallback = Callable[[str, int, int], None]


def source_id_of(data: bytes) -> str:
    """The source id of an uploaded file: the hex SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


class ActivityService:
    """Import, list, read and delete activities; keep the daily loads in step."""

    def __init__(
        self,
        *,
        storage: Storage,
        clock: Clock,
        files: ActivityFileReader,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        if max_upload_bytes <= 0:
            raise InvalidInput("max_upload_bytes", f"must be > 0, got {max_upload_bytes!r}")
        self._storage = storage
        self._clock = clock
        self._files = files
        self.max_upload_bytes = max_upload_bytes

    # --- import --------------------------------------------------------------------------

    async def import_upload(self, *, user_id: str, data: bytes, filename: str) -> ImportReport:
        """Import one upload (a file or a zip of files) all or nothing.

        Raises InvalidInput(argument="file") naming the offending file when any part is
        refused; nothing is stored then.
        """
        # Decoding is CPU work (about 9 ms for an hour of 1 Hz FIT): a worker thread keeps the
        # event loop answering other requests meanwhile.
        pending, warnings = await asyncio.to_thread(self._decode, inputs=[(filename, data)])
        return await self._store(user_id=user_id, pending=pending, warnings=warnings)

    async def import_files(
        self,
        *,
        user_id: str,
        files: Sequence[tuple[str, bytes]],
        on_progress: ProgressCallback | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> ImportReport:
        """Import many uploads leniently: refused files are reported, the others stored.

        Inputs are stored in batches of `batch_size` (one unit of work and one load recompute
        each); `on_progress(name, done, total)` is called after each input is decoded.
        """
        if batch_size < 1:
            raise InvalidInput("batch_size", f"must be >= 1, got {batch_size!r}")
        total = len(files)
        imported: list[ImportedActivity] = []
        refused: list[RefusedFile] = []
        warnings: list[str] = []
        done = 0
        for first in range(0, total, batch_size):
            batch = files[first : first + batch_size]
            pending: list[PendingActivity] = []
            for name, data in batch:
                try:
                    found, notes = await asyncio.to_thread(self._decode, inputs=[(name, data)])
                except InvalidInput as exc:
                    refused.append(RefusedFile(file=name, reason=_reason(exc)))
                else:
                    pending.extend(found)
                    warnings.extend(notes)
                done += 1
                if on_progress is not None:
                    on_progress(name, done, total)
            stored = await self._store(user_id=user_id, pending=pending, warnings=())
            imported.extend(stored.activities)
        return ImportReport(
            activities=tuple(imported), refused=tuple(refused), warnings=tuple(warnings)
        )

    async def import_parsed(
        self, *, user_id: str, pending: Sequence[PendingActivity]
    ) -> ImportReport:
        """Import already decoded activities (the demo generator, other sources)."""
        return await self._store(user_id=user_id, pending=pending, warnings=())

    def _decode(
        self, *, inputs: Sequence[tuple[str, bytes]]
    ) -> tuple[list[PendingActivity], list[str]]:
        """Decode uploads into pending activities; raise InvalidInput on the first refusal."""
        now = self._clock.now()
        pending: list[PendingActivity] = []
        warnings: list[str] = []
        for upload_name, upload in inputs:
            members = self._files.expand_upload(
                data=upload, filename=upload_name, max_bytes=self.max_upload_bytes
            )
            for name, data in members:
                try:
                    parsed = self._files.parse_activity_file(
                        data=data, filename=name, max_bytes=self.max_upload_bytes, now=now
                    )
                except InvalidInput as exc:
                    if len(members) == 1 and name == upload_name:
                        raise
                    raise InvalidInput("file", f"{name}: {_reason(exc)}", member=name) from None
                if not parsed.activities:
                    raise InvalidInput("file", f"{name}: the file holds no activity", member=name)
                digest = source_id_of(data)
                several = len(parsed.activities) > 1
                group = new_id() if several else None
                for index, activity in enumerate(parsed.activities):
                    pending.append(
                        PendingActivity(
                            file=name,
                            parsed=activity,
                            source=Source.FILE,
                            source_id=f"{digest}#{index}" if several else digest,
                            multisport_group=group,
                            multisport_index=index if several else None,
                        )
                    )
                warnings.extend(f"{name}: {w}" for w in parsed.warnings)
        return pending, warnings

    async def _store(
        self, *, user_id: str, pending: Sequence[PendingActivity], warnings: Iterable[str]
    ) -> ImportReport:
        """Dedup, score and store `pending` in one unit of work, then recompute loads."""
        if not pending:
            return ImportReport(warnings=tuple(warnings))
        now = self._clock.now()
        results: list[ImportedActivity] = []
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            # One import, delete or rescoring of a user at a time: a concurrent one would miss
            # this one's activities in its dedup and overwrite its days with a stale sum.
            await uow.daily_loads.lock(user_id=user_id)
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tz = resolve_zone(user.timezone)
            profile = await uow.athletes.get(user_id=user_id)
            canonical_of: dict[str, str] = {}
            changed: list[date] = []
            for item in pending:
                # Activities added earlier in this unit of work are visible to every query.
                known = await uow.activities.find_by_source(
                    user_id=user_id, source=item.source, source_id=item.source_id
                )
                if known is not None:
                    known_canonical = canonical_of.get(known.id) or await _canonical_id(
                        uow, user_id=user_id, activity_id=known.id
                    )
                    results.append(
                        ImportedActivity(
                            file=item.file,
                            status=ImportStatus.DUPLICATE,
                            activity=known,
                            match=DuplicateMatch.SAME_FILE,
                            duplicate_of=known_canonical,
                            multisport_group=item.multisport_group,
                            multisport_index=item.multisport_index,
                        )
                    )
                    continue
                activity, streams, bests = await asyncio.to_thread(
                    prepare_activity, user_id=user_id, pending=item, profile=profile, tz=tz, now=now
                )
                day = bests.day
                window_from, window_to = dedup_window(activity.start_time)
                nearby = await uow.activities.between(
                    user_id=user_id, start_from=window_from, start_to=window_to
                )
                match = find_duplicate(activity, nearby)
                canonical: str | None = None
                if match is not None:
                    canonical = canonical_of.get(match.id) or await _canonical_id(
                        uow, user_id=user_id, activity_id=match.id
                    )
                await uow.activities.add(user_id=user_id, activity=activity)
                if streams.time_s:
                    await uow.streams.put(user_id=user_id, activity_id=activity.id, streams=streams)
                await uow.activity_bests.put(user_id=user_id, bests=bests)
                if canonical is not None or item.multisport_group is not None:
                    await uow.activity_links.put(
                        user_id=user_id,
                        link=ActivityLink(
                            activity_id=activity.id,
                            duplicate_of=canonical,
                            multisport_group=item.multisport_group,
                            multisport_index=item.multisport_index,
                        ),
                    )
                canonical_of[activity.id] = canonical or activity.id
                if canonical is None:
                    changed.append(day)
                results.append(
                    ImportedActivity(
                        file=item.file,
                        status=ImportStatus.DUPLICATE if canonical else ImportStatus.IMPORTED,
                        activity=activity,
                        match=DuplicateMatch.SAME_WORKOUT if canonical else None,
                        duplicate_of=canonical,
                        multisport_group=item.multisport_group,
                        multisport_index=item.multisport_index,
                    )
                )
            if changed:
                await recompute_daily_loads(
                    uow,
                    user_id=user_id,
                    timezone=user.timezone,
                    from_day=min(changed),
                    today=_local_date(now, tz),
                )
        report = ImportReport(activities=tuple(results), warnings=tuple(warnings))
        log.info(
            "activities.imported",
            user_id=user_id,
            imported=report.imported_count,
            duplicates=report.duplicate_count,
        )
        return report

    # --- read ----------------------------------------------------------------------------

    async def list_activities(
        self,
        *,
        user_id: str,
        sport: Sport | None = None,
        family: SportFamily | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> Page[ActivityView]:
        """A page of activities, newest first; `day_from`/`day_to` are local days, inclusive."""
        if day_from is not None and day_to is not None and day_to < day_from:
            raise InvalidInput("to", f"must not be before from ({day_from}), got {day_to}")
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _user_zone(uow, user_id)
            page = await uow.activities.page(
                user_id=user_id,
                sport=sport,
                family=family,
                start_from=None if day_from is None else local_midnight(day_from, tz),
                start_to=None if day_to is None else local_midnight(_next_day(day_to), tz),
                cursor=cursor,
                limit=limit,
            )
            links = await uow.activity_links.get_many(
                user_id=user_id, activity_ids=[a.id for a in page.items]
            )
        return Page(
            items=[_view(a, links.get(a.id)) for a in page.items], next_cursor=page.next_cursor
        )

    async def get_activity(self, *, user_id: str, activity_id: str) -> ActivityDetail:
        """One activity with its links and bests. Raises NotFound."""
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            tz = await _user_zone(uow, user_id)
            activity = await _require(uow, user_id, activity_id)
            profile = await uow.athletes.get(user_id=user_id)
            links = await uow.activity_links.get_many(user_id=user_id, activity_ids=[activity_id])
            link = links.get(activity_id)
            bests = await uow.activity_bests.get(user_id=user_id, activity_id=activity_id)
            duplicates = await uow.activity_links.duplicates_of(
                user_id=user_id, activity_id=activity_id
            )
            members: list[ActivityLink] = []
            if link is not None and link.multisport_group is not None:
                members = await uow.activity_links.group(
                    user_id=user_id, multisport_group=link.multisport_group
                )
        day = _local_date(activity.start_time, tz)
        thresholds = None if profile is None else profile.thresholds_on(day)
        metrics = activity.metrics
        return ActivityDetail(
            view=_view(activity, link),
            bests=bests,
            duplicates=tuple(d.activity_id for d in duplicates),
            group_members=tuple(m.activity_id for m in members),
            hr_zones=hr_zone_set(sport=activity.sport, thresholds=thresholds)
            if metrics is not None and metrics.hr_zone_s
            else None,
            power_zones=power_zone_set(sport=activity.sport, thresholds=thresholds)
            if metrics is not None and metrics.power_zone_s
            else None,
        )

    async def get_streams(self, *, user_id: str, activity_id: str) -> Streams:
        """The per-sample streams of an activity (empty when none were recorded).

        Raises NotFound when the activity is not the user's.
        """
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await _require(uow, user_id, activity_id)
            streams = await uow.streams.get(user_id=user_id, activity_id=activity_id)
        return streams if streams is not None else Streams(time_s=[])

    # --- rebucket ------------------------------------------------------------------------

    async def rebuild_daily_loads(self, *, user_id: str) -> int:
        """Recompute every daily load, and the local day of every bests record, from scratch.

        For a change of the user's timezone (local days move) or a repair. Returns the number
        of days written (0 for a user without activities).
        """
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await uow.daily_loads.lock(user_id=user_id)
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tz = resolve_zone(user.timezone)
            await uow.daily_loads.delete_from(user_id=user_id, day_from=date.min)
            activities = await uow.activities.between(
                user_id=user_id, start_from=_BEGINNING_OF_TIME, start_to=END_OF_TIME
            )
            if not activities:
                return 0
            starts = {a.id: a.start_time for a in activities}
            for bests in await uow.activity_bests.all(user_id=user_id):
                start = starts.get(bests.activity_id)
                if start is None:
                    continue
                day = _local_date(start, tz)
                if day != bests.day:
                    await uow.activity_bests.put(
                        user_id=user_id, bests=msgspec.structs.replace(bests, day=day)
                    )
            return await recompute_daily_loads(
                uow,
                user_id=user_id,
                timezone=user.timezone,
                from_day=_local_date(activities[0].start_time, tz),
                today=_local_date(now, tz),
            )

    # --- delete --------------------------------------------------------------------------

    async def delete_activity(self, *, user_id: str, activity_id: str) -> None:
        """Delete an activity, promote a duplicate if it was canonical, recompute loads.

        Raises NotFound when the activity is not the user's.
        """
        now = self._clock.now()
        async with self._storage.unit_of_work(user_id=user_id) as uow:
            await uow.daily_loads.lock(user_id=user_id)
            user = await uow.users.get(user_id=user_id)
            if user is None:
                raise NotFound("no such account", user_id=user_id)
            tz = resolve_zone(user.timezone)
            activity = await _require(uow, user_id, activity_id)
            links = await uow.activity_links.get_many(user_id=user_id, activity_ids=[activity_id])
            link = links.get(activity_id)
            was_canonical = link is None or link.duplicate_of is None
            days = [_local_date(activity.start_time, tz)]
            if was_canonical:
                promoted = await _promote_duplicate(uow, user_id=user_id, canonical_id=activity_id)
                if promoted is not None:
                    days.append(_local_date(promoted.start_time, tz))
            await uow.activities.delete(user_id=user_id, activity_id=activity_id)
            if was_canonical:
                await recompute_daily_loads(
                    uow,
                    user_id=user_id,
                    timezone=user.timezone,
                    from_day=min(days),
                    today=_local_date(now, tz),
                )
        log.info("activities.deleted", user_id=user_id, activity_id=activity_id)


# --- building an activity ------------------------------------------------------------------


def complete_streams(streams: Streams) -> Streams:
    """Streams with a speed channel derived from distance when the file recorded none.

    GPX and many TCX files carry positions (hence distance) but no speed; rTSS, moving time
    and the pace charts need speed. Speed at sample i is the distance covered since sample
    i - 1 over the time between them (None across a missing distance).
    """
    if streams.speed_m_s is not None or streams.distance_m is None or len(streams.time_s) < 2:
        return streams
    time_s = streams.time_s
    dist = streams.distance_m
    speed: list[float | None] = [None] * len(time_s)
    for i in range(1, len(time_s)):
        a, b = dist[i - 1], dist[i]
        step = time_s[i] - time_s[i - 1]
        if a is not None and b is not None and step > 0:
            speed[i] = max(0.0, b - a) / step
    speed[0] = speed[1]
    if all(v is None for v in speed):
        return streams
    return msgspec.structs.replace(streams, speed_m_s=speed)


def complete_summary(parsed: ParsedActivity, streams: Streams) -> Summary:
    """The file's summary, with moving time, ascent and average speed from the streams
    where the file left them out (GPX and TCX carry no such totals)."""
    summary = parsed.summary()
    changes: dict[str, float] = {}
    if summary.moving_time_s is None and len(streams.time_s) >= 2:
        changes["moving_time_s"] = moving_time_s(streams=streams)
    if summary.elevation_gain_m is None:
        change = elevation_gain_loss(altitude_m=streams.altitude_m)
        if change is not None:
            changes["elevation_gain_m"] = change.gain_m
    moving = changes.get("moving_time_s", summary.moving_time_s)
    if summary.avg_speed_m_s is None and summary.distance_m is not None:
        span = moving if moving else summary.duration_s
        if span > 0:
            changes["avg_speed_m_s"] = summary.distance_m / span
    return msgspec.structs.replace(summary, **changes) if changes else summary


def prepare_activity(
    *,
    user_id: str,
    pending: PendingActivity,
    profile: AthleteProfile | None,
    tz: ZoneInfo,
    now: datetime,
) -> tuple[Activity, Streams, ActivityBests]:
    """Everything an import computes for one decoded activity: the record with its metrics,
    the completed streams, and the bests (of the activity's local day)."""
    streams = complete_streams(pending.parsed.streams)
    activity = build_activity(
        user_id=user_id, pending=pending, streams=streams, profile=profile, tz=tz, now=now
    )
    bests = activity_bests(
        activity_id=activity.id,
        sport=activity.sport,
        day=_local_date(activity.start_time, tz),
        streams=streams if streams.time_s else None,
    )
    return activity, streams, bests


def build_activity(
    *,
    user_id: str,
    pending: PendingActivity,
    streams: Streams,
    profile: AthleteProfile | None,
    tz: ZoneInfo,
    now: datetime,
) -> Activity:
    """The Activity record of a pending import, with metrics from the thresholds of its day."""
    parsed = pending.parsed
    summary = complete_summary(parsed, streams)
    day = _local_date(parsed.start_time, tz)
    thresholds = None if profile is None else profile.thresholds_on(day)
    metrics = activity_metrics(
        sport=parsed.sport,
        summary=summary,
        streams=streams if streams.time_s else None,
        thresholds=thresholds,
    )
    offset = parsed.utc_offset_s
    if offset is None:
        delta = parsed.start_time.astimezone(tz).utcoffset()
        offset = 0 if delta is None else int(delta.total_seconds())
    return Activity(
        id=new_id(),
        user_id=user_id,
        sport=parsed.sport,
        name=parsed.name or default_name(parsed.sport, parsed.start_time.astimezone(tz)),
        start_time=parsed.start_time,
        summary=summary,
        source=pending.source,
        source_id=pending.source_id,
        utc_offset_s=offset,
        device=parsed.device_name,
        laps=parsed.core_laps(),
        metrics=metrics,
        created_at=now,
        updated_at=now,
    )


def rescore(
    activity: Activity, *, streams: Streams | None, profile: AthleteProfile | None, tz: ZoneInfo
) -> ActivityMetrics | None:
    """The metrics of a stored activity with the thresholds now in force on its local day."""
    thresholds = (
        None if profile is None else profile.thresholds_on(_local_date(activity.start_time, tz))
    )
    return activity_metrics(
        sport=activity.sport,
        summary=activity.summary,
        streams=streams if streams is not None and streams.time_s else None,
        thresholds=thresholds,
        rpe=activity.rpe,
    )


def hr_zone_set(*, sport: Sport, thresholds: Thresholds | None) -> ZoneSet | None:
    """The heart-rate zones an activity of `sport` is scored with (see `Zones`)."""
    t = thresholds
    if t is None:
        return None
    if t.lthr_bpm is not None:
        friel = zones.FrielSport.RUN if sport.family is SportFamily.RUN else zones.FrielSport.BIKE
        return zones.hr_zones_friel(lthr_bpm=t.lthr_bpm, sport=friel)
    if t.max_hr_bpm is not None and t.rest_hr_bpm is not None:
        return zones.hr_zones_karvonen(hr_max_bpm=t.max_hr_bpm, hr_rest_bpm=t.rest_hr_bpm)
    if t.max_hr_bpm is not None:
        return zones.hr_zones_percent_max(hr_max_bpm=t.max_hr_bpm)
    return None


def power_zone_set(*, sport: Sport, thresholds: Thresholds | None) -> ZoneSet | None:
    """Coggan's power zones for rides with an FTP (the stored metrics score rides only)."""
    if thresholds is None or thresholds.ftp_w is None or sport.family is not SportFamily.RIDE:
        return None
    return zones.power_zones_coggan(ftp_w=thresholds.ftp_w)


_PARTS_OF_DAY: Final = ((5, "Night"), (12, "Morning"), (17, "Afternoon"), (21, "Evening"))


def default_name(sport: Sport, local_start: datetime) -> str:
    """A title like Strava's for a file without one: "Morning Run", "Evening Ride"."""
    part = "Night"
    for hour, name in _PARTS_OF_DAY:
        if local_start.hour < hour:
            part = name
            break
    label = sport.value.replace("_", " ").title()
    return f"{part} {label}"


# --- daily loads ---------------------------------------------------------------------------


async def recompute_daily_loads(
    uow: UnitOfWork, *, user_id: str, timezone: str, from_day: date, today: date
) -> int:
    """Rewrite the daily loads and PMC state from `from_day` to the last day that matters.

    Seeds with the stored CTL/ATL of the last stored day before `from_day` (a gap up to it is
    filled too, so the series stays consecutive); ends at the later of `today` and the last
    activity's local day. Only canonical activities count. Returns how many days were written.
    """
    tz = resolve_zone(timezone)
    prior = await uow.daily_loads.latest(user_id=user_id, before=from_day)
    start = from_day
    if prior is not None and prior.day < from_day - timedelta(days=1):
        start = prior.day + timedelta(days=1)
    activities = await uow.activities.between(
        user_id=user_id, start_from=local_midnight(start, tz), start_to=END_OF_TIME
    )
    duplicates = await uow.activity_links.duplicate_ids(user_id=user_id)
    counted = [a for a in activities if a.id not in duplicates]
    end = today
    if counted:
        end = max(end, _local_date(counted[-1].start_time, tz))
    if end < start:
        end = start
    span = (end - start).days + 1
    loads = [0.0] * span
    count = [0] * span
    duration = [0.0] * span
    distance = [0.0] * span
    estimated = [False] * span
    for a in counted:
        k = (_local_date(a.start_time, tz) - start).days
        if not 0 <= k < span:
            continue
        count[k] += 1
        duration[k] += activity_time_s(summary=a.summary)
        distance[k] += a.summary.distance_m or 0.0
        if a.metrics is not None:
            loads[k] += a.metrics.load
            estimated[k] = estimated[k] or a.metrics.estimated
    daily = [DayLoad(day=start + timedelta(days=k), load=loads[k]) for k in range(span)]
    timeline = fitness_timeline(
        daily=daily,
        initial_ctl=_seed(prior, "ctl"),
        initial_atl=_seed(prior, "atl"),
    )
    rows = [
        DailyLoad(
            user_id=user_id,
            day=point.day,
            load=point.load,
            activity_count=count[k],
            duration_s=duration[k],
            distance_m=distance[k],
            ctl=point.ctl,
            atl=point.atl,
            estimated=estimated[k],
        )
        for k, point in enumerate(timeline)
    ]
    await uow.daily_loads.delete_from(user_id=user_id, day_from=start)
    await uow.daily_loads.upsert(user_id=user_id, loads=rows)
    return len(rows)


def _seed(prior: DailyLoad | None, name: str) -> float:
    if prior is None:
        return 0.0
    value: float | None = getattr(prior, name)
    return value if value is not None and math.isfinite(value) else 0.0


# --- helpers -------------------------------------------------------------------------------


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) at which local day `day` starts in `tz`."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def _next_day(day: date) -> date:
    try:
        return day + timedelta(days=1)
    except OverflowError:
        raise InvalidInput("to", "is past the end of the calendar") from None


def _reason(exc: InvalidInput) -> str:
    return exc.message.removeprefix(f"{exc.argument}: ")


def _view(activity: Activity, link: ActivityLink | None) -> ActivityView:
    if link is None:
        return ActivityView(activity=activity)
    return ActivityView(
        activity=activity,
        duplicate_of=link.duplicate_of,
        multisport_group=link.multisport_group,
        multisport_index=link.multisport_index,
    )


async def _user_zone(uow: UnitOfWork, user_id: str) -> ZoneInfo:
    user = await uow.users.get(user_id=user_id)
    if user is None:
        raise NotFound("no such account", user_id=user_id)
    return resolve_zone(user.timezone)


async def _require(uow: UnitOfWork, user_id: str, activity_id: str) -> Activity:
    activity = await uow.activities.get(user_id=user_id, activity_id=activity_id)
    if activity is None:
        raise NotFound("no such activity", activity_id=activity_id)
    return activity


async def _canonical_id(uow: UnitOfWork, *, user_id: str, activity_id: str) -> str:
    """The canonical activity of `activity_id` (itself unless it is a linked duplicate)."""
    links = await uow.activity_links.get_many(user_id=user_id, activity_ids=[activity_id])
    link = links.get(activity_id)
    if link is None or link.duplicate_of is None:
        return activity_id
    return link.duplicate_of


async def _promote_duplicate(
    uow: UnitOfWork, *, user_id: str, canonical_id: str
) -> Activity | None:
    """Before `canonical_id` goes: its earliest imported duplicate becomes canonical and the
    other duplicates are re-linked to it. Returns the promoted activity, or None."""
    duplicates = await uow.activity_links.duplicates_of(user_id=user_id, activity_id=canonical_id)
    if not duplicates:
        return None
    records = [
        await uow.activities.get(user_id=user_id, activity_id=d.activity_id) for d in duplicates
    ]
    present = [r for r in records if r is not None]
    if not present:
        return None
    heir = min(present, key=lambda a: (a.created_at, a.id))
    for link in duplicates:
        new_canonical = None if link.activity_id == heir.id else heir.id
        await uow.activity_links.put(
            user_id=user_id, link=msgspec.structs.replace(link, duplicate_of=new_canonical)
        )
    return heir
