"""Activities: upload FIT/GPX/TCX files (or a zip of them), list, read, streams, delete.

Every route acts for the token's user only; an id naming another user's activity is 404. An
upload is all or nothing: any refused file (empty, truncated, wrong format for its extension,
a zip without activities or a zip bomb, dated in the future) answers 400 naming it, and
nothing is stored; a body over TA_MAX_UPLOAD_BYTES answers 413 before it is read whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Response, Router, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import MultipartBody, PathParameter, QueryParameter

from training_analyzer.container import AppContainer
from training_analyzer.core.activities import (
    Activity,
    ActivityMetrics,
    Lap,
    LoadMethod,
    Source,
    Sport,
    SportFamily,
    Summary,
)
from training_analyzer.core.analytics import ActivityBests
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.identity import AccessClaims
from training_analyzer.core.metrics.streams import Streams
from training_analyzer.core.metrics.zones import ZoneSet
from training_analyzer.entrypoints.http.routes import history
from training_analyzer.services.activities import (
    ActivityDetail,
    ActivityView,
    DuplicateMatch,
    ImportReport,
    ImportStatus,
)

# Room for the multipart envelope (boundaries, part headers) around a file at the limit.
MULTIPART_OVERHEAD_BYTES: Final = 64 * 1024
_ID: Final = PathParameter(min_length=1, max_length=64)


class ActivityOut(msgspec.Struct, frozen=True, kw_only=True):
    """An activity as listed: its summary, its load, and its links."""

    id: str
    name: str
    sport: Sport
    family: SportFamily
    start_time: datetime
    utc_offset_s: int
    source: Source
    device: str | None
    summary: Summary
    load: float | None
    load_method: LoadMethod | None
    load_estimated: bool
    duplicate_of: str | None
    multisport_group: str | None
    multisport_index: int | None


class ActivityPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of activities, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[ActivityOut]
    next_cursor: str | None


class ZoneTime(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds in each zone of `zones` (zone 1 first)."""

    zones: ZoneSet | None
    seconds: tuple[float, ...]


class ActivityDetailOut(msgspec.Struct, frozen=True, kw_only=True):
    """One activity: summary, laps, metrics, time in zones, bests and links."""

    activity: ActivityOut
    laps: tuple[Lap, ...]
    metrics: ActivityMetrics | None
    hr_zones: ZoneTime | None
    power_zones: ZoneTime | None
    bests: ActivityBests | None
    duplicates: tuple[str, ...]
    multisport_legs: tuple[str, ...]


class ImportedOut(msgspec.Struct, frozen=True, kw_only=True):
    """One activity of an upload: `imported`, or `duplicate` with why and of what."""

    file: str
    status: ImportStatus
    match: DuplicateMatch | None
    duplicate_of: str | None
    stored: bool
    activity: ActivityOut


