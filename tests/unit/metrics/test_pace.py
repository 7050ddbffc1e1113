"""Pace metrics: Minetti GAP, NGP, rTSS, swim sTSS and best efforts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.pace import (
    best_efforts,
    grade_adjusted_pace_s_per_km,
    grade_adjusted_speed_m_s,
    grade_adjustment_factor,
    grade_stream,
    minetti_cost_j_per_kg_m,
    normalized_graded_speed_m_s,
    pace_from_speed,
    rtss,
    run_stress,
    running_intensity_factor,
    speed_from_pace,
    swim_intensity_factor,
    swim_tss,
)
from training_analyzer.core.metrics.running import RaceDistance


def test_pace_and_speed_convert_both_ways() -> None:
    assert pace_from_speed(speed_m_s=4.0) == 250.0
    assert speed_from_pace(pace_s_per_km=250.0) == 4.0
    with pytest.raises(InvalidInput) as err:
        pace_from_speed(speed_m_s=0.0)
    assert err.value.argument == "speed_m_s"


def test_minetti_cost_on_the_flat_is_3_6_j_per_kg_m() -> None:
    # Minetti et al. (2002): Cr(0) = 3.6 J/kg/m.
    assert minetti_cost_j_per_kg_m(grade=0.0) == 3.6
    assert grade_adjustment_factor(grade=0.0) == 1.0


@pytest.mark.parametrize(
    ("grade", "factor"),
    [
        (-0.15, 0.5099),
        (-0.10, 0.5977),
        (-0.05, 0.7628),
        (-0.04, 0.8047),
        (-0.02, 0.8969),
        (-0.01, 0.9471),
        (0.01, 1.0554),
        (0.02, 1.1134),
        (0.04, 1.2365),
        (0.05, 1.3014),
        (0.10, 1.6578),
        (0.15, 2.0603),
    ],
)
def test_grade_factor_matches_runalyzes_minetti_spreadsheet(grade: float, factor: float) -> None:
    # Runalyze tests/inc/core/Sports/Running/GradeAdjustedPace/Algorithm/MinettiTest.php,
    # "energy costs verified by own spreadsheet": Cr(i) / Cr(0) to four decimals.
    assert grade_adjustment_factor(grade=grade) == pytest.approx(factor, abs=1e-4)


def test_grades_beyond_the_measured_range_are_clamped() -> None:
    # Minetti measured -0.45 .. +0.45. By hand, Cr(0.45) = 2.867567 - 1.246590 - 3.945713
    # + 9.375750 + 8.775 + 3.6 = 19.426014 J/kg/m.
    assert minetti_cost_j_per_kg_m(grade=0.45) == pytest.approx(19.426014, abs=1e-6)
    assert minetti_cost_j_per_kg_m(grade=0.8) == minetti_cost_j_per_kg_m(grade=0.45)
    assert minetti_cost_j_per_kg_m(grade=-0.9) == minetti_cost_j_per_kg_m(grade=-0.45)


def test_grade_adjusted_speed_and_pace_scale_by_the_cost_ratio() -> None:
    # +10 %: factor 1.6578, so 3 m/s uphill equals 4.973 m/s on the flat and a 5:00/km uphill
    # pace equals 3:01/km.
    assert grade_adjusted_speed_m_s(speed_m_s=3.0, grade=0.10) == pytest.approx(4.9734, abs=1e-3)
    assert grade_adjusted_pace_s_per_km(pace_s_per_km=300, grade=0.10) == pytest.approx(
        180.96, abs=0.01
    )
    with pytest.raises(InvalidInput) as err:
        grade_adjusted_speed_m_s(speed_m_s=3.0, grade=math.nan)
    assert err.value.argument == "grade"


def test_grade_stream_recovers_a_constant_slope_and_leaves_standing_unknown() -> None:
    n = 120
    distance = [3.0 * i for i in range(n)] + [3.0 * (n - 1)] * 40
    altitude = [100 + 0.15 * i for i in range(n)] + [100 + 0.15 * (n - 1)] * 40
    grades = grade_stream(distance_m=distance, altitude_m=altitude)
    assert len(grades) == n + 40
    assert grades[10:100] == pytest.approx([0.05] * 90, abs=1e-12)
    assert grades[-5:] == [None] * 5  # 20 s without moving: no grade


def test_grade_stream_interpolates_missing_samples() -> None:
    distance: list[float | None] = [3.0 * i for i in range(60)]
    altitude: list[float | None] = [0.3 * i for i in range(60)]
    distance[20] = None
    altitude[30] = None
    assert grade_stream(distance_m=distance, altitude_m=altitude) == pytest.approx(
        [0.1] * 60, abs=1e-12
    )


def test_grade_stream_rejects_mismatched_streams() -> None:
    with pytest.raises(InvalidInput) as err:
        grade_stream(distance_m=[0.0, 1.0], altitude_m=[0.0])
    assert err.value.argument == "altitude_m"


def test_ngp_of_a_steady_flat_run_is_its_speed() -> None:
    assert normalized_graded_speed_m_s(speed_m_s=[3.2] * 600) == pytest.approx(3.2, rel=1e-12)


def test_ngp_is_the_fourth_power_mean_of_full_30_second_windows() -> None:
    # 30 s at 2 m/s then 30 s at 4 m/s: 31 full windows, window j averages 2 + j/15 m/s.
    speeds = [2.0] * 30 + [4.0] * 30
    expected = (sum((2 + j / 15) ** 4 for j in range(31)) / 31) ** 0.25
    assert normalized_graded_speed_m_s(speed_m_s=speeds) == pytest.approx(expected, rel=1e-12)
    # Sanity check of the sum: x^4 averaged over 2..4 m/s is (4^5 - 2^5) / 10 = 99.2 for a
    # continuous ramp (fourth root 3.156); the 31 discrete windows give 3.1656.
    assert expected == pytest.approx(3.1656, abs=1e-4)


def test_ngp_window_is_30_seconds_whatever_the_sample_interval() -> None:
    # At 2 s per sample the 30 s window is 15 samples: 15 at 2 m/s then 15 at 4 m/s gives 16
    # windows averaging 2 + 2j/15 m/s.
    speeds = [2.0] * 15 + [4.0] * 15
    expected = (sum((2 + 2 * j / 15) ** 4 for j in range(16)) / 16) ** 0.25
    assert normalized_graded_speed_m_s(speed_m_s=speeds, sample_interval_s=2) == pytest.approx(
        expected, rel=1e-12
    )
    assert normalized_graded_speed_m_s(speed_m_s=[3.0] * 14, sample_interval_s=2) is None
    stress = run_stress(speed_m_s=[4.0] * 1800, threshold_pace_s_per_km=250, sample_interval_s=2)
    assert stress is not None
    assert stress.duration_s == 3600.0
    assert stress.rtss == pytest.approx(100.0)


def test_ngp_applies_the_grade_and_drops_missing_speed_samples() -> None:
    speeds: list[float | None] = [3.0] * 100 + [None] * 10
    grades: list[float | None] = [0.05] * 110
    ngp = normalized_graded_speed_m_s(speed_m_s=speeds, grade=grades)
    assert ngp == pytest.approx(3.0 * grade_adjustment_factor(grade=0.05), rel=1e-12)
    # A None grade sample is taken as flat: its speed is still a real reading.
    assert normalized_graded_speed_m_s(speed_m_s=[3.0] * 40, grade=[None] * 40) == pytest.approx(
        3.0
    )


def test_ngp_needs_30_present_samples() -> None:
    assert normalized_graded_speed_m_s(speed_m_s=[3.0] * 29) is None
    assert normalized_graded_speed_m_s(speed_m_s=[3.0] * 29 + [None] * 50) is None
    assert run_stress(speed_m_s=[3.0] * 29, threshold_pace_s_per_km=300) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_ngp_rejects_impossible_speed_samples(bad: float) -> None:
    with pytest.raises(InvalidInput) as err:
        normalized_graded_speed_m_s(speed_m_s=[3.0] * 40 + [bad])
    assert err.value.argument == "speed_m_s"


def test_rtss_of_an_hour_at_threshold_is_100() -> None:
    # TrainingPeaks rTSS: hours x IF^2 x 100; IF = threshold pace / NGP pace.
    stress = run_stress(speed_m_s=[4.0] * 3600, threshold_pace_s_per_km=250)
    assert stress is not None
    assert stress.intensity_factor == pytest.approx(1.0)
    assert stress.rtss == pytest.approx(100.0)
    assert stress.ngp_pace_s_per_km == pytest.approx(250.0)
    assert stress.duration_s == 3600.0


def test_rtss_counts_only_the_samples_ngp_used() -> None:
    stress = run_stress(
        speed_m_s=[4.4] * 1800 + [None] * 600, threshold_pace_s_per_km=250, sample_interval_s=1
    )
    assert stress is not None
    # 30 min at IF 1.1: 0.5 x 1.21 x 100 = 60.5.
    assert stress.duration_s == 1800.0
    assert stress.rtss == pytest.approx(60.5)
    assert rtss(duration_s=1800, intensity_factor=1.1) == pytest.approx(60.5)
    assert running_intensity_factor(
        ngp_speed_m_s=4.4, threshold_pace_s_per_km=250
    ) == pytest.approx(1.1)


def test_a_run_standing_still_has_no_ngp_pace_and_no_load() -> None:
    stress = run_stress(speed_m_s=[0.0] * 60, threshold_pace_s_per_km=250)
    assert stress is not None
    assert stress.ngp_speed_m_s == 0.0
    assert stress.ngp_pace_s_per_km is None
    assert stress.rtss == 0.0


def test_rtss_rejects_a_non_positive_threshold() -> None:
    with pytest.raises(InvalidInput) as err:
        run_stress(speed_m_s=[3.0] * 60, threshold_pace_s_per_km=0)
    assert err.value.argument == "threshold_pace_s_per_km"


def test_swim_tss_cubes_the_intensity_factor() -> None:
    # TrainingPeaks sTSS = IF^3 x hours x 100. 2000 m in 40:00 with a 1:50/100 m threshold:
    # speed 0.8333 m/s, threshold 0.9091 m/s, IF 0.916667, 0.770255 x 0.6667 x 100 = 51.350.
    assert swim_intensity_factor(
        distance_m=2000, moving_time_s=2400, threshold_pace_s_per_100m=110
    ) == pytest.approx(0.916667, abs=1e-6)
    assert swim_tss(
        distance_m=2000, moving_time_s=2400, threshold_pace_s_per_100m=110
    ) == pytest.approx(51.350, abs=1e-3)
    # One hour at threshold pace scores 100.
    assert swim_tss(
        distance_m=3600, moving_time_s=3600, threshold_pace_s_per_100m=100
    ) == pytest.approx(100.0)


def test_swim_tss_edge_cases() -> None:
    assert swim_tss(distance_m=0, moving_time_s=0, threshold_pace_s_per_100m=100) == 0.0
    with pytest.raises(InvalidInput) as err:
        swim_tss(distance_m=100, moving_time_s=0, threshold_pace_s_per_100m=100)
    assert err.value.argument == "moving_time_s"
    with pytest.raises(InvalidInput) as err:
        swim_tss(distance_m=100, moving_time_s=-5, threshold_pace_s_per_100m=100)
    assert err.value.argument == "moving_time_s"
    with pytest.raises(InvalidInput) as err:
        swim_tss(distance_m=100, moving_time_s=60, threshold_pace_s_per_100m=0)
    assert err.value.argument == "threshold_pace_s_per_100m"


def test_best_efforts_of_a_steady_run_are_distance_over_speed() -> None:
    distance: list[float | None] = [4.0 * i for i in range(3001)]  # 12 km at 4 m/s
    efforts = {e.name: e for e in best_efforts(distance_m=distance)}
    assert list(efforts) == ["400 m", "800 m", "1 km", "1 mile", "5 km", "10 km"]
    assert efforts["400 m"].duration_s == pytest.approx(100.0)
    assert efforts["1 mile"].duration_s == pytest.approx(1609.344 / 4)
    assert efforts["10 km"].duration_s == pytest.approx(2500.0)
    assert efforts["10 km"].pace_s_per_km == pytest.approx(250.0)


def test_best_efforts_find_the_fast_section_and_interpolate() -> None:
    # 100 s at 3 m/s, 100 s at 5 m/s, 100 s at 3 m/s (1100 m). The fast 500 m take 100 s, so:
    # 400 m -> 80 s; 800 m -> 100 s + 300 m / 3 = 200 s; 1 km -> 100 s + 500 m / 3 = 266.67 s.
    d = [3.0 * i for i in range(101)]
    d += [300 + 5.0 * i for i in range(1, 101)]
    d += [800 + 3.0 * i for i in range(1, 101)]
    efforts = {e.name: e for e in best_efforts(distance_m=d)}
    assert list(efforts) == ["400 m", "800 m", "1 km"]  # no mile in 1100 m
    assert efforts["400 m"].duration_s == pytest.approx(80.0)
    assert 100.0 - 1e-9 <= efforts["400 m"].start_s <= 120.0 + 1e-9
    assert efforts["800 m"].duration_s == pytest.approx(200.0)
    assert efforts["1 km"].duration_s == pytest.approx(800 / 3)


def test_best_effort_ends_are_interpolated_between_samples() -> None:
    # Samples 0, 3, 6, 10, 15, 21 m at 1 Hz. Fastest 10 m: end on the last sample (21 m) and
    # start at 11 m, a fifth of the way through the 10 -> 15 m second: 5 - 3.2 = 1.8 s.
    ten = (RaceDistance(name="10 m", distance_m=10.0),)
    (effort,) = best_efforts(distance_m=[0.0, 3.0, 6.0, 10.0, 15.0, 21.0], distances=ten)
    assert effort.duration_s == pytest.approx(1.8)
    assert effort.start_s == pytest.approx(3.2)
    (slow,) = best_efforts(
        distance_m=[0.0, 3.0, 6.0, 10.0, 15.0, 21.0], distances=ten, sample_interval_s=2
    )
    assert slow.duration_s == pytest.approx(3.6)
    assert slow.start_s == pytest.approx(6.4)


def test_best_efforts_bridge_missing_distance_samples() -> None:
    d: list[float | None] = [4.0 * i for i in range(200)]
    d[50] = None
    d[0] = None
    (effort,) = best_efforts(
        distance_m=d, distances=(RaceDistance(name="400 m", distance_m=400.0),)
    )
    assert effort.duration_s == pytest.approx(100.0)


def test_best_efforts_of_too_short_or_empty_streams_are_empty() -> None:
    assert best_efforts(distance_m=[0.0, 100.0, 200.0]) == []
    assert best_efforts(distance_m=[]) == []
    assert best_efforts(distance_m=[None, None]) == []


@pytest.mark.parametrize(
    "stream",
    [[0.0, 10.0, 9.0, 20.0], [0.0, math.nan, 20.0], [0.0, math.inf]],
)
def test_best_efforts_reject_impossible_distance_streams(stream: list[float | None]) -> None:
    with pytest.raises(InvalidInput) as err:
        best_efforts(distance_m=stream)
    assert err.value.argument == "distance_m"


def _reference_fastest(d: list[float], target: float) -> float | None:
    """Plain O(n^2) search over every window that starts or ends on a sample, interpolated.

    Like the implementation, a window short of the target by at most a micrometre counts as
    covering it (float noise must not push a window across a standing-still stretch).
    """
    n = len(d)
    need = target - min(1e-6, 0.5 * target)
    if d[-1] - d[0] < need:
        return None
    best = math.inf
    for first in range(n):
        # Start on a sample: the last moment at that distance (the end of any standing still).
        s = first
        while s + 1 < n and d[s + 1] == d[s]:
            s += 1
        j = next((j for j in range(s + 1, n) if d[j] - d[s] >= need), None)
        if j is not None:
            frac = (d[s] + target - d[j - 1]) / (d[j] - d[j - 1])
            best = min(best, j - 1 + min(1.0, max(0.0, frac)) - s)
    for last in range(n):
        # End on a sample: the first moment at that distance.
        e = last
        while e > 0 and d[e - 1] == d[e]:
            e -= 1
        i = next((i for i in range(e - 1, -1, -1) if d[e] - d[i] >= need), None)
        if i is not None:
            frac = (d[e] - target - d[i]) / (d[i + 1] - d[i])
            best = min(best, e - i - min(1.0, max(0.0, frac)))
    return best


steps = st.one_of(
    st.just(0.0),
    st.floats(min_value=0.0, max_value=8.0),
    st.integers(min_value=0, max_value=6).map(float),
)


@given(
    st.lists(steps, min_size=1, max_size=80),
    st.floats(min_value=0.5, max_value=150.0),
)
def test_best_effort_matches_a_brute_force_search(increments: list[float], target: float) -> None:
    d = [0.0]
    for step in increments:
        d.append(d[-1] + step)
    found = best_efforts(distance_m=list(d), distances=(RaceDistance(name="x", distance_m=target),))
    expected = _reference_fastest(d, target)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].duration_s == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert 0.0 <= found[0].start_s <= len(d) - 1 - found[0].duration_s + 1e-9


@given(st.lists(st.floats(min_value=0.5, max_value=6.5), min_size=30, max_size=400))
def test_best_effort_durations_grow_with_distance(speeds: list[float]) -> None:
    d = [0.0]
    for v in speeds:
        d.append(d[-1] + v)
    efforts = best_efforts(
        distance_m=list(d),
        distances=tuple(
            RaceDistance(name=str(m), distance_m=float(m)) for m in (50, 100, 200, 400, 800)
        ),
    )
    durations = [e.duration_s for e in efforts]
    assert durations == sorted(durations)


@given(st.lists(st.floats(min_value=0.0, max_value=7.0), min_size=30, max_size=300))
def test_ngp_lies_between_the_slowest_and_fastest_sample(speeds: list[float]) -> None:
    ngp = normalized_graded_speed_m_s(speed_m_s=list(speeds))
    assert ngp is not None
    assert min(speeds) - 1e-9 <= ngp <= max(speeds) + 1e-9
