"""Heart-rate training load: Banister, Edwards and Lucia TRIMP, session RPE, HRSS (= hrTSS).

Stream forms take the 1 Hz `hr_bpm` channel from `streams.resample_1hz`: each present sample is
one second. None and 0 bpm samples are missing readings (a strap that lost contact often
writes 0) and are skipped; a negative or non-finite reading is impossible input. When the
channel is absent or holds no reading the stream forms return None.

Formulas, sources and worked examples: docs/metrics/heart-rate.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Final, Literal

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import present_samples
from training_analyzer.core.validation import finite, finite_samples, non_negative, positive

Sex = Literal["male", "female"]
"""Sex for the Banister weighting; pass None for unknown or other (see `banister_coefficients`)."""


class BanisterCoefficients(msgspec.Struct, frozen=True, kw_only=True):
    """Weighting `a * exp(b * x)` of Banister's TRIMP, x the heart-rate-reserve fraction."""

    a: float
    b: float


# Banister (1991) / Morton et al. (1990), as decided in ARCHITECTURE.md section 7a.
BANISTER_MALE: Final = BanisterCoefficients(a=0.64, b=1.92)
BANISTER_FEMALE: Final = BanisterCoefficients(a=0.86, b=1.67)
# Unknown or other: the midpoint of the two curves. Runalyze uses the midpoint exponent 1.795
# for athletes without a stated sex (inc/core/Calculation/Trimp/Factor.php); the midpoint of
# our two `a` values keeps the rule symmetric instead of silently picking one sex.
BANISTER_UNSPECIFIED: Final = BanisterCoefficients(a=0.75, b=1.795)

# Lucia TRIMP zone weights: 1 below VT1, 2 between VT1 and VT2, 3 above VT2 (Lucia et al. 2003).
# Without a lab test, VT2 is taken as LTHR (Friel's lactate threshold is the upper threshold)
# and VT1 as 80 % of LTHR: Friel places the aerobic threshold "at about 80% of lactate
# threshold" (J. Friel, "Common but confusing training terms", joefrielsblog.com, June 2014).
LUCIA_VT1_FRACTION_OF_LTHR: Final = 0.80
LUCIA_VT2_FRACTION_OF_LTHR: Final = 1.00

# Edwards (1993): five zones of 10 % HRmax from 50 % up, weighted 1..5; below 50 % scores 0.
_EDWARDS_ZONES: Final = 5
_LUCIA_ZONES: Final = 3
# Foster's session RPE uses the CR-10 scale (Foster et al. 2001).
_RPE_MAX: Final = 10.0


class VentilatoryThresholds(msgspec.Struct, frozen=True, kw_only=True):
    """Heart rates at the first (VT1) and second (VT2, respiratory compensation) thresholds."""

    vt1_hr_bpm: float
    vt2_hr_bpm: float

    def __post_init__(self) -> None:
        positive("vt1_hr_bpm", self.vt1_hr_bpm)
        positive("vt2_hr_bpm", self.vt2_hr_bpm)
        if self.vt1_hr_bpm >= self.vt2_hr_bpm:
            raise InvalidInput(
                "vt2_hr_bpm",
                f"must be above vt1_hr_bpm ({self.vt1_hr_bpm!r}), got {self.vt2_hr_bpm!r}",
            )


def banister_coefficients(*, sex: Sex | None) -> BanisterCoefficients:
    """The Banister weighting for `sex`; None (unknown or other) gets the midpoint curve."""
    match sex:
        case "male":
            return BANISTER_MALE
        case "female":
            return BANISTER_FEMALE
        case None:
            return BANISTER_UNSPECIFIED
        case _:
            raise InvalidInput("sex", f"must be 'male', 'female' or None, got {sex!r}")


