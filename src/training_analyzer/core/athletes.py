"""Athlete profile and dated thresholds (FTP, LTHR, HR max/rest, threshold paces, CSS, weight).

Thresholds change over time (an FTP test in March, a new max HR in June), and an activity's
metrics must use the values in force on its date. Each `Thresholds` record is a partial update
effective from a date: a field left None keeps the earlier value. `thresholds_on` resolves, field
by field, the latest value set on or before a given day.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.validation import in_range, positive


class Sex(enum.StrEnum):
    """Sex used by sex-specific formulas (e.g. Banister TRIMP coefficients)."""

    MALE = "male"
    FEMALE = "female"


# Physiological plausibility bounds, wide on purpose: they reject typing errors (FTP 2500 W,
# max HR 20 bpm), not unusual athletes.
_HR_BOUNDS = (20.0, 260.0)
_FTP_BOUNDS_W = (1.0, 2500.0)
_PACE_BOUNDS_S_PER_KM = (60.0, 3600.0)
_CSS_BOUNDS_S_PER_100M = (30.0, 600.0)
_WEIGHT_BOUNDS_KG = (10.0, 400.0)

THRESHOLD_FIELDS: tuple[str, ...] = (
    "ftp_w",
    "lthr_bpm",
    "max_hr_bpm",
    "rest_hr_bpm",
    "threshold_pace_s_per_km",
    "swim_css_s_per_100m",
    "sex",
    "weight_kg",
)


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    """Threshold values effective from `effective_from` (inclusive); None = unchanged/unknown."""

    effective_from: date
    ftp_w: float | None = None
    lthr_bpm: float | None = None
    max_hr_bpm: float | None = None
    rest_hr_bpm: float | None = None
    threshold_pace_s_per_km: float | None = None
    swim_css_s_per_100m: float | None = None
    sex: Sex | None = None
    weight_kg: float | None = None

    def __post_init__(self) -> None:
        if self.ftp_w is not None:
            positive("ftp_w", self.ftp_w)
            in_range("ftp_w", self.ftp_w, *_FTP_BOUNDS_W)
        for name in ("lthr_bpm", "max_hr_bpm", "rest_hr_bpm"):
            value = getattr(self, name)
            if value is not None:
                in_range(name, value, *_HR_BOUNDS)
        if self.threshold_pace_s_per_km is not None:
            in_range(
                "threshold_pace_s_per_km", self.threshold_pace_s_per_km, *_PACE_BOUNDS_S_PER_KM
            )
        if self.swim_css_s_per_100m is not None:
            in_range("swim_css_s_per_100m", self.swim_css_s_per_100m, *_CSS_BOUNDS_S_PER_100M)
        if self.weight_kg is not None:
            in_range("weight_kg", self.weight_kg, *_WEIGHT_BOUNDS_KG)
        if (
            self.max_hr_bpm is not None
            and self.rest_hr_bpm is not None
            and self.max_hr_bpm <= self.rest_hr_bpm
        ):
            raise InvalidInput(
                "max_hr_bpm",
                f"must be above rest_hr_bpm ({self.rest_hr_bpm}), got {self.max_hr_bpm}",
            )

        # LTHR scores hrTSS against HR reserve: it must lie above rest and not above max,
        # or every later import for this athlete would fail inside the metrics.
        if self.lthr_bpm is not None:
            if self.rest_hr_bpm is not None and self.lthr_bpm <= self.rest_hr_bpm:
                raise InvalidInput(
                    "lthr_bpm",
                    f"must be above rest_hr_bpm ({self.rest_hr_bpm}), got {self.lthr_bpm}",
                )
            if self.max_hr_bpm is not None and self.lthr_bpm > self.max_hr_bpm:
                raise InvalidInput(
                    "lthr_bpm",
                    f"must not exceed max_hr_bpm ({self.max_hr_bpm}), got {self.lthr_bpm}",
                )

    def is_empty(self) -> bool:
        """True when no threshold value is set."""
        return all(getattr(self, name) is None for name in THRESHOLD_FIELDS)


def thresholds_on(history: Iterable[Thresholds], day: date) -> Thresholds | None:
    """The thresholds in force on `day`: per field, the latest value set on or before `day`.

    Returns None when no record is effective by `day`. The result's `effective_from` is the date
    of the latest record taken into account. Raises InvalidInput if the merged values contradict
    each other (a max HR from one record not above a rest HR from a later one).
    """
    applicable = sorted((t for t in history if t.effective_from <= day), key=_by_date)
    if not applicable:
        return None
    merged: dict[str, object] = {}
    for record in applicable:
        for name in THRESHOLD_FIELDS:
            value = getattr(record, name)
            if value is not None:
                merged[name] = value
    return Thresholds(effective_from=applicable[-1].effective_from, **merged)  # type: ignore[arg-type]


def _by_date(t: Thresholds) -> date:
    return t.effective_from


class AthleteProfile(msgspec.Struct, frozen=True, kw_only=True):
    """An athlete's profile and threshold history, ordered by effective date."""

    user_id: str
    birth_year: int | None = None
    thresholds: tuple[Thresholds, ...] = ()

    def __post_init__(self) -> None:
        if not self.user_id:
            raise InvalidInput("user_id", "must not be empty")
        if self.birth_year is not None:
            in_range("birth_year", self.birth_year, 1900, 2100)
        dates = [t.effective_from for t in self.thresholds]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise InvalidInput(
                "thresholds", "must be ordered by effective_from with one record per date"
            )

    def thresholds_on(self, day: date) -> Thresholds | None:
        """The thresholds in force on `day` (see the module function `thresholds_on`)."""
        return thresholds_on(self.thresholds, day)


def with_thresholds(profile: AthleteProfile, update: Thresholds) -> AthleteProfile:
    """A copy of `profile` with `update` recorded; a record on the same date is replaced."""
    kept = [t for t in profile.thresholds if t.effective_from != update.effective_from]
    history = tuple(sorted([*kept, update], key=_by_date))
    return msgspec.structs.replace(profile, thresholds=history)


def without_thresholds(profile: AthleteProfile, effective_from: date) -> AthleteProfile:
    """A copy of `profile` without the record effective from `effective_from` (if any)."""
    kept = tuple(t for t in profile.thresholds if t.effective_from != effective_from)
    return msgspec.structs.replace(profile, thresholds=kept)
