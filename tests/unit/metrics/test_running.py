"""Running performance: Daniels–Gilbert VDOT, equivalent race times and Riegel predictions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.running import (
    HALF_MARATHON_M,
    MARATHON_M,
    STANDARD_DISTANCES,
    oxygen_cost_ml_kg_min,
    predict_races,
    riegel_time_s,
    sustainable_fraction,
    vdot,
    vdot_race_time_s,
)


def _hms(h: int, m: int, s: int) -> float:
    return h * 3600.0 + m * 60.0 + s


def test_a_20_minute_5k_scores_vdot_49_8() -> None:
    # Daniels' Running Formula VDOT table: 5 km in 20:00 is VDOT ~49.8; the bare
    # Daniels–Gilbert formula gives 49.806 (metrics reference §5.1).
    assert vdot(distance_m=5000, duration_s=1200) == pytest.approx(49.806, abs=0.001)
    assert vdot(distance_m=5000, duration_s=1200) == pytest.approx(49.8, abs=0.05)


def test_daniels_gilbert_components_have_their_published_form() -> None:
    # Daniels & Gilbert (1979): at 250 m/min the cost is -4.6 + 0.182258*250 + 0.000104*250^2.
    assert oxygen_cost_ml_kg_min(speed_m_min=250) == pytest.approx(47.4645, abs=1e-9)
    # F(20 min) = 0.8 + 0.1894393 e^(-0.25556) + 0.2989558 e^(-3.86521).
    expected = 0.8 + 0.1894393 * math.exp(-0.012778 * 20) + 0.2989558 * math.exp(-0.1932605 * 20)
    assert sustainable_fraction(duration_s=1200) == pytest.approx(expected, rel=1e-15)


# Daniels' Running Formula VDOT table (race times for 5 km, 10 km, half marathon, marathon), as
# reproduced in Runalyze's tests/inc/core/Sports/Running/Prognosis/VO2maxTest.php.
DANIELS_TABLE = {
    30: (_hms(0, 30, 40), _hms(1, 3, 46), _hms(2, 21, 4), _hms(4, 49, 17)),
    40: (_hms(0, 24, 8), _hms(0, 50, 3), _hms(1, 50, 59), _hms(3, 49, 45)),
    45: (_hms(0, 21, 50), _hms(0, 45, 16), _hms(1, 40, 20), _hms(3, 28, 26)),
    50: (_hms(0, 19, 57), _hms(0, 41, 21), _hms(1, 31, 35), _hms(3, 10, 49)),
    55: (_hms(0, 18, 22), _hms(0, 38, 6), _hms(1, 24, 18), _hms(2, 56, 1)),
    60: (_hms(0, 17, 3), _hms(0, 35, 22), _hms(1, 18, 9), _hms(2, 43, 25)),
    70: (_hms(0, 14, 55), _hms(0, 31, 0), _hms(1, 8, 21), _hms(2, 23, 10)),
}
TABLE_DISTANCES = (5000.0, 10000.0, HALF_MARATHON_M, MARATHON_M)


@pytest.mark.parametrize("score", sorted(DANIELS_TABLE))
def test_equivalent_times_match_the_daniels_table_within_0_2_percent(score: int) -> None:
    # The published tables were smoothed; the formula stays within 0.2 % of them (the largest
    # gap, 32 s, is the VDOT 30 marathon).
    for distance, table_s in zip(TABLE_DISTANCES, DANIELS_TABLE[score], strict=True):
        predicted = vdot_race_time_s(vdot=score, distance_m=distance)
        assert predicted == pytest.approx(table_s, rel=0.002), (score, distance)


def test_vdot_50_formula_times_to_the_second() -> None:
    # Metrics reference §5.1: the bare formula gives 19:56, 41:20, 1:31:31 and 3:10:40 for VDOT
    # 50 (the table prints 19:57, 41:21, 1:31:35, 3:10:49).
    expected = (_hms(0, 19, 56), _hms(0, 41, 20), _hms(1, 31, 31), _hms(3, 10, 40))
    for distance, want in zip(TABLE_DISTANCES, expected, strict=True):
        assert vdot_race_time_s(vdot=50, distance_m=distance) == pytest.approx(want, abs=0.6)


def test_equivalent_time_round_trips_through_vdot() -> None:
    t = vdot_race_time_s(vdot=52.3, distance_m=MARATHON_M)
    assert vdot(distance_m=MARATHON_M, duration_s=t) == pytest.approx(52.3, rel=1e-12)


def test_riegel_worked_examples() -> None:
    # Riegel (1981), exponent 1.06: 10 km in 40:00 -> marathon 3:04:00 (11 040 s);
    # 5 km in 20:00 -> 10 km in 41:42 (2 502 s). Metrics reference §5.2.
    assert riegel_time_s(
        distance_m=10000, duration_s=2400, target_distance_m=MARATHON_M
    ) == pytest.approx(11040, abs=1)
    assert riegel_time_s(
        distance_m=5000, duration_s=1200, target_distance_m=10000
    ) == pytest.approx(2502, abs=0.5)


def test_predict_races_gives_both_methods_for_every_standard_distance() -> None:
    predictions = predict_races(distance_m=5000, duration_s=1200)
    assert [p.name for p in predictions] == [d.name for d in STANDARD_DISTANCES]
    five_k = next(p for p in predictions if p.name == "5 km")
    assert five_k.riegel_duration_s == pytest.approx(1200, rel=1e-12)
    assert five_k.vdot_duration_s == pytest.approx(1200, rel=1e-9)
    marathon = predictions[-1]
    # Riegel by hand: 1200 x (42195/5000)^1.06 = 11 509.3 s (3:11:49). The VDOT route (VDOT
    # 49.806) gives 11 477.2 s, between the table's VDOT 49 and 50 marathons (3:10:49 at 50).
    assert marathon.riegel_duration_s == pytest.approx(11509.3, abs=0.1)
    assert marathon.vdot_duration_s == pytest.approx(11477.2, abs=0.1)


@pytest.mark.parametrize("duration", [0.0, -60.0, math.nan, math.inf])
def test_vdot_rejects_impossible_durations(duration: float) -> None:
    with pytest.raises(InvalidInput) as err:
        vdot(distance_m=5000, duration_s=duration)
    assert err.value.argument == "duration_s"


def test_vdot_rejects_a_non_positive_distance() -> None:
    with pytest.raises(InvalidInput) as err:
        vdot(distance_m=0, duration_s=1200)
    assert err.value.argument == "distance_m"


def test_vdot_rejects_a_pace_too_slow_for_the_model() -> None:
    # 5 km in 4 h is 20.8 m/min: the regression's oxygen cost is negative there.
    with pytest.raises(InvalidInput) as err:
        vdot(distance_m=5000, duration_s=4 * 3600)
    assert err.value.argument == "duration_s"


@pytest.mark.parametrize("score", [0.0, -3.0, math.nan, 1000.0])
def test_race_time_rejects_a_vdot_out_of_reach(score: float) -> None:
    with pytest.raises(InvalidInput) as err:
        vdot_race_time_s(vdot=score, distance_m=10000)
    assert err.value.argument == "vdot"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"distance_m": 10000, "duration_s": 0, "target_distance_m": 5000}, "duration_s"),
        ({"distance_m": -1, "duration_s": 2400, "target_distance_m": 5000}, "distance_m"),
        ({"distance_m": 10000, "duration_s": 2400, "target_distance_m": 0}, "target_distance_m"),
        ({"distance_m": 10000, "duration_s": math.nan, "target_distance_m": 1}, "duration_s"),
    ],
)
def test_riegel_rejects_impossible_input(kwargs: dict[str, float], argument: str) -> None:
    with pytest.raises(InvalidInput) as err:
        riegel_time_s(**kwargs)
    assert err.value.argument == argument


distances = st.floats(min_value=800, max_value=MARATHON_M)


@given(distances, distances, st.floats(min_value=30, max_value=80))
def test_vdot_predictions_increase_with_distance(a: float, b: float, score: float) -> None:
    short, long = sorted((a, b))
    t_short = vdot_race_time_s(vdot=score, distance_m=short)
    t_long = vdot_race_time_s(vdot=score, distance_m=long)
    assert t_long >= t_short
    if long > short * 1.001:
        assert t_long > t_short


@given(distances, distances, st.floats(min_value=600, max_value=20000))
def test_riegel_predictions_increase_with_distance(a: float, b: float, t1: float) -> None:
    short, long = sorted((a, b))
    assert riegel_time_s(distance_m=5000, duration_s=t1, target_distance_m=long) >= riegel_time_s(
        distance_m=5000, duration_s=t1, target_distance_m=short
    )


@given(st.floats(min_value=600, max_value=3000), st.floats(min_value=1.001, max_value=2))
def test_a_slower_race_scores_a_lower_vdot(t: float, factor: float) -> None:
    assert vdot(distance_m=5000, duration_s=t * factor) < vdot(distance_m=5000, duration_s=t)


@given(st.floats(min_value=30, max_value=85), st.floats(min_value=1500, max_value=MARATHON_M))
def test_vdot_race_time_inverts_vdot(score: float, distance: float) -> None:
    t = vdot_race_time_s(vdot=score, distance_m=distance)
    assert vdot(distance_m=distance, duration_s=t) == pytest.approx(score, rel=1e-9)
