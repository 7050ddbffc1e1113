"""Heart-rate loads: Banister, Edwards and Lucia TRIMP, session RPE, HRSS (= hrTSS)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.metrics.heart_rate import (
    BANISTER_FEMALE,
    BANISTER_MALE,
    BANISTER_UNSPECIFIED,
    HeartRateLoad,
    Sex,
    VentilatoryThresholds,
    average_hr_bpm,
    banister_coefficients,
    banister_trimp,
    banister_trimp_stream,
    edwards_trimp,
    edwards_trimp_stream,
    heart_rate_load,
    hrss,
    hrss_stream,
    hrtss,
    hrtss_stream,
    lucia_thresholds_from_lthr,
    lucia_trimp,
    lucia_trimp_stream,
    session_rpe_load,
)

SEXES: list[Sex | None] = ["male", "female", None]


def minutes_at(hr: float | None, minutes: int) -> list[float | None]:
    return [hr] * (60 * minutes)


# --- Banister -----------------------------------------------------------------------------------


def test_banister_matches_the_fellrnr_worked_example() -> None:
    # fellrnr.com/wiki/TRIMP worked example (also Runalyze CalculatorTest::testReferenceExample,
    # which expects 32 within 1 %): male, HRmax 200, HRrest 40, 30 min at an average of 130 bpm.
    # x = 90/160 = 0.5625; 30 * 0.5625 * 0.64 * e^(1.92 * 0.5625) = 31.80
    trimp = banister_trimp(
        duration_s=1800, avg_hr_bpm=130, rest_hr_bpm=40, max_hr_bpm=200, sex="male"
    )
    assert trimp == pytest.approx(30 * 0.5625 * 0.64 * math.exp(1.92 * 0.5625), rel=1e-12)
    assert trimp == pytest.approx(32, rel=0.01)


def test_banister_uses_the_female_and_the_unspecified_coefficients() -> None:
    # ARCHITECTURE.md 7a: female 0.86 * e^(1.67 x); unknown/other: midpoint 0.75 * e^(1.795 x)
    x = 0.5625
    args: dict[str, Any] = {
        "duration_s": 1800,
        "avg_hr_bpm": 130,
        "rest_hr_bpm": 40,
        "max_hr_bpm": 200,
    }
    assert banister_trimp(**args, sex="female") == pytest.approx(30 * x * 0.86 * math.exp(1.67 * x))
    assert banister_trimp(**args, sex=None) == pytest.approx(30 * x * 0.75 * math.exp(1.795 * x))


def test_banister_coefficients_follow_the_decided_values() -> None:
    assert banister_coefficients(sex="male") == BANISTER_MALE
    assert (BANISTER_MALE.a, BANISTER_MALE.b) == (0.64, 1.92)
    assert (BANISTER_FEMALE.a, BANISTER_FEMALE.b) == (0.86, 1.67)
    assert banister_coefficients(sex=None) == BANISTER_UNSPECIFIED
    assert BANISTER_UNSPECIFIED.b == pytest.approx((1.92 + 1.67) / 2)


def test_banister_rejects_an_unknown_sex_label() -> None:
    with pytest.raises(InvalidInput) as err:
        banister_coefficients(sex="other")  # type: ignore[arg-type]
    assert err.value.argument == "sex"


def test_banister_clamps_the_reserve_fraction_to_zero_and_one() -> None:
    common: dict[str, Any] = {"duration_s": 3600, "rest_hr_bpm": 50, "max_hr_bpm": 190}
    below_rest = banister_trimp(**common, avg_hr_bpm=45, sex="male")
    above_max = banister_trimp(**common, avg_hr_bpm=200, sex="male")
    at_max = banister_trimp(**common, avg_hr_bpm=190, sex="male")
    assert below_rest == 0.0
    assert above_max == at_max == pytest.approx(60 * 0.64 * math.exp(1.92))


def test_banister_of_zero_duration_is_zero() -> None:
    assert (
        banister_trimp(duration_s=0, avg_hr_bpm=150, rest_hr_bpm=50, max_hr_bpm=190, sex=None) == 0
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration_s", -1.0),
        ("duration_s", math.nan),
        ("avg_hr_bpm", math.nan),
        ("avg_hr_bpm", 0.0),
        ("rest_hr_bpm", math.inf),
        ("max_hr_bpm", 50.0),  # == rest
        ("max_hr_bpm", 40.0),  # < rest
    ],
)
def test_banister_rejects_impossible_input_naming_the_argument(field: str, value: float) -> None:
    args: dict[str, Any] = {
        "duration_s": 600.0,
        "avg_hr_bpm": 140.0,
        "rest_hr_bpm": 50.0,
        "max_hr_bpm": 190.0,
        "sex": "male",
    }
    args[field] = value
    with pytest.raises(InvalidInput) as err:
        banister_trimp(**args)
    assert err.value.argument == field


def test_stream_banister_of_a_steady_session_equals_the_summary_form() -> None:
    stream = banister_trimp_stream(
        hr_bpm=minutes_at(150.0, 30), rest_hr_bpm=50, max_hr_bpm=190, sex="female"
    )
    summary = banister_trimp(
        duration_s=1800, avg_hr_bpm=150, rest_hr_bpm=50, max_hr_bpm=190, sex="female"
    )
    assert stream == pytest.approx(summary, rel=1e-12)


def test_stream_banister_skips_missing_and_zero_readings() -> None:
    hr = [*minutes_at(150.0, 10), *minutes_at(None, 5), *minutes_at(0.0, 5)]
    with_gaps = banister_trimp_stream(hr_bpm=hr, rest_hr_bpm=50, max_hr_bpm=190, sex="male")
    clean = banister_trimp_stream(
        hr_bpm=minutes_at(150.0, 10), rest_hr_bpm=50, max_hr_bpm=190, sex="male"
    )
    assert with_gaps == clean


@pytest.mark.parametrize("hr", [None, [], [None, None], [0.0, 0.0, None]])
def test_stream_forms_return_none_without_heart_rate_data(hr: list[float | None] | None) -> None:
    assert banister_trimp_stream(hr_bpm=hr, rest_hr_bpm=50, max_hr_bpm=190, sex="male") is None
    assert edwards_trimp_stream(hr_bpm=hr, max_hr_bpm=190) is None
    assert (
        lucia_trimp_stream(hr_bpm=hr, thresholds=lucia_thresholds_from_lthr(lthr_bpm=170)) is None
    )
    assert hrss_stream(hr_bpm=hr, rest_hr_bpm=50, max_hr_bpm=190, lthr_bpm=170, sex=None) is None
    assert heart_rate_load(hr_bpm=hr, rest_hr_bpm=50, max_hr_bpm=190, sex=None) is None
    assert average_hr_bpm(hr_bpm=hr) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -120.0])
def test_stream_forms_name_hr_bpm_for_an_impossible_reading(bad: float) -> None:
    hr: list[float | None] = [140.0, None, bad]
    with pytest.raises(InvalidInput) as err:
        banister_trimp_stream(hr_bpm=hr, rest_hr_bpm=50, max_hr_bpm=190, sex="male")
    assert err.value.argument == "hr_bpm"
    with pytest.raises(InvalidInput) as err:
        average_hr_bpm(hr_bpm=hr)
    assert err.value.argument == "hr_bpm"


hr_samples = st.lists(
    st.none() | st.floats(min_value=1.0, max_value=190.0, allow_nan=False), min_size=1, max_size=300
)


@given(hr=hr_samples, sex=st.sampled_from(SEXES))
@settings(deadline=None)
def test_stream_trimp_is_at_least_the_summary_trimp_of_the_same_samples(
    hr: list[float | None], sex: Sex | None
) -> None:
    # Jensen: the weighting x * e^(b x), with x clamped at 0 below, is convex and increasing,
    # so the mean of the weights is >= the weight of the mean (all readings <= HRmax here).
    present = [h for h in hr if h is not None]
    assume(present)
    stream = banister_trimp_stream(hr_bpm=hr, rest_hr_bpm=45, max_hr_bpm=190, sex=sex)
    summary = banister_trimp(
        duration_s=len(present),
        avg_hr_bpm=math.fsum(present) / len(present),
        rest_hr_bpm=45,
        max_hr_bpm=190,
        sex=sex,
    )
    assert stream is not None
    assert stream >= summary * (1 - 1e-9) - 1e-12


def test_average_hr_ignores_missing_and_zero_readings() -> None:
    assert average_hr_bpm(hr_bpm=[120.0, None, 0.0, 140.0]) == 130.0


# --- Edwards ------------------------------------------------------------------------------------


def test_edwards_from_zone_minutes_weights_each_zone_by_its_number() -> None:
    # Edwards (1993): sum of zone number * minutes in zone
    assert edwards_trimp(zone_minutes=[10, 20, 30, 20, 10]) == 10 + 40 + 90 + 80 + 50


def test_edwards_needs_five_non_negative_zone_values() -> None:
    with pytest.raises(InvalidInput) as err:
        edwards_trimp(zone_minutes=[1, 2, 3])
    assert err.value.argument == "zone_minutes"
    with pytest.raises(InvalidInput) as err:
        edwards_trimp(zone_minutes=[1, 2, -3, 4, 5])
    assert err.value.argument == "zone_minutes[2]"


@pytest.mark.parametrize(
    ("hr", "zone"),
    [
        (99.0, 0),  # 49.5 % of 200: below zone 1
        (100.0, 1),  # exactly 50 %: lower bound belongs to zone 1
        (119.0, 1),
        (120.0, 2),  # exactly 60 %: zone 2 (half-open zones, ARCHITECTURE.md 7a)
        (140.0, 3),
        (160.0, 4),
        (179.0, 4),
        (180.0, 5),
        (200.0, 5),
        (210.0, 5),  # above HRmax stays in zone 5
    ],
)
def test_edwards_stream_places_readings_in_half_open_percent_max_zones(
    hr: float, zone: int
) -> None:
    assert edwards_trimp_stream(hr_bpm=minutes_at(hr, 1), max_hr_bpm=200) == zone


def test_edwards_stream_matches_zone_minutes() -> None:
    hr = [*minutes_at(110.0, 10), *minutes_at(150.0, 20), *minutes_at(185.0, 5)]
    assert edwards_trimp_stream(hr_bpm=hr, max_hr_bpm=200) == edwards_trimp(
        zone_minutes=[10, 0, 20, 0, 5]
    )


# --- Lucia --------------------------------------------------------------------------------------


def test_lucia_defaults_from_lthr_follow_friel() -> None:
    # VT2 ~ LTHR; VT1 ~ aerobic threshold, "about 80% of lactate threshold" (Friel 2014)
    assert lucia_thresholds_from_lthr(lthr_bpm=170) == VentilatoryThresholds(
        vt1_hr_bpm=136.0, vt2_hr_bpm=170.0
    )


def test_lucia_weights_three_zones_and_puts_a_threshold_reading_in_the_upper_zone() -> None:
    thresholds = VentilatoryThresholds(vt1_hr_bpm=140, vt2_hr_bpm=170)
    hr = [*minutes_at(139.0, 10), *minutes_at(140.0, 10), *minutes_at(170.0, 10)]
    # Lucia et al. (2003): 1 x min below VT1 + 2 x min between + 3 x min above VT2
    assert lucia_trimp_stream(hr_bpm=hr, thresholds=thresholds) == 10 + 20 + 30
    assert lucia_trimp(zone_minutes=[10, 10, 10]) == 60


def test_lucia_thresholds_must_be_ordered() -> None:
    with pytest.raises(InvalidInput) as err:
        VentilatoryThresholds(vt1_hr_bpm=170, vt2_hr_bpm=160)
    assert err.value.argument == "vt2_hr_bpm"


# --- session RPE ----------------------------------------------------------------------------------


def test_session_rpe_is_rpe_times_minutes() -> None:
    # Foster et al. (2001): load = CR-10 RPE x session minutes; RPE 7 for 60 min = 420 AU
    assert session_rpe_load(rpe=7, duration_s=3600) == 420.0


@pytest.mark.parametrize(("field", "value"), [("rpe", 11.0), ("rpe", -1.0), ("duration_s", -5.0)])
def test_session_rpe_rejects_values_off_the_scale(field: str, value: float) -> None:
    args: dict[str, Any] = {"rpe": 5.0, "duration_s": 60.0}
    args[field] = value
    with pytest.raises(InvalidInput) as err:
        session_rpe_load(**args)
    assert err.value.argument == field


# --- HRSS / hrTSS -------------------------------------------------------------------------------


@pytest.mark.parametrize("sex", SEXES)
def test_one_hour_at_lthr_scores_100(sex: Sex | None) -> None:
    # HRSS definition (Elevate computeHeartRateStressScore, GoldenCheetah TRIMP(100)):
    # normalised so that an hour at LTHR = 100
    common: dict[str, Any] = {"rest_hr_bpm": 50, "max_hr_bpm": 190, "lthr_bpm": 168, "sex": sex}
    assert hrss(duration_s=3600, avg_hr_bpm=168, **common) == pytest.approx(100.0)
    assert hrss_stream(hr_bpm=minutes_at(168.0, 60), **common) == pytest.approx(100.0)


def test_half_an_hour_at_lthr_scores_50_and_hrtss_is_hrss() -> None:
    common: dict[str, Any] = {"rest_hr_bpm": 50, "max_hr_bpm": 190, "lthr_bpm": 168, "sex": "male"}
    assert hrss(duration_s=1800, avg_hr_bpm=168, **common) == pytest.approx(50.0)
    assert hrtss is hrss
    assert hrtss_stream is hrss_stream


@pytest.mark.parametrize("lthr", [50.0, 40.0, 191.0, math.nan])
def test_hrss_rejects_an_lthr_outside_rest_to_max(lthr: float) -> None:
    with pytest.raises(InvalidInput) as err:
        hrss(
            duration_s=600,
            avg_hr_bpm=150,
            rest_hr_bpm=50,
            max_hr_bpm=190,
            lthr_bpm=lthr,
            sex="male",
        )
    assert err.value.argument == "lthr_bpm"


# --- all at once ----------------------------------------------------------------------------------


def test_heart_rate_load_equals_the_single_metrics() -> None:
    hr: list[float | None] = [
        *minutes_at(118.0, 15),
        *minutes_at(None, 1),
        *minutes_at(152.0, 20),
        *minutes_at(176.0, 8),
    ]
    common: dict[str, Any] = {"rest_hr_bpm": 48, "max_hr_bpm": 188, "sex": "female"}
    load = heart_rate_load(hr_bpm=hr, lthr_bpm=170, **common)
    assert isinstance(load, HeartRateLoad)
    assert load.duration_s == 43 * 60
    assert load.avg_hr_bpm == pytest.approx(average_hr_bpm(hr_bpm=hr))
    assert load.banister_trimp == pytest.approx(banister_trimp_stream(hr_bpm=hr, **common))
    assert load.hrss == pytest.approx(hrss_stream(hr_bpm=hr, lthr_bpm=170, **common))
    assert load.edwards_trimp == pytest.approx(edwards_trimp_stream(hr_bpm=hr, max_hr_bpm=188))
    thresholds = lucia_thresholds_from_lthr(lthr_bpm=170)
    assert load.lucia_trimp == pytest.approx(lucia_trimp_stream(hr_bpm=hr, thresholds=thresholds))


def test_heart_rate_load_without_lthr_leaves_hrss_and_lucia_empty() -> None:
    load = heart_rate_load(hr_bpm=minutes_at(150.0, 5), rest_hr_bpm=50, max_hr_bpm=190, sex=None)
    assert load is not None
    assert load.hrss is None
    assert load.lucia_trimp is None
    assert load.banister_trimp > 0