def average_hr_bpm(*, hr_bpm: Sequence[float | None] | None) -> float | None:
    """Mean of the present readings (None and 0 skipped); None when there are none."""
    if hr_bpm is None:
        return None
    readings = present_samples("hr_bpm", hr_bpm, non_negative=True, drop_zeros=True)
    return math.fsum(readings) / len(readings) if readings else None


def banister_trimp(
    *,
    duration_s: float,
    avg_hr_bpm: float,
    rest_hr_bpm: float,
    max_hr_bpm: float,
    sex: Sex | None,
) -> float:
    """Banister TRIMP from the session's average HR: minutes * x * a * exp(b * x).

    x = (avg - rest) / (max - rest), clamped to [0, 1]. For a variable session this is lower
    than `banister_trimp_stream` on the same data (the weighting is convex).
    """
    minutes = non_negative("duration_s", duration_s) / 60.0
    avg = positive("avg_hr_bpm", avg_hr_bpm)
    rest, top = _rest_and_max(rest_hr_bpm, max_hr_bpm)
    k = banister_coefficients(sex=sex)
    return minutes * _banister_weight(_reserve_fraction(avg, rest, top), k)


def banister_trimp_stream(
    *,
    hr_bpm: Sequence[float | None] | None,
    rest_hr_bpm: float,
    max_hr_bpm: float,
    sex: Sex | None,
) -> float | None:
    """Banister TRIMP summed second by second over a 1 Hz HR channel; None without HR data."""
    rest, top = _rest_and_max(rest_hr_bpm, max_hr_bpm)
    k = banister_coefficients(sex=sex)
    pairs = _hr_histogram(hr_bpm)
    return None if pairs is None else _banister_points(pairs, rest, top, k)


def edwards_trimp(*, zone_minutes: Sequence[float]) -> float:
    """Edwards TRIMP from minutes in the five %HRmax zones: sum of zone number * minutes.

    Zone 1 is [50, 60) % HRmax, ..., zone 5 is 90 % and above (time below 50 % scores 0).
    """
    return _zone_weighted("zone_minutes", zone_minutes, _EDWARDS_ZONES)


def edwards_trimp_stream(
    *, hr_bpm: Sequence[float | None] | None, max_hr_bpm: float
) -> float | None:
    """Edwards TRIMP from a 1 Hz HR channel (zones half-open, above HRmax is zone 5)."""
    top = positive("max_hr_bpm", max_hr_bpm)
    pairs = _hr_histogram(hr_bpm)
    return None if pairs is None else _edwards_points(pairs, top)


def lucia_thresholds_from_lthr(*, lthr_bpm: float) -> VentilatoryThresholds:
    """Default thresholds from LTHR when no lab test exists: VT1 = 0.80 x LTHR, VT2 = LTHR."""
    lthr = positive("lthr_bpm", lthr_bpm)
    return VentilatoryThresholds(
        vt1_hr_bpm=LUCIA_VT1_FRACTION_OF_LTHR * lthr, vt2_hr_bpm=LUCIA_VT2_FRACTION_OF_LTHR * lthr
    )


def lucia_trimp(*, zone_minutes: Sequence[float]) -> float:
    """Lucia TRIMP from minutes below VT1, between VT1 and VT2, and above VT2 (weights 1, 2, 3)."""
    return _zone_weighted("zone_minutes", zone_minutes, _LUCIA_ZONES)


def lucia_trimp_stream(
    *, hr_bpm: Sequence[float | None] | None, thresholds: VentilatoryThresholds
) -> float | None:
    """Lucia TRIMP from a 1 Hz HR channel; a reading equal to a threshold is in the upper zone."""
    pairs = _hr_histogram(hr_bpm)
    return None if pairs is None else _lucia_points(pairs, thresholds)


def session_rpe_load(*, rpe: float, duration_s: float) -> float:
    """Foster's session RPE load: RPE on the CR-10 scale (0-10) times minutes."""
    effort = finite("rpe", rpe)
    if not 0.0 <= effort <= _RPE_MAX:
        raise InvalidInput("rpe", f"must be on the CR-10 scale, 0 to 10, got {rpe!r}")
    return effort * non_negative("duration_s", duration_s) / 60.0