class ImportOut(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of an upload."""

    activities: list[ImportedOut]
    imported: int
    duplicates: int
    warnings: list[str]


@dataclass
class UploadForm:
    """The multipart form of an upload: one part named `file`."""

    file: UploadFile


def activity_out(view: ActivityView) -> ActivityOut:
    """The listing shape of an activity with its links."""
    a: Activity = view.activity
    return ActivityOut(
        id=a.id,
        name=a.name,
        sport=a.sport,
        family=a.family,
        start_time=a.start_time,
        utc_offset_s=a.utc_offset_s,
        source=a.source,
        device=a.device,
        summary=a.summary,
        load=None if a.metrics is None else a.metrics.load,
        load_method=None if a.metrics is None else a.metrics.load_method,
        load_estimated=a.metrics is not None and a.metrics.estimated,
        duplicate_of=view.duplicate_of,
        multisport_group=view.multisport_group,
        multisport_index=view.multisport_index,
    )


def _detail_out(detail: ActivityDetail) -> ActivityDetailOut:
    a = detail.view.activity
    m = a.metrics
    return ActivityDetailOut(
        activity=activity_out(detail.view),
        laps=a.laps,
        metrics=m,
        hr_zones=None
        if m is None or not m.hr_zone_s
        else ZoneTime(zones=detail.hr_zones, seconds=m.hr_zone_s),
        power_zones=None
        if m is None or not m.power_zone_s
        else ZoneTime(zones=detail.power_zones, seconds=m.power_zone_s),
        bests=detail.bests,
        duplicates=detail.duplicates,
        multisport_legs=detail.group_members,
    )


def _import_out(report: ImportReport) -> ImportOut:
    items = [
        ImportedOut(
            file=item.file,
            status=item.status,
            match=item.match,
            duplicate_of=item.duplicate_of,
            stored=item.match is not DuplicateMatch.SAME_FILE,
            activity=activity_out(
                ActivityView(
                    activity=item.activity,
                    duplicate_of=item.duplicate_of,
                    multisport_group=item.multisport_group,
                    multisport_index=item.multisport_index,
                )
            ),
        )
        for item in report.activities
    ]
    return ImportOut(
        activities=items,
        imported=report.imported_count,
        duplicates=report.duplicate_count,
        warnings=list(report.warnings),
    )


@post(
    "/activities",
    tags=["activities"],
    summary="Upload a FIT, GPX or TCX file, or a zip of them",
    description=(
        "Multipart form with one part named `file`. Each activity is scored with the "
        "thresholds in force on its day and stored; the same file again, or the same workout "
        "from another source (start within 2 min, same sport family, duration within 10 %), "
        "comes back as `duplicate` (only canonical activities count toward load). 201 when "
        "something was stored, 200 when every activity was already there. All or nothing: a "
        "refused file is a 400 naming it, and nothing is stored."
    ),
    status_code=201,
)
async def upload_activities(
    data: MultipartBody[UploadForm],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> Response[ImportOut]:
    """Import the uploaded file."""
    upload = data.file
    if not isinstance(upload, UploadFile):
        raise InvalidInput("file", "send the activity file as the multipart part named 'file'")
    content = await upload.read()
    activities = await container.activities()
    report = await activities.import_upload(
        user_id=claims.user_id, data=content, filename=upload.filename or "upload"
    )
    body = _import_out(report)
    stored = any(item.stored for item in body.activities)
    return Response(body, status_code=201 if stored else 200)


@get(
    "/activities",
    tags=["activities"],
    summary="My activities, newest first (cursor-paginated)",
    description=(
        "Filters: `sport` (e.g. trail_run), `family` (run, ride, swim, ...), `from` and `to` "
        "(local dates in my timezone, inclusive)."
    ),
)
async def list_activities(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    sport: Annotated[Sport | None, QueryParameter()] = None,
    family: Annotated[SportFamily | None, QueryParameter()] = None,
    day_from: Annotated[date | None, QueryParameter(name="from")] = None,
    day_to: Annotated[date | None, QueryParameter(name="to")] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
) -> ActivityPage:
    """Answer one page."""
    activities = await container.activities()
    visible = await history.window(container, claims.user_id)  # the plan's history limit
    if visible is not None:
        if day_to is not None and day_to < visible.first_day:
            return ActivityPage(items=[], next_cursor=None)
        day_from = max(day_from or visible.first_day, visible.first_day)
    page = await activities.list_activities(
        user_id=claims.user_id,
        sport=sport,
        family=family,
        day_from=day_from,
        day_to=day_to,
        cursor=cursor,
        limit=limit,
    )
    return ActivityPage(items=[activity_out(v) for v in page.items], next_cursor=page.next_cursor)


@get(
    "/activities/{activity_id:str}",
    tags=["activities"],
    summary="One activity: summary, laps, metrics, zones, bests",
)
async def get_activity(
    activity_id: Annotated[str, _ID],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> ActivityDetailOut:
    """Answer the activity."""
    activities = await container.activities()
    await history.require_visible(container, claims.user_id, activity_id)
    detail = await activities.get_activity(user_id=claims.user_id, activity_id=activity_id)
    return _detail_out(detail)


@get(
    "/activities/{activity_id:str}/streams",
    tags=["activities"],
    summary="The per-sample streams of an activity",
    description=(
        "Parallel channels indexed by sample: `time_s` (seconds from the start) and each "
        "recorded channel (null when the device did not record it; a null sample is a "
        "missing reading)."
    ),
)
async def get_streams(
    activity_id: Annotated[str, _ID],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> Streams:
    """Answer the streams."""
    activities = await container.activities()
    await history.require_visible(container, claims.user_id, activity_id)
    return await activities.get_streams(user_id=claims.user_id, activity_id=activity_id)


@delete(
    "/activities/{activity_id:str}",
    tags=["activities"],
    summary="Delete an activity (daily loads recomputed)",
    description=(
        "Deleting the canonical record of a workout promotes its earliest imported duplicate."
    ),
    status_code=204,
)
async def delete_activity(
    activity_id: Annotated[str, _ID],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> None:
    """Delete it."""
    activities = await container.activities()
    await activities.delete_activity(user_id=claims.user_id, activity_id=activity_id)


ROUTES: Final[list[Any]] = [list_activities, get_activity, get_streams, delete_activity]


def upload_router(*, max_upload_bytes: int) -> Router:
    """The upload route, with a body limit of TA_MAX_UPLOAD_BYTES plus the multipart envelope."""
    return Router(
        path="/",
        route_handlers=[upload_activities],
        request_max_body_size=max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
    )
