"""Running performance: VDOT (Daniels–Gilbert), equivalent race times, Riegel prediction.

Daniels & Gilbert (1979), "Oxygen Power: Performance Tables for Distance Runners", with `v` the
race velocity in m/min and `T` the race duration in minutes:

* oxygen cost of running at `v`: `VO2(v) = -4.60 + 0.182258 v + 0.000104 v²` (ml/kg/min);
* fraction of VO2max sustainable for `T`:
  `F(T) = 0.8 + 0.1894393 e^(-0.012778 T) + 0.2989558 e^(-0.1932605 T)`;
* `VDOT = VO2(v) / F(T)`.

The formula reproduces the published VDOT tables (Daniels' Running Formula) within 0.2 % of the
race time for 5 km to the marathon; the tables themselves were smoothed. The fit was made on
races of roughly 1.5 km to the marathon (about 3.5 min to 4 h); outside that the numbers are
extrapolations.

Riegel (1981), "Athletic records and human endurance", American Scientist 69: `T2 = T1 ·
(D2/D1)^1.06`.
"""

from __future__ import annotations

import math

import msgspec

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.validation import finite, positive


class RaceDistance(msgspec.Struct, frozen=True, kw_only=True):
    """A named standard distance."""

    name: str
    distance_m: float


MILE_M = 1609.344
HALF_MARATHON_M = 21097.5
MARATHON_M = 42195.0

STANDARD_DISTANCES: tuple[RaceDistance, ...] = (
    RaceDistance(name="400 m", distance_m=400.0),
    RaceDistance(name="800 m", distance_m=800.0),
    RaceDistance(name="1 km", distance_m=1000.0),
    RaceDistance(name="1 mile", distance_m=MILE_M),
    RaceDistance(name="5 km", distance_m=5000.0),
    RaceDistance(name="10 km", distance_m=10000.0),
    RaceDistance(name="half marathon", distance_m=HALF_MARATHON_M),
    RaceDistance(name="marathon", distance_m=MARATHON_M),
)

RIEGEL_EXPONENT = 1.06

# Daniels–Gilbert constants, in one place.
_COST_A = -4.60
_COST_B = 0.182258
_COST_C = 0.000104
_FRAC_BASE = 0.8
_FRAC_K1 = 0.1894393
_FRAC_R1 = 0.012778
_FRAC_K2 = 0.2989558
_FRAC_R2 = 0.1932605

# The equivalent-time search brackets velocities between 30 and 1000 m/min (2 to 60 km/h):
# VDOT(d, T) falls strictly as T grows over that range for every distance from 100 m to 100 km.
_SLOWEST_M_PER_MIN = 30.0
_FASTEST_M_PER_MIN = 1000.0


class RacePrediction(msgspec.Struct, frozen=True, kw_only=True):
    """Predicted time for one distance, by Riegel and by VDOT equivalence (None if out of range)."""

    name: str
    distance_m: float
    riegel_duration_s: float
    vdot_duration_s: float | None


def oxygen_cost_ml_kg_min(*, speed_m_min: float) -> float:
    """Daniels–Gilbert oxygen cost of running at `speed_m_min` (ml/kg/min)."""
    v = finite("speed_m_min", speed_m_min)
    return _COST_A + _COST_B * v + _COST_C * v * v


def sustainable_fraction(*, duration_s: float) -> float:
    """Daniels–Gilbert fraction of VO2max that can be held for `duration_s`."""
    t_min = positive("duration_s", duration_s) / 60.0
    return (
        _FRAC_BASE + _FRAC_K1 * math.exp(-_FRAC_R1 * t_min) + _FRAC_K2 * math.exp(-_FRAC_R2 * t_min)
    )


def vdot(*, distance_m: float, duration_s: float) -> float:
    """VDOT (ml/kg/min) of a race of `distance_m` run in `duration_s` (Daniels–Gilbert)."""
    d = positive("distance_m", distance_m)
    t = positive("duration_s", duration_s)
    cost = _cost(d / (t / 60.0))
    if cost <= 0:
        # Below about 25 m/min the regression's oxygen cost turns negative: no VDOT exists.
        raise InvalidInput("duration_s", f"{t!r} s for {d!r} m is too slow for Daniels–Gilbert")
    return cost / _fraction(t / 60.0)


def vdot_race_time_s(*, vdot: float, distance_m: float) -> float:
    """Race time (s) over `distance_m` that scores `vdot`; bisection, so fully deterministic."""
    target = positive("vdot", vdot)
    d = positive("distance_m", distance_m)
    lo = d / _FASTEST_M_PER_MIN  # minutes; the fastest bracketed time scores the highest VDOT
    hi = d / _SLOWEST_M_PER_MIN
    if not _vdot_min(d, hi) <= target <= _vdot_min(d, lo):
        raise InvalidInput(
            "vdot",
            f"{target!r} needs a speed outside {_SLOWEST_M_PER_MIN:g}-"
            f"{_FASTEST_M_PER_MIN:g} m/min over {d!r} m",
        )
    # 100 halvings shrink any bracket below one ulp; stop earlier once it stops shrinking.
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _vdot_min(d, mid) > target:
            lo = mid
        else:
            hi = mid
    return 30.0 * (lo + hi)  # midpoint in minutes x 60


def riegel_time_s(
    *,
    distance_m: float,
    duration_s: float,
    target_distance_m: float,
    exponent: float = RIEGEL_EXPONENT,
) -> float:
    """Riegel (1981) prediction: duration_s x (target_distance_m / distance_m) ** exponent."""
    d1 = positive("distance_m", distance_m)
    t1 = positive("duration_s", duration_s)
    d2 = positive("target_distance_m", target_distance_m)
    k = positive("exponent", exponent)
    return t1 * math.pow(d2 / d1, k)


def predict_races(
    *,
    distance_m: float,
    duration_s: float,
    targets: tuple[RaceDistance, ...] = STANDARD_DISTANCES,
) -> list[RacePrediction]:
    """Predict every target distance from one race, by Riegel and by VDOT equivalence."""
    score = vdot(distance_m=distance_m, duration_s=duration_s)
    out: list[RacePrediction] = []
    for target in targets:
        try:
            by_vdot: float | None = vdot_race_time_s(vdot=score, distance_m=target.distance_m)
        except InvalidInput:
            by_vdot = None
        out.append(
            RacePrediction(
                name=target.name,
                distance_m=target.distance_m,
                riegel_duration_s=riegel_time_s(
                    distance_m=distance_m,
                    duration_s=duration_s,
                    target_distance_m=target.distance_m,
                ),
                vdot_duration_s=by_vdot,
            )
        )
    return out


def _cost(v_m_min: float) -> float:
    return _COST_A + _COST_B * v_m_min + _COST_C * v_m_min * v_m_min


def _fraction(t_min: float) -> float:
    return (
        _FRAC_BASE + _FRAC_K1 * math.exp(-_FRAC_R1 * t_min) + _FRAC_K2 * math.exp(-_FRAC_R2 * t_min)
    )


def _vdot_min(distance_m: float, t_min: float) -> float:
    return _cost(distance_m / t_min) / _fraction(t_min)
