"""Power metrics: NP, IF, TSS, VI, EF, Pa:HR decoupling and the mean-maximal power curve."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.power import (
    NP_WINDOW_S,
    STANDARD_DURATIONS_S,
    PowerSummary,
    aerobic_decoupling_pct,
    average_power,
    efficiency_factor,
    intensity_factor,
    normalized_power,
    power_curve,
    power_summary,
    training_stress_score,
    training_stress_score_stream,
    variability_index,
)


def seconds_at(watts: float | None, seconds: int) -> list[float | None]:
    return [watts] * seconds


# --- NP, IF, TSS: Coggan's anchors ----------------------------------------------------------------


def test_one_hour_at_ftp_gives_if_1_and_tss_100() -> None:
    # Coggan (Allen & Coggan, "Training and Racing with a Power Meter"): TSS is defined so that
    # one hour at FTP = 100, and constant power P has NP = P, so IF = 1
    ride = seconds_at(250.0, 3600)
    np_w = normalized_power(power_w=ride)
    assert np_w == pytest.approx(250.0, rel=1e-12)
    assert np_w is not None
    assert intensity_factor(normalized_power_w=np_w, ftp_w=250) == pytest.approx(1.0)
    assert training_stress_score(duration_s=3600, normalized_power_w=np_w, ftp_w=250) == (
        pytest.approx(100.0)
    )
    assert training_stress_score_stream(power_w=ride, ftp_w=250) == pytest.approx(100.0)


def test_tss_scales_with_hours_and_the_square_of_if() -> None:
    # TSS = (s x NP x IF) / (FTP x 3600) x 100: 30 min at IF 0.8 = 0.5 x 0.64 x 100 = 32
    assert training_stress_score(duration_s=1800, normalized_power_w=200, ftp_w=250) == (
        pytest.approx(32.0)
    )


def test_np_uses_only_full_30s_windows() -> None:
    # 30 s at 0 W then 30 s at 300 W: the 31 full windows hold j = 0..30 seconds of 300 W, so
    # window j averages 10 j W and NP^4 = mean over j of (10 j)^4 = 1e4 * sum(j^4) / 31, where
    # sum_{j=0}^{30} j^4 = 30 * 31 * 61 * (3 * 30^2 + 3 * 30 - 1) / 30 = 5,273,999.
    ride = [*seconds_at(0.0, 30), *seconds_at(300.0, 30)]
    expected = (1e4 * 5_273_999 / 31) ** 0.25
    assert normalized_power(power_w=ride) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(203.09, abs=0.01)


def test_np_needs_30_samples() -> None:
    assert normalized_power(power_w=seconds_at(200.0, NP_WINDOW_S - 1)) is None
    assert normalized_power(power_w=seconds_at(200.0, NP_WINDOW_S)) == pytest.approx(200.0)
    assert normalized_power(power_w=None) is None
    assert training_stress_score_stream(power_w=seconds_at(200.0, 29), ftp_w=250) is None


def test_np_removes_paused_and_missing_seconds_but_keeps_zeros() -> None:
    # metrics reference 2.1: 10 min at 250 W, 60 s paused, 10 min at 250 W -> NP 250 W
    paused = [*seconds_at(250.0, 600), *seconds_at(None, 60), *seconds_at(250.0, 600)]
    assert normalized_power(power_w=paused) == pytest.approx(250.0, rel=1e-12)
    coasting = [*seconds_at(250.0, 600), *seconds_at(0.0, 60), *seconds_at(250.0, 600)]
    np_coasting = normalized_power(power_w=coasting)
    assert np_coasting is not None
    assert np_coasting < 250.0


def test_np_can_fall_below_average_power_with_full_windows() -> None:
    # Full windows weight the first and last 29 s less than the middle, so spikes at both
    # ends pull the average up more than NP: 1000 W, 29 s at 0 W, 1000 W (31 samples).
    ride = [1000.0, *seconds_at(0.0, 29), 1000.0]
    assert normalized_power(power_w=ride) == pytest.approx(1000.0 / 30)
    assert average_power(power_w=ride) == pytest.approx(2000.0 / 31)


rides = st.lists(st.floats(min_value=0.0, max_value=1500.0), min_size=NP_WINDOW_S, max_size=400)


@given(ride=rides)
@settings(deadline=None)
def test_np_is_at_least_the_mean_of_its_30s_rolling_means(ride: list[float]) -> None:
    # power-mean inequality: a 4th-power mean is >= the arithmetic mean of the same values
    means = [math.fsum(ride[i : i + NP_WINDOW_S]) / NP_WINDOW_S for i in range(len(ride) - 29)]
    np_w = normalized_power(power_w=list[float | None](ride))
    assert np_w is not None
    assert np_w >= math.fsum(means) / len(means) * (1 - 1e-9) - 1e-9


@given(ride=rides)
@settings(deadline=None)
def test_np_is_at_least_average_power_when_the_ride_starts_and_ends_rolling(
    ride: list[float],
) -> None:
    # With 29 s at 0 W at each end every real sample sits in 30 full windows, so the mean of
    # the rolling means is sum / (n - 29) >= the average; NP is above that mean.
    padded = list[float | None]([0.0] * 29 + ride + [0.0] * 29)
    np_w = normalized_power(power_w=padded)
    avg = average_power(power_w=padded)
    assert np_w is not None
    assert avg is not None
    assert np_w >= avg * (1 - 1e-9) - 1e-9


@pytest.mark.parametrize("ftp", [0.0, -200.0, math.nan])
def test_ftp_must_be_positive(ftp: float) -> None:
    with pytest.raises(InvalidInput) as err:
        intensity_factor(normalized_power_w=200, ftp_w=ftp)
    assert err.value.argument == "ftp_w"
    with pytest.raises(InvalidInput) as err:
        training_stress_score_stream(power_w=seconds_at(200.0, 60), ftp_w=ftp)
    assert err.value.argument == "ftp_w"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -5.0])
def test_power_functions_name_power_w_for_an_impossible_sample(bad: float) -> None:
    ride = [*seconds_at(200.0, 40), bad]
    for call in (
        lambda: normalized_power(power_w=ride),
        lambda: average_power(power_w=ride),
        lambda: power_curve(power_w=ride),
        lambda: power_summary(power_w=ride, ftp_w=250),
    ):
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.argument == "power_w"


# --- VI, EF, summary ----------------------------------------------------------------------------


def test_variability_index_is_np_over_average_and_undefined_at_zero_average() -> None:
    # GoldenCheetah Coggan.cpp: VI = NP / average power
    assert variability_index(normalized_power_w=231, average_power_w=210) == pytest.approx(1.1)
    assert variability_index(normalized_power_w=0, average_power_w=0) is None


def test_efficiency_factor_is_np_per_heartbeat() -> None:
    # Friel: EF = NP / average HR
    assert efficiency_factor(normalized_power_w=210, average_hr_bpm=140) == pytest.approx(1.5)
    with pytest.raises(InvalidInput) as err:
        efficiency_factor(normalized_power_w=210, average_hr_bpm=0)
    assert err.value.argument == "average_hr_bpm"


def test_power_summary_equals_the_single_metrics() -> None:
    ride = [
        *seconds_at(180.0, 900),
        *seconds_at(0.0, 120),
        *seconds_at(None, 30),
        *seconds_at(320.0, 600),
    ]
    summary = power_summary(power_w=ride, ftp_w=280)
    assert isinstance(summary, PowerSummary)
    np_w = normalized_power(power_w=ride)
    avg = average_power(power_w=ride)
    assert np_w is not None
    assert avg is not None
    assert summary.duration_s == 1620.0
    assert summary.average_power_w == pytest.approx(avg)
    assert summary.normalized_power_w == pytest.approx(np_w)
    assert summary.intensity_factor == pytest.approx(np_w / 280)
    assert summary.training_stress_score == pytest.approx(
        training_stress_score(duration_s=1620, normalized_power_w=np_w, ftp_w=280)
    )
    assert summary.variability_index == pytest.approx(np_w / avg)


def test_power_summary_without_ftp_or_enough_samples_leaves_fields_empty() -> None:
    short = power_summary(power_w=seconds_at(100.0, 10))
    assert short == PowerSummary(
        duration_s=10.0,
        average_power_w=100.0,
        normalized_power_w=None,
        intensity_factor=None,
        training_stress_score=None,
        variability_index=None,
    )
    assert power_summary(power_w=None) is None
    assert power_summary(power_w=[None, None]) is None


# --- aerobic decoupling -------------------------------------------------------------------------


def test_decoupling_compares_power_per_heartbeat_of_the_two_halves() -> None:
    # Friel Pa:HR: 200 W at 140 bpm, then 200 W at 147 bpm: 100 x (1 - 140/147) = 4.76 %
    power = seconds_at(200.0, 1200)
    hr = [*seconds_at(140.0, 600), *seconds_at(147.0, 600)]
    assert aerobic_decoupling_pct(power_w=power, hr_bpm=hr) == pytest.approx(100 / 21)


def test_decoupling_uses_only_seconds_with_both_power_and_heart_rate() -> None:
    power = [*seconds_at(200.0, 500), *seconds_at(999.0, 100), *seconds_at(200.0, 600)]
    hr = [*seconds_at(140.0, 500), *seconds_at(0.0, 50), *seconds_at(None, 50)]
    hr += [*seconds_at(147.0, 500), *seconds_at(147.0, 100)]
    power[700:710] = [None] * 10
    assert aerobic_decoupling_pct(power_w=power, hr_bpm=hr) == pytest.approx(100 / 21)


def test_decoupling_is_undefined_for_an_empty_half_or_missing_channel() -> None:
    hr = [*seconds_at(None, 600), *seconds_at(150.0, 600)]
    assert aerobic_decoupling_pct(power_w=seconds_at(200.0, 1200), hr_bpm=hr) is None
    assert aerobic_decoupling_pct(power_w=None, hr_bpm=hr) is None
    assert aerobic_decoupling_pct(power_w=seconds_at(200.0, 1200), hr_bpm=None) is None
    first_half_idle = [*seconds_at(0.0, 600), *seconds_at(200.0, 600)]
    assert aerobic_decoupling_pct(power_w=first_half_idle, hr_bpm=seconds_at(120.0, 1200)) is None


def test_decoupling_requires_aligned_channels() -> None:
    with pytest.raises(InvalidInput) as err:
        aerobic_decoupling_pct(power_w=seconds_at(200.0, 10), hr_bpm=seconds_at(150.0, 9))
    assert err.value.argument == "power_w"


# --- power curve --------------------------------------------------------------------------------


def test_power_curve_finds_the_best_window_of_each_duration() -> None:
    ride = [*seconds_at(150.0, 100), *seconds_at(900.0, 5), *seconds_at(300.0, 55)]
    ride += seconds_at(150.0, 40)
    curve = power_curve(power_w=ride)
    assert curve is not None
    assert curve[5] == 900.0
    # best 10 s: the 5 s sprint plus 5 s at 300 W
    assert curve[10] == 600.0
    # best 60 s: the sprint and the 55 s after it
    assert curve[60] == pytest.approx((5 * 900 + 55 * 300) / 60)
    # the ride lasts 200 s: nothing for 5 min and longer
    assert list(curve) == [5, 10, 30, 60, 120]


def test_power_curve_counts_missing_seconds_and_pauses_as_zero_watts() -> None:
    ride = [*seconds_at(300.0, 5), None, *seconds_at(300.0, 4)]
    curve = power_curve(power_w=ride)
    assert curve == {5: 300.0, 10: 270.0}
    # a 20 s pause after the fifth second: each 10 s window now holds at most 5 s of riding,
    # and the 30 s from first to last sample hold 10 s of 300 W
    times = [float(t) for t in range(5)] + [float(t) for t in range(25, 30)]
    paused = power_curve(power_w=seconds_at(300.0, 10), time_s=times)
    assert paused == {5: 300.0, 10: 150.0, 30: 100.0}


def test_power_curve_is_none_without_power_and_rejects_bad_durations() -> None:
    assert power_curve(power_w=None) is None
    assert power_curve(power_w=[None]) is None
    with pytest.raises(InvalidInput) as err:
        power_curve(power_w=[1.0], durations_s=[5, 0])
    assert err.value.argument == "durations_s[1]"


def test_power_curve_can_rise_between_durations_that_are_not_multiples() -> None:
    # 1 min on / 1 min off: every 2 min window holds 60 s on (150 W), but the 5 min window
    # that starts and ends "on" holds 180 s (180 W). Mean-maximal power is not monotone in
    # general; it is between multiples (see the property below).
    ride: list[float | None] = []
    for _ in range(3):
        ride += [*seconds_at(300.0, 60), *seconds_at(0.0, 60)]
    curve = power_curve(power_w=ride[:300], durations_s=[120, 300])
    assert curve == {120: 150.0, 300: 180.0}


@given(ride=st.lists(st.floats(min_value=0.0, max_value=2000.0), min_size=1, max_size=700))
@settings(deadline=None)
def test_power_curve_does_not_rise_from_a_duration_to_its_multiples(ride: list[float]) -> None:
    # A window of k x d seconds splits into k windows of d seconds, one of which averages at
    # least as much, so MMP(k x d) <= MMP(d).
    durations = (1, 2, 5, 10, 20, 30, 60, 120, 240, 300, 600)
    curve = power_curve(power_w=list[float | None](ride), durations_s=durations)
    assert curve is not None
    for short in curve:
        for long in curve:
            if long > short and long % short == 0:
                assert curve[long] <= curve[short] * (1 + 1e-9) + 1e-9


def brute_force_best(ride: list[float], d: int) -> float:
    """Best average over every window of d seconds, the obvious way."""
    return max(math.fsum(ride[i : i + d]) for i in range(len(ride) - d + 1)) / d


def test_power_curve_of_a_long_structured_ride_matches_brute_force() -> None:
    # long enough that durations from a minute up are searched block by block
    ride: list[float] = []
    for level in (150.0, 210.0, 180.0, 420.0, 160.0, 260.0, 0.0, 240.0):
        ride += [level + (i * 37 % 23) for i in range(450)]
    durations = (5, 30, 60, 120, 300, 600, 1200, 1800)
    curve = power_curve(power_w=list[float | None](ride), durations_s=durations)
    assert curve is not None
    for d in durations:
        assert curve[d] == pytest.approx(brute_force_best(ride, d), rel=1e-12)


@st.composite
def blocky_rides(draw: st.DrawFn) -> list[float]:
    """Rides of steady blocks with noise: the shape that lets the search skip blocks."""
    ride: list[float] = []
    for _ in range(draw(st.integers(min_value=2, max_value=8))):
        level = draw(st.floats(min_value=0.0, max_value=600.0))
        noise = draw(st.lists(st.floats(min_value=0, max_value=50), min_size=1, max_size=5))
        length = draw(st.integers(min_value=30, max_value=400))
        ride += [level + noise[i % len(noise)] for i in range(length)]
    return ride


@given(ride=blocky_rides())
@settings(deadline=None, max_examples=60)
def test_power_curve_equals_the_full_search_of_every_window(ride: list[float]) -> None:
    prefix = [0.0]
    for p in ride:
        prefix.append(prefix[-1] + p)
    durations = (60, 90, 120, 300, 600)
    curve = power_curve(power_w=list[float | None](ride), durations_s=durations)
    assert curve is not None
    for d in durations:
        if d <= len(ride):
            full = max(prefix[i + d] - prefix[i] for i in range(len(ride) - d + 1)) / d
            assert curve[d] == full  # the same subtraction picks the winner: bit-identical


def test_standard_durations_are_the_published_list() -> None:
    assert STANDARD_DURATIONS_S == (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)


def test_scalar_power_metrics_reject_nan() -> None:
    calls: list[tuple[str, Any]] = [
        ("normalized_power_w", lambda: intensity_factor(normalized_power_w=math.nan, ftp_w=200)),
        ("duration_s", lambda: training_stress_score(duration_s=-1, normalized_power_w=1, ftp_w=1)),
        ("average_power_w", lambda: variability_index(normalized_power_w=1, average_power_w=-1)),
    ]
    for argument, call in calls:
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.argument == argument
