"""Streams: 1 Hz resampling, pauses vs dropouts, moving time, elevation gain with hysteresis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.streams import (
    DROPOUT_FILL_MAX_S,
    ELEVATION_HYSTERESIS_M,
    MOVING_SPEED_MIN_M_S,
    PAUSE_GAP_S,
    Dropout,
    ElevationChange,
    Pause,
    Streams,
    check_time,
    elapsed_time_s,
    elevation_gain_loss,
    fill_dropouts,
    find_dropouts,
    find_pauses,
    moving_time_s,
    present_samples,
    resample_1hz,
)

# --- the Streams type -------------------------------------------------------------------------


def test_streams_rejects_a_channel_whose_length_differs_from_time() -> None:
    with pytest.raises(InvalidInput) as err:
        Streams(time_s=[0.0, 1.0, 2.0], hr_bpm=[120.0, 121.0])
    assert err.value.argument == "hr_bpm"


def test_streams_accepts_absent_channels_and_aligned_ones() -> None:
    s = Streams(time_s=[0.0, 1.0], power_w=[100.0, None])
    assert s.hr_bpm is None
    assert s.power_w == [100.0, None]


# --- sample checks ------------------------------------------------------------------------------


def test_present_samples_returns_the_same_list_when_nothing_is_missing() -> None:
    values = [1.0, 2.0, 3.0]
    assert present_samples("x", values) is values


def test_present_samples_drops_missing_and_optionally_zero_readings() -> None:
    assert list(present_samples("x", [1.0, None, 0.0, 2.0])) == [1.0, 0.0, 2.0]
    assert list(present_samples("x", [1.0, None, 0.0, 2.0], drop_zeros=True)) == [1.0, 2.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_present_samples_names_the_channel_and_index_of_a_non_finite_sample(bad: float) -> None:
    with pytest.raises(InvalidInput, match="sample 2") as err:
        present_samples("power_w", [1.0, None, bad, 2.0])
    assert err.value.argument == "power_w"


def test_present_samples_rejects_a_negative_sample_when_asked() -> None:
    assert list(present_samples("altitude_m", [-3.0, 2.0])) == [-3.0, 2.0]
    with pytest.raises(InvalidInput, match="sample 1") as err:
        present_samples("power_w", [5.0, -1.0], non_negative=True)
    assert err.value.argument == "power_w"


@pytest.mark.parametrize("time_s", [[0.0, 1.0, 1.0], [0.0, 2.0, 1.0], [0.0, math.nan, 2.0]])
def test_time_must_be_finite_and_strictly_increasing(time_s: list[float]) -> None:
    with pytest.raises(InvalidInput) as err:
        check_time(time_s)
    assert err.value.argument == "time_s"


# --- resampling ---------------------------------------------------------------------------------


def test_resampling_a_clean_1hz_stream_returns_it_unchanged() -> None:
    s = Streams(time_s=[10.0, 11.0, 12.0], hr_bpm=[100.0, 101.0, 102.0])
    assert resample_1hz(streams=s) is s


def test_resampling_interpolates_a_smart_recording_gap_linearly() -> None:
    # a 3 s step is far below the 25 s pause threshold: the athlete kept moving
    s = Streams(time_s=[0.0, 3.0, 4.0], hr_bpm=[100.0, 130.0, 131.0], power_w=[200.0, 230.0, None])
    out = resample_1hz(streams=s)
    assert out.time_s == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert out.hr_bpm == pytest.approx([100.0, 110.0, 120.0, 130.0, 131.0])
    assert out.power_w is not None
    assert out.power_w[:4] == pytest.approx([200.0, 210.0, 220.0, 230.0])
    assert out.power_w[4] is None  # a trailing hole has one neighbour only


def test_resampling_puts_fractional_timestamps_on_a_grid_from_the_first_sample() -> None:
    s = Streams(time_s=[0.5, 1.7, 2.9], speed_m_s=[1.0, 2.2, 3.4])
    out = resample_1hz(streams=s)
    assert out.time_s == pytest.approx([0.5, 1.5, 2.5])
    # speed rises 1 m/s per second, so the grid values are 1.0, 2.0, 3.0
    assert out.speed_m_s == pytest.approx([1.0, 2.0, 3.0])


def test_resampling_keeps_a_pause_as_a_jump_in_time_without_inventing_samples() -> None:
    s = Streams(time_s=[0.0, 1.0, 2.0, 100.0, 101.0], hr_bpm=[100.0, 101.0, 102.0, 90.0, 91.0])
    assert resample_1hz(streams=s) is s
    assert find_pauses(time_s=s.time_s) == [Pause(start_s=2.0, end_s=100.0)]


def test_resampling_restarts_the_grid_after_a_pause() -> None:
    s = Streams(time_s=[0.0, 2.0, 40.5, 42.5], power_w=[100.0, 120.0, 200.0, 220.0])
    out = resample_1hz(streams=s)
    assert out.time_s == pytest.approx([0.0, 1.0, 2.0, 40.5, 41.5, 42.5])
    assert out.power_w == pytest.approx([100.0, 110.0, 120.0, 200.0, 210.0, 220.0])


def test_resampling_fills_short_dropouts_and_leaves_long_ones_missing() -> None:
    short = [None] * DROPOUT_FILL_MAX_S
    long = [None] * (DROPOUT_FILL_MAX_S + 1)
    hr = [100.0, *short, 160.0, *long, 150.0]
    s = Streams(time_s=[float(i) for i in range(len(hr))], hr_bpm=hr)
    out = resample_1hz(streams=s)
    assert out.hr_bpm is not None
    filled = out.hr_bpm[: DROPOUT_FILL_MAX_S + 2]
    assert filled == pytest.approx([100.0 + 10.0 * k for k in range(DROPOUT_FILL_MAX_S + 2)])
    assert out.hr_bpm[DROPOUT_FILL_MAX_S + 2 : -1] == long


def test_resampling_never_fills_a_dropout_across_a_pause() -> None:
    s = Streams(time_s=[0.0, 1.0, 2.0, 60.0, 61.0], hr_bpm=[100.0, 101.0, None, None, 120.0])
    out = resample_1hz(streams=s)
    assert out.hr_bpm == [100.0, 101.0, None, None, 120.0]


def test_resampling_names_a_channel_with_nan() -> None:
    s = Streams(time_s=[0.0, 1.0], cadence_rpm=[90.0, math.nan])
    with pytest.raises(InvalidInput) as err:
        resample_1hz(streams=s)
    assert err.value.argument == "cadence_rpm"


def test_resampling_rejects_a_pause_threshold_below_one_second() -> None:
    with pytest.raises(InvalidInput) as err:
        resample_1hz(streams=Streams(time_s=[0.0, 1.0]), max_gap_s=0.5)
    assert err.value.argument == "max_gap_s"


one_hz_channel = st.floats(min_value=0.0, max_value=2000.0, allow_nan=False)


@st.composite
def one_hz_streams(draw: st.DrawFn) -> Streams:
    """1 Hz streams with no missing sample, possibly with pauses longer than PAUSE_GAP_S."""
    n = draw(st.integers(min_value=0, max_value=60))
    start = draw(st.floats(min_value=-1e5, max_value=1e5, allow_nan=False))
    t = start
    times: list[float] = []
    for _ in range(n):
        times.append(t)
        paused = draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())
        t += draw(st.integers(min_value=26, max_value=5000)) if paused else 1
    hr = list[float | None](draw(st.lists(one_hz_channel, min_size=n, max_size=n)))
    power = draw(st.none() | st.lists(one_hz_channel, min_size=n, max_size=n))
    return Streams(
        time_s=times, hr_bpm=hr, power_w=None if power is None else list[float | None](power)
    )


@given(one_hz_streams())
@settings(deadline=None)
def test_resampling_a_1hz_stream_is_the_identity(s: Streams) -> None:
    assert resample_1hz(streams=s) == s


# --- dropouts ---------------------------------------------------------------------------------


def test_find_dropouts_reports_every_run_of_missing_samples_with_its_length() -> None:
    runs = find_dropouts(values=[None, 1.0, None, None, 2.0, None])
    assert runs == [
        Dropout(start_index=0, end_index=1),
        Dropout(start_index=2, end_index=4),
        Dropout(start_index=5, end_index=6),
    ]
    assert [r.duration_s for r in runs] == [1, 2, 1]


def test_fill_dropouts_with_zero_limit_changes_nothing() -> None:
    assert fill_dropouts(values=[1.0, None, 3.0], max_fill_s=0) == [1.0, None, 3.0]


def test_fill_dropouts_rejects_a_negative_limit() -> None:
    with pytest.raises(InvalidInput) as err:
        fill_dropouts(values=[1.0], max_fill_s=-1)
    assert err.value.argument == "max_fill_s"


# --- pauses, elapsed and moving time ----------------------------------------------------------


def test_find_pauses_only_reports_gaps_longer_than_the_threshold() -> None:
    # steps of 1 s, exactly PAUSE_GAP_S (still interpolated) and PAUSE_GAP_S + 1.5 (a pause)
    t = [0.0, 1.0, 1.0 + PAUSE_GAP_S, 2.5 + 2 * PAUSE_GAP_S]
    pauses = find_pauses(time_s=t)
    assert pauses == [Pause(start_s=1.0 + PAUSE_GAP_S, end_s=2.5 + 2 * PAUSE_GAP_S)]
    assert pauses[0].duration_s == PAUSE_GAP_S + 1.5
    assert len(find_pauses(time_s=t, max_gap_s=1.0)) == 2


def test_elapsed_time_includes_pauses() -> None:
    assert elapsed_time_s(time_s=[5.0, 6.0, 600.0]) == 595.0
    assert elapsed_time_s(time_s=[5.0]) == 0.0


def test_elapsed_time_rejects_a_stream_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidInput) as err:
        elapsed_time_s(time_s=[10.0, 5.0])
    assert err.value.argument == "time_s"


def test_moving_time_leaves_out_standing_still_and_pauses() -> None:
    # 0..10 s riding, 10..15 s standing at a light, pause 15 -> 100 s, 100..110 s riding
    time_s = [float(i) for i in range(16)] + [float(i) for i in range(100, 111)]
    speed: list[float | None] = [*([8.0] * 11), *([0.2] * 5), *([7.0] * 11)]
    s = Streams(time_s=time_s, speed_m_s=speed)
    assert moving_time_s(streams=s) == pytest.approx(10.0 + 10.0)
    assert elapsed_time_s(time_s=time_s) == 110.0


def test_moving_time_counts_pedalling_without_speed_as_moving() -> None:
    # GoldenCheetah "Time Riding": speed > 0 or cadence > 0 (trainer rides)
    s = Streams(
        time_s=[0.0, 1.0, 2.0, 3.0],
        speed_m_s=[0.0, 0.0, 0.0, 0.0],
        cadence_rpm=[0.0, 85.0, 0.0, 90.0],
    )
    assert moving_time_s(streams=s) == 2.0


def test_moving_time_reads_a_missing_speed_sample_as_not_moving() -> None:
    s = Streams(time_s=[0.0, 1.0, 2.0, 3.0], speed_m_s=[5.0, None, 5.0, 5.0])
    assert moving_time_s(streams=s) == 2.0


def test_moving_time_without_movement_channels_counts_all_unpaused_time() -> None:
    s = Streams(time_s=[0.0, 1.0, 2.0, 200.0, 201.0], hr_bpm=[120.0] * 5)
    assert moving_time_s(streams=s) == 3.0


def test_moving_time_treats_the_speed_threshold_as_inclusive() -> None:
    s = Streams(time_s=[0.0, 1.0, 2.0], speed_m_s=[0.0, MOVING_SPEED_MIN_M_S, 0.49])
    assert moving_time_s(streams=s) == 1.0


@st.composite
def irregular_streams(draw: st.DrawFn) -> Streams:
    n = draw(st.integers(min_value=0, max_value=50))
    steps = draw(st.lists(st.floats(min_value=0.01, max_value=200.0), min_size=n, max_size=n))
    times = [0.0]
    for step in steps[:-1] if n else []:
        times.append(times[-1] + step)
    times = times[:n]
    speed = draw(
        st.lists(st.none() | st.floats(min_value=0.0, max_value=30.0), min_size=n, max_size=n)
    )
    return Streams(time_s=times, speed_m_s=speed)


@given(irregular_streams())
@settings(deadline=None)
def test_moving_time_never_exceeds_elapsed_time(s: Streams) -> None:
    moving = moving_time_s(streams=s)
    assert 0.0 <= moving <= elapsed_time_s(time_s=s.time_s) + 1e-9


# --- elevation ----------------------------------------------------------------------------------


def test_elevation_noise_inside_the_hysteresis_band_counts_nothing() -> None:
    flat = [100.0 + (1.5 if i % 2 else -1.5) for i in range(200)]
    assert elevation_gain_loss(altitude_m=flat) == ElevationChange(gain_m=0.0, loss_m=0.0)


def test_elevation_counts_a_steady_climb_and_descent_in_full() -> None:
    # 1 m per sample: the reference moves in 4 m steps (> 3 m), reaching 100 m exactly
    profile = [float(a) for a in range(101)] + [float(a) for a in range(99, -1, -1)]
    change = elevation_gain_loss(altitude_m=profile)
    assert change == ElevationChange(gain_m=100.0, loss_m=100.0)


def test_elevation_skips_missing_samples_and_returns_none_without_altitude() -> None:
    assert elevation_gain_loss(altitude_m=None) is None
    assert elevation_gain_loss(altitude_m=[None, None]) is None
    change = elevation_gain_loss(altitude_m=[0.0, None, 10.0, None, 2.0])
    assert change == ElevationChange(gain_m=10.0, loss_m=8.0)


def test_elevation_hysteresis_is_configurable() -> None:
    assert ELEVATION_HYSTERESIS_M == 3.0  # GoldenCheetah's default
    profile = [0.0, 2.0, 0.0, 2.0]
    assert elevation_gain_loss(altitude_m=profile) == ElevationChange(gain_m=0.0, loss_m=0.0)
    change = elevation_gain_loss(altitude_m=profile, hysteresis_m=1.0)
    assert change == ElevationChange(gain_m=4.0, loss_m=2.0)


def test_elevation_rejects_nan_and_a_negative_band() -> None:
    with pytest.raises(InvalidInput) as err:
        elevation_gain_loss(altitude_m=[1.0, math.nan])
    assert err.value.argument == "altitude_m"
    with pytest.raises(InvalidInput) as err:
        elevation_gain_loss(altitude_m=[1.0], hysteresis_m=-1.0)
    assert err.value.argument == "hysteresis_m"
