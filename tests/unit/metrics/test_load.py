"""Daily load: PMC (CTL/ATL/TSB), ramp rate, ACWR and Foster monotony/strain."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.load import (
    PmcDay,
    TsbConvention,
    acwr_ewma,
    acwr_ewma_series,
    acwr_rolling,
    acwr_rolling_series,
    monotony,
    pmc,
    ramp_rate,
    ramp_rates,
    strain,
)

# Metrics reference §3.1: a = 1 - exp(-1/N) is 0.023528 for N = 42 and 0.133122 for N = 7.
A42 = 0.023528313347756735
A7 = 0.1331221002498184


def test_pmc_smoothing_constants_are_one_minus_exp_minus_one_over_n() -> None:
    day = pmc(daily_loads=[1000.0])[0]
    assert day.ctl == pytest.approx(23.528, abs=0.001)
    assert day.atl == pytest.approx(133.122, abs=0.001)


def test_pmc_hand_computed_first_days() -> None:
    # Loads 100, 0, 50 from zero:
    #   CTL: 100 a42 = 2.352831; x (1 - a42) = 2.297473; + a42 (50 - 2.297473) = 3.419833
    #   ATL: 100 a7 = 13.312210; x (1 - a7) = 11.540061; + a7 (50 - 11.540061) = 16.659929
    days = pmc(daily_loads=[100.0, 0.0, 50.0])
    assert [d.ctl for d in days] == pytest.approx([2.352831, 2.297473, 3.419833], abs=1e-6)
    assert [d.atl for d in days] == pytest.approx([13.312210, 11.540061, 16.659929], abs=1e-6)
    # TSB is yesterday's CTL - ATL: 0 before any training, then -10.959379, then -9.242587.
    assert [d.tsb for d in days] == pytest.approx([0.0, -10.959379, -9.242587], abs=1e-6)
    assert [d.load for d in days] == [100.0, 0.0, 50.0]


def test_same_day_tsb_uses_todays_ctl_and_atl() -> None:
    days = pmc(daily_loads=[100.0, 0.0, 50.0], tsb_convention=TsbConvention.SAME_DAY)
    assert [d.tsb for d in days] == pytest.approx([-10.959379, -9.242587, -13.240095], abs=1e-6)


def test_previous_day_tsb_starts_from_the_seed() -> None:
    # Seeded CTL 60 / ATL 40 and a rest day: CTL 60 e^(-1/42), ATL 40 e^(-1/7), TSB 60 - 40.
    (day,) = pmc(daily_loads=[0.0], initial_ctl=60, initial_atl=40)
    assert day == PmcDay(
        load=0.0,
        ctl=pytest.approx(60 * math.exp(-1 / 42)),  # type: ignore[arg-type]
        atl=pytest.approx(40 * math.exp(-1 / 7)),  # type: ignore[arg-type]
        tsb=20.0,
    )


def test_pmc_of_no_days_is_empty() -> None:
    assert pmc(daily_loads=[]) == []


def test_pmc_time_constants_are_configurable() -> None:
    (day,) = pmc(daily_loads=[100.0], ctl_days=28, atl_days=5)
    assert day.ctl == pytest.approx(100 * (1 - math.exp(-1 / 28)))
    assert day.atl == pytest.approx(100 * (1 - math.exp(-1 / 5)))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"daily_loads": [10.0, -1.0]}, "daily_loads"),
        ({"daily_loads": [10.0, math.nan]}, "daily_loads"),
        ({"daily_loads": [math.inf]}, "daily_loads"),
        ({"daily_loads": [10.0], "initial_ctl": -5}, "initial_ctl"),
        ({"daily_loads": [10.0], "initial_atl": math.nan}, "initial_atl"),
        ({"daily_loads": [10.0], "ctl_days": 0}, "ctl_days"),
        ({"daily_loads": [10.0], "atl_days": -7}, "atl_days"),
    ],
)
def test_pmc_rejects_impossible_input(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(InvalidInput) as err:
        pmc(**kwargs)  # type: ignore[arg-type]
    assert err.value.argument == argument


def test_ramp_rate_is_the_ctl_change_over_seven_days() -> None:
    ctl = [float(v) for v in range(10, 24)]  # +1 per day for 14 days
    assert ramp_rates(ctl=ctl, initial_ctl=5.0) == [
        5.0,  # day 0: 10 - initial 5
        6.0,
        7.0,
        8.0,
        9.0,
        10.0,
        11.0,  # day 6: 16 - 5
        7.0,  # day 7: 17 - 10 (day 0)
        7.0,
        7.0,
        7.0,
        7.0,
        7.0,
        7.0,
    ]
    assert ramp_rate(ctl=ctl, initial_ctl=5.0) == 7.0
    assert ramp_rate(ctl=ctl[:3], initial_ctl=5.0) == 7.0  # 12 - 5
    assert ramp_rate(ctl=[]) is None


def test_ramp_rate_of_a_pmc_series() -> None:
    days = pmc(daily_loads=[80.0] * 10)
    ctl = [d.ctl for d in days]
    assert ramp_rate(ctl=ctl) == pytest.approx(ctl[9] - ctl[2])


def test_rolling_acwr_is_the_acute_week_over_the_average_chronic_week() -> None:
    # 21 days at 10 then 7 days at 20: acute = 140, chronic week = (210 + 140) / 4 = 87.5.
    loads = [10.0] * 21 + [20.0] * 7
    series = acwr_rolling_series(daily_loads=loads)
    assert series[:27] == [None] * 27
    assert series[27] == pytest.approx(140 / 87.5)
    assert acwr_rolling(daily_loads=loads) == pytest.approx(1.6)
    # One more day at 0: acute = six 20s = 120; chronic = (20 x 10 + 7 x 20 + 0) / 4 = 85.
    assert acwr_rolling(daily_loads=[*loads, 0.0]) == pytest.approx(120 / 85)


def test_acwr_needs_28_days_and_a_non_zero_chronic_load() -> None:
    assert acwr_rolling(daily_loads=[50.0] * 27) is None
    assert acwr_rolling(daily_loads=[0.0] * 40) is None
    assert acwr_ewma(daily_loads=[50.0] * 27) is None
    assert acwr_ewma(daily_loads=[0.0] * 40) is None
    assert acwr_ewma(daily_loads=[]) is None


def test_ewma_acwr_follows_williams_2017() -> None:
    # Williams et al. (2017): l = 2/(N+1), so 0.25 (N=7) and 2/29 (N=28). From 0, a constant
    # load L gives E_d = L (1 - (1 - l)^(d+1)); on day 27 the ratio is
    # (1 - 0.75^28) / (1 - (27/29)^28).
    series = acwr_ewma_series(daily_loads=[100.0] * 30)
    assert series[:27] == [None] * 27
    assert series[27] == pytest.approx((1 - 0.75**28) / (1 - (27 / 29) ** 28), rel=1e-12)
    # By hand: 0.75^28 = 0.000317, (27/29)^28 = 0.135220 -> 0.999683 / 0.864780 = 1.15600.
    assert series[27] == pytest.approx(1.15600, abs=1e-5)


def test_ewma_acwr_accepts_seeds() -> None:
    # Seeded at steady state (acute = chronic = 100) a constant 100 stays at ratio 1.
    assert acwr_ewma(
        daily_loads=[100.0] * 28, initial_acute=100, initial_chronic=100
    ) == pytest.approx(1.0)


def test_foster_monotony_and_strain_match_runalyze_examples() -> None:
    # Runalyze tests/inc/core/Sports/Performance/MonotonyTest.php (population SD):
    # [0,20,10,10,10,10,10] -> 10 / sqrt(200/7), strain 7*10*10 / sqrt(200/7).
    week = [0.0, 20.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert monotony(daily_loads=week) == pytest.approx(10 / math.sqrt(200 / 7), rel=1e-12)
    assert strain(daily_loads=week) == pytest.approx(700 / math.sqrt(200 / 7), rel=1e-12)
    # [5,15,20,20,20,25,35] -> about 20 / 8.45 and 7*20*20 / 8.45.
    week = [5.0, 15.0, 20.0, 20.0, 20.0, 25.0, 35.0]
    assert monotony(daily_loads=week) == pytest.approx(20 / 8.45, abs=0.01)
    assert strain(daily_loads=week) == pytest.approx(2800 / 8.45, abs=0.5)


def test_foster_monotony_uses_the_population_not_the_sample_sd() -> None:
    week = [5.0, 15.0, 20.0, 20.0, 20.0, 25.0, 35.0]  # squared deviations sum to 500
    assert monotony(daily_loads=week) == pytest.approx(20 / math.sqrt(500 / 7))
    assert monotony(daily_loads=week) != pytest.approx(20 / math.sqrt(500 / 6))


@pytest.mark.parametrize(
    "week",
    [
        [],  # an empty week
        [50.0] * 7,  # zero variance
        [0.0] * 7,  # a full rest week: zero variance too
        [10.0, 20.0, 30.0],  # not 7 days
        [10.0] * 8,
        [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, -1.0],
        [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, math.nan],
    ],
)
def test_monotony_and_strain_reject_weeks_without_a_defined_value(week: list[float]) -> None:
    for metric in (monotony, strain):
        with pytest.raises(InvalidInput) as err:
            metric(daily_loads=week)
        assert err.value.argument == "daily_loads"


@given(st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_any_week_of_identical_loads_is_refused_not_a_huge_monotony(load: float) -> None:
    # 82.7187... once gave ~5.8e15: fsum(x)/7 does not always round back to x.
    for metric in (monotony, strain):
        with pytest.raises(InvalidInput):
            metric(daily_loads=[load] * 7)


def test_acwr_rolling_validates_days_older_than_its_window() -> None:
    loads = [math.nan] + [50.0] * 40
    with pytest.raises(InvalidInput) as err:
        acwr_rolling(daily_loads=loads)
    assert err.value.argument == "daily_loads"


block_load = st.floats(min_value=0, max_value=500)


@given(
    st.lists(block_load, min_size=1, max_size=200),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
)
def test_ctl_and_atl_stay_within_the_loads_when_starting_inside_them(
    loads: list[float], ctl_at: float, atl_at: float
) -> None:
    low, high = min(loads), max(loads)
    days = pmc(
        daily_loads=loads,
        initial_ctl=low + ctl_at * (high - low),
        initial_atl=low + atl_at * (high - low),
    )
    for day in days:
        assert low - 1e-9 <= day.ctl <= high + 1e-9
        assert low - 1e-9 <= day.atl <= high + 1e-9


@given(
    st.floats(min_value=0, max_value=200),
    st.floats(min_value=1, max_value=300),
    st.integers(min_value=1, max_value=120),
)
def test_atl_responds_faster_than_ctl(start: float, step: float, days: int) -> None:
    # From a steady state, a step up in load lifts ATL above CTL; a step down drops it below.
    up = pmc(daily_loads=[start + step] * days, initial_ctl=start, initial_atl=start)
    assert all(d.atl > d.ctl for d in up)
    down = pmc(daily_loads=[0.0] * days, initial_ctl=start + step, initial_atl=start + step)
    assert all(d.atl < d.ctl for d in down)


@given(st.lists(block_load, min_size=28, max_size=120))
def test_rolling_acwr_equals_the_ratio_of_means(loads: list[float]) -> None:
    ratio = acwr_rolling(daily_loads=loads)
    acute_mean = sum(loads[-7:]) / 7
    chronic_mean = sum(loads[-28:]) / 28
    if chronic_mean == 0:
        assert ratio is None
    else:
        assert ratio == pytest.approx(acute_mean / chronic_mean, rel=1e-9, abs=1e-12)