def hrss(
    *,
    duration_s: float,
    avg_hr_bpm: float,
    rest_hr_bpm: float,
    max_hr_bpm: float,
    lthr_bpm: float,
    sex: Sex | None,
) -> float:
    """Heart-rate stress score (= hrTSS) from average HR: 100 x TRIMP / TRIMP(1 h at LTHR)."""
    trimp = banister_trimp(
        duration_s=duration_s,
        avg_hr_bpm=avg_hr_bpm,
        rest_hr_bpm=rest_hr_bpm,
        max_hr_bpm=max_hr_bpm,
        sex=sex,
    )
    return 100.0 * trimp / _hour_at_lthr(rest_hr_bpm, max_hr_bpm, lthr_bpm, sex)


def hrss_stream(
    *,
    hr_bpm: Sequence[float | None] | None,
    rest_hr_bpm: float,
    max_hr_bpm: float,
    lthr_bpm: float,
    sex: Sex | None,
) -> float | None:
    """Heart-rate stress score (= hrTSS) from a 1 Hz HR channel; None without HR data."""
    reference = _hour_at_lthr(rest_hr_bpm, max_hr_bpm, lthr_bpm, sex)
    trimp = banister_trimp_stream(
        hr_bpm=hr_bpm, rest_hr_bpm=rest_hr_bpm, max_hr_bpm=max_hr_bpm, sex=sex
    )
    return None if trimp is None else 100.0 * trimp / reference


class HeartRateLoad(msgspec.Struct, frozen=True, kw_only=True):
    """Every heart-rate load of one activity, from one pass over its 1 Hz HR channel."""

    duration_s: float
    """Seconds with a heart-rate reading."""
    avg_hr_bpm: float
    banister_trimp: float
    edwards_trimp: float
    hrss: float | None
    """None without an LTHR."""
    lucia_trimp: float | None
    """None without thresholds or an LTHR to derive them from."""


def heart_rate_load(
    *,
    hr_bpm: Sequence[float | None] | None,
    rest_hr_bpm: float,
    max_hr_bpm: float,
    sex: Sex | None,
    lthr_bpm: float | None = None,
    thresholds: VentilatoryThresholds | None = None,
) -> HeartRateLoad | None:
    """All heart-rate loads at once (one histogram instead of one per metric); None without HR.

    Same values as the single `*_stream` functions. Lucia uses `thresholds` when given, else
    `lucia_thresholds_from_lthr(lthr_bpm)`.
    """
    rest, top = _rest_and_max(rest_hr_bpm, max_hr_bpm)
    k = banister_coefficients(sex=sex)
    reference = None if lthr_bpm is None else _hour_at_lthr(rest, top, lthr_bpm, sex)
    if thresholds is None and lthr_bpm is not None:
        thresholds = lucia_thresholds_from_lthr(lthr_bpm=lthr_bpm)
    pairs = _hr_histogram(hr_bpm)
    if pairs is None:
        return None
    seconds = sum(n for _, n in pairs)
    trimp = _banister_points(pairs, rest, top, k)
    return HeartRateLoad(
        duration_s=float(seconds),
        avg_hr_bpm=math.fsum(hr * n for hr, n in pairs) / seconds,
        banister_trimp=trimp,
        edwards_trimp=_edwards_points(pairs, top),
        hrss=None if reference is None else 100.0 * trimp / reference,
        lucia_trimp=None if thresholds is None else _lucia_points(pairs, thresholds),
    )


# ARCHITECTURE.md section 7a: hrTSS is HRSS.
hrtss = hrss
hrtss_stream = hrss_stream


