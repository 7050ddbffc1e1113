"""`/me/thresholds`: my training thresholds with effective dates, and the zones they give.

`PUT` records values from an effective date (default: today in my timezone); fields left out
keep their earlier values. Every activity whose thresholds change is scored again and the
daily loads are recomputed; the answer says how many and from which day.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final

import msgspec
from litestar import get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from training_analyzer.container import AppContainer
from training_analyzer.core.athletes import Sex, Thresholds
from training_analyzer.core.identity import AccessClaims
from training_analyzer.services.athletes import ThresholdsView, Zones

THRESHOLDS_BODY_MAX_BYTES: Final = 4096


class ThresholdsIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Values to record from `effective_from` (default today); absent fields stay as they were.

    Units: watts, beats per minute, seconds per km, seconds per 100 m, kilograms.
    """

    effective_from: date | None = None
    ftp_w: Annotated[float, msgspec.Meta(gt=0)] | None = None
    lthr_bpm: Annotated[float, msgspec.Meta(gt=0)] | None = None
    max_hr_bpm: Annotated[float, msgspec.Meta(gt=0)] | None = None
    rest_hr_bpm: Annotated[float, msgspec.Meta(gt=0)] | None = None
    threshold_pace_s_per_km: Annotated[float, msgspec.Meta(gt=0)] | None = None
    swim_css_s_per_100m: Annotated[float, msgspec.Meta(gt=0)] | None = None
    sex: Sex | None = None
    weight_kg: Annotated[float, msgspec.Meta(gt=0)] | None = None


class ThresholdsOut(msgspec.Struct, frozen=True, kw_only=True):
    """The thresholds in force today, their dated history, and the zones they give."""

    current: Thresholds | None
    history: tuple[Thresholds, ...]
    zones: Zones


class ThresholdsUpdateOut(ThresholdsOut, frozen=True, kw_only=True):
    """After a PUT: how many activities were scored again, and from which day loads changed."""

    rescored_activities: int
    recomputed_from: date | None


def _out(view: ThresholdsView) -> ThresholdsOut:
    return ThresholdsOut(current=view.current, history=view.history, zones=view.zones)


@get("/me/thresholds", tags=["me"], summary="My thresholds and the zones derived from them")
async def get_thresholds(
    container: NamedDependency[AppContainer], claims: NamedDependency[AccessClaims]
) -> ThresholdsOut:
    """Answer the thresholds in force today."""
    athletes = await container.athletes()
    return _out(await athletes.get_thresholds(user_id=claims.user_id))


@put(
    "/me/thresholds",
    tags=["me"],
    summary="Record thresholds from an effective date (activities are rescored)",
    description=(
        "FTP (W), LTHR, max and rest HR (bpm), threshold run pace (s/km), swim CSS "
        "(s/100 m), sex, weight (kg). A record on the same date is replaced; values absent "
        "here keep their earlier values. Impossible values (max HR not above rest HR, FTP "
        "of 0) are a 400 naming the field."
    ),
    request_max_body_size=THRESHOLDS_BODY_MAX_BYTES,
    status_code=200,
)
async def put_thresholds(
    data: JSONBody[ThresholdsIn],
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
) -> ThresholdsUpdateOut:
    """Record the values and answer the new state."""
    athletes = await container.athletes()
    effective = data.effective_from or await athletes.today(user_id=claims.user_id)
    values = {f: getattr(data, f) for f in data.__struct_fields__ if f != "effective_from"}
    update = await athletes.put_thresholds(
        user_id=claims.user_id, thresholds=Thresholds(effective_from=effective, **values)
    )
    view = update.view
    return ThresholdsUpdateOut(
        current=view.current,
        history=view.history,
        zones=view.zones,
        rescored_activities=update.rescored_count,
        recomputed_from=update.recomputed_from,
    )


ROUTES: Final[list[Any]] = [get_thresholds, put_thresholds]