def _rest_and_max(rest_hr_bpm: float, max_hr_bpm: float) -> tuple[float, float]:
    rest = positive("rest_hr_bpm", rest_hr_bpm)
    top = positive("max_hr_bpm", max_hr_bpm)
    if top <= rest:
        raise InvalidInput(
            "max_hr_bpm", f"must be above rest_hr_bpm ({rest_hr_bpm!r}), got {max_hr_bpm!r}"
        )
    return rest, top


def _reserve_fraction(hr: float, rest: float, top: float) -> float:
    return min(max((hr - rest) / (top - rest), 0.0), 1.0)


def _banister_weight(x: float, k: BanisterCoefficients) -> float:
    return x * k.a * math.exp(k.b * x)


def _banister_points(
    pairs: Sequence[tuple[float, int]], rest: float, top: float, k: BanisterCoefficients
) -> float:
    return (
        math.fsum(n * _banister_weight(_reserve_fraction(hr, rest, top), k) for hr, n in pairs)
        / 60.0
    )


def _edwards_points(pairs: Sequence[tuple[float, int]], top: float) -> float:
    points = 0
    for hr, n in pairs:
        # floor(10 * hr / max) is the tens of %HRmax, exact on a boundary for whole bpm values;
        # at or above HRmax it is zone 5 anyway (and an absurd reading cannot overflow)
        tens = 9 if hr >= top else math.floor(hr * 10.0 / top)
        points += n * min(max(tens - 4, 0), _EDWARDS_ZONES)
    return points / 60.0


def _lucia_points(pairs: Sequence[tuple[float, int]], thresholds: VentilatoryThresholds) -> float:
    vt1, vt2 = thresholds.vt1_hr_bpm, thresholds.vt2_hr_bpm
    points = 0
    for hr, n in pairs:
        points += n * (1 if hr < vt1 else 2 if hr < vt2 else 3)
    return points / 60.0


def _hour_at_lthr(rest_hr_bpm: float, max_hr_bpm: float, lthr_bpm: float, sex: Sex | None) -> float:
    rest, top = _rest_and_max(rest_hr_bpm, max_hr_bpm)
    lthr = positive("lthr_bpm", lthr_bpm)
    if not rest < lthr <= top:
        raise InvalidInput(
            "lthr_bpm",
            f"must be above rest_hr_bpm ({rest_hr_bpm!r}) and at most max_hr_bpm "
            f"({max_hr_bpm!r}), got {lthr_bpm!r}",
        )
    return 60.0 * _banister_weight(
        _reserve_fraction(lthr, rest, top), banister_coefficients(sex=sex)
    )


def _hr_histogram(hr_bpm: Sequence[float | None] | None) -> list[tuple[float, int]] | None:
    """(reading, seconds) pairs of the present readings, or None when there are none.

    Heart rate takes few distinct values (whole bpm on most devices), so weighting each
    distinct value once replaces ~14,000 per-second exp() calls of a 4-hour ride with ~100.
    Counter counts in C, and the checks then run over the distinct values only.
    """
    if hr_bpm is None:
        return None
    counts = Counter(hr_bpm)
    counts.pop(None, None)
    counts.pop(0, None)  # 0 == 0.0, so this drops either spelling of a lost-contact reading
    pairs = [(hr, n) for hr, n in counts.items() if hr is not None]
    if not pairs:
        return None
    values = [hr for hr, _ in pairs]
    if not math.isfinite(sum(values)):
        finite_samples("hr_bpm", hr_bpm)
    if min(values) < 0:
        first = next(i for i, v in enumerate(hr_bpm) if v is not None and v < 0)
        raise InvalidInput("hr_bpm", f"sample {first} is negative ({hr_bpm[first]!r})")
    return pairs


def _zone_weighted(name: str, zone_minutes: Sequence[float], zones: int) -> float:
    if len(zone_minutes) != zones:
        raise InvalidInput(name, f"needs {zones} values (one per zone), got {len(zone_minutes)}")
    return math.fsum((i + 1) * non_negative(f"{name}[{i}]", m) for i, m in enumerate(zone_minutes))
